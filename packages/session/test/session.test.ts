import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BasicAuth, BearerAuth, DigestAuth } from "@x/auth";
import { TCPConnector } from "@x/connector";
import {
  type AbstractCookieJar,
  CookieJar,
  type CookieRecord,
  DummyCookieJar,
  parseSetCookie,
} from "@x/cookies";
import {
  ClientConnectorError,
  ClientResponseError,
  InvalidArgumentError,
  InvalidUrlClientError,
  NonHttpUrlClientError,
} from "@x/errors";
import {
  closedPort,
  type EchoReply,
  echo,
  echoHeader,
  startDigestServer,
  startHttpServer,
  startHttpsServer,
} from "@x/fixtures";
import { Agent, MockAgent } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { ClientSession, request } from "../src/index.js";

const json = async (r: { json(): Promise<unknown> }) => (await r.json()) as EchoReply;
const dir = mkdtempSync(join(tmpdir(), "x-session-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("lifecycle", () => {
  it("owns and closes its connector by default", async () => {
    await using srv = await startHttpServer(echo);
    const session = new ClientSession();
    await (await session.get(srv.url())).read();
    expect(srv.stats.open).toBe(1);
    await session.close();
    expect(session.closed).toBe(true);
    expect((session.connector as TCPConnector).closed).toBe(true);
    await srv.stats.idle();
    await session.close();
  });

  it("shares a connector with connectorOwner: false, and detach() leaves it open", async () => {
    await using srv = await startHttpServer(echo);
    await using connector = new TCPConnector();
    const a = new ClientSession({ connector, connectorOwner: false });
    const b = new ClientSession({ connector, connectorOwner: false });
    await (await a.get(srv.url())).read();
    await (await b.get(srv.url())).read();
    expect(srv.stats.accepted).toBe(1);
    await a.close();
    b.detach();
    expect(b.closed).toBe(true);
    expect(connector.closed).toBe(false);
    expect(a.connectorOwner).toBe(false);
  });

  it("await using closes it", async () => {
    let s: ClientSession | undefined;
    {
      await using session = new ClientSession();
      s = session;
    }
    expect(s.closed).toBe(true);
  });

  it("warns once about a session that was never closed", () => {
    const script = `
      import { ClientSession } from ${JSON.stringify(new URL("../src/index.ts", import.meta.url).pathname)};
      process.on("warning", (w) => console.log("WARN", w.name, w.code, w.message));
      (() => { new ClientSession(); new ClientSession().close(); })();
      for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
    `;
    const out = spawnSync(
      process.execPath,
      ["--expose-gc", "--import", "tsx", "--conditions=@x/source", "--input-type=module", "-e", script],
      {
        encoding: "utf8",
        cwd: new URL("..", import.meta.url).pathname,
      },
    );
    const warnings = out.stdout.split("\n").filter((l) => l.startsWith("WARN"));
    expect(warnings).toEqual(["WARN ResourceWarning X_UNCLOSED_SESSION Unclosed client session"]);
  });

  it("reports its settings", async () => {
    await using session = new ClientSession({
      headers: { "X-A": "1" },
      timeout: { total: 1000 },
      baseUrl: "http://h.test/api/",
    });
    expect([...session.headers]).toEqual([["x-a", "1"]]);
    expect(session.timeout.total).toBe(1000);
    expect(session.baseUrl?.href).toBe("http://h.test/api/");
    expect(session.cookieJar).toBeInstanceOf(CookieJar);
    expect(session.connector).toBeInstanceOf(TCPConnector);
  });

  it("refuses bad options", () => {
    expect(() => new ClientSession({ connector: {} as never })).toThrow(InvalidArgumentError);
    expect(() => new ClientSession({ headers: 5 as never })).toThrow(InvalidArgumentError);
    expect(() => new ClientSession({ headers: 5 as never })).toThrow("headers must be an object");
    expect(() => new ClientSession({ auth: "user:pw" as never })).toThrow(InvalidArgumentError);
    expect(() => new ClientSession({ cookieJar: {} as never })).toThrow(InvalidArgumentError);
    expect(() => new ClientSession({ readBufsize: 0 })).toThrow(InvalidArgumentError);
    expect(() => new ClientSession({ raiseForStatus: "yes" as never })).toThrow(InvalidArgumentError);
  });
});

describe("baseUrl", () => {
  it("joins per RFC 3986", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession({ baseUrl: srv.url("/api/v1/") });
    expect((await json(await session.get("users"))).url).toBe("/api/v1/users");
    expect((await json(await session.get("users/7?x=1"))).url).toBe("/api/v1/users/7?x=1");
    expect((await json(await session.get("/root"))).url).toBe("/root");
    expect((await json(await session.get("../v2/up"))).url).toBe("/api/v2/up");
    expect((await json(await session.get(""))).url).toBe("/api/v1/");
    expect((await json(await session.get(srv.url("/absolute")))).url).toBe("/absolute");
  });

  it("must end with a slash and be absolute http(s)", () => {
    const refused = (baseUrl: string) => {
      try {
        new ClientSession({ baseUrl });
      } catch (err) {
        return err as Error & { description?: string };
      }
      throw new Error(`${baseUrl} was taken`);
    };
    expect(refused("http://h.test/api")).toEqual(
      new InvalidArgumentError('baseUrl must end with "/" (got http://h.test/api)'),
    );
    expect(refused("/relative/")).toBeInstanceOf(InvalidUrlClientError);
    expect(refused("/relative/").description).toBe("baseUrl must be an absolute URL");
    expect(refused("ftp://h.test/")).toBeInstanceOf(NonHttpUrlClientError);
    expect(refused("ftp://h.test/").description).toBe("baseUrl must be http or https");
    expect(refused("http://h.test/\r\n/").description).toBe("CR, LF and NUL are not allowed in a URL");
    for (const withQuery of ["http://h.test/?q=1", "http://h.test/#top"]) {
      expect(refused(withQuery)).toEqual(
        new InvalidArgumentError("baseUrl must not have a query or fragment"),
      );
    }
  });

  it("may be https: relative requests go to it over TLS", async () => {
    await using srv = await startHttpsServer(echo);
    await using session = new ClientSession({ baseUrl: srv.url("/api/") });
    expect(session.baseUrl?.protocol).toBe("https:");
    const resp = await session.get("users", { ssl: { ca: srv.ca } });
    expect(resp.url.href).toBe(srv.url("/api/users"));
    expect((await resp.json<{ url: string }>()).url).toBe("/api/users");
  });

  it("a protocol-relative URL leaves the base's origin and its credentials behind", async () => {
    await using home = await startHttpServer(echo);
    await using other = await startHttpServer(echo);
    await using session = new ClientSession({
      baseUrl: home.url("/"),
      auth: new BasicAuth("only", "home"),
    });
    const reply = await json(await session.get(`//127.0.0.1:${other.port}/x`));
    expect(reply.url).toBe("/x");
    expect(echoHeader(reply, "authorization")).toBeUndefined();
  });
});

describe("auth", () => {
  it("sends the session's BasicAuth, a request's auth instead, or none with auth: null", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession({ auth: new BasicAuth("s", "1") });
    expect(echoHeader(await json(await session.get(srv.url())), "authorization")).toBe(
      new BasicAuth("s", "1").encode(),
    );
    expect(
      echoHeader(await json(await session.get(srv.url(), { auth: new BearerAuth("tok") })), "authorization"),
    ).toBe("Bearer tok");
    expect(echoHeader(await json(await session.get(srv.url(), { auth: null })), "authorization")).toBe(
      new BasicAuth("s", "1").encode(),
    );
  });

  it("turns URL credentials into Basic auth and strips them from the URL", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/p").replace("http://", "http://us%40er:p%3Ass@"));
    expect(echoHeader(await json(resp), "authorization")).toBe(new BasicAuth("us@er", "p:ss").encode());
    expect(resp.url.username).toBe("");
    expect(resp.requestInfo.url.href).toBe(srv.url("/p"));
  });

  it("a user name alone in the URL (a token) is Basic auth with an empty password, and leaves the URL", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/t").replace("http://", "http://TOKEN123@"));
    expect(echoHeader(await json(resp), "authorization")).toBe(`Basic ${btoa("TOKEN123:")}`);
    expect(resp.url.href).toBe(srv.url("/t"));
    expect(resp.requestInfo.url.href).not.toContain("TOKEN123");
  });

  it("refuses auth together with URL credentials or an Authorization header", async () => {
    await using session = new ClientSession();
    await expect(session.get("http://u:p@127.0.0.1:1/", { auth: new BasicAuth("a") })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(
      session.get("http://127.0.0.1:1/", { auth: new BasicAuth("a"), headers: { Authorization: "x" } }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("answers a Digest challenge once, then preemptively", async () => {
    await using srv = await startDigestServer({ users: { ada: "secret" }, algorithms: ["SHA-256"] });
    await using session = new ClientSession({ auth: new DigestAuth("ada", "secret") });
    expect(await (await session.get(srv.url("/one"))).json()).toMatchObject({
      authenticated: true,
      nc: "00000001",
    });
    expect(await (await session.post(srv.url("/two"), { data: "x" })).json()).toMatchObject({
      nc: "00000002",
    });
    expect(srv.authorizations.filter((a) => a === undefined)).toHaveLength(1);
    const wrong = await new ClientSession({ auth: new DigestAuth("ada", "nope") }).get(srv.url());
    expect(wrong.status).toBe(401);
  });

  it("reads ~/.netrc with trustEnv when no auth is given", async () => {
    await using srv = await startHttpServer(echo);
    const netrc = join(dir, "netrc");
    writeFileSync(
      netrc,
      `machine 127.0.0.1 login netuser password netpass\ndefault login any password thing\n`,
    );
    const before = process.env.NETRC;
    process.env.NETRC = netrc;
    try {
      await using trusting = new ClientSession({ trustEnv: true });
      expect(echoHeader(await json(await trusting.get(srv.url())), "authorization")).toBe(
        new BasicAuth("netuser", "netpass").encode(),
      );
      expect(
        echoHeader(
          await json(await trusting.get(srv.url(), { auth: new BasicAuth("explicit") })),
          "authorization",
        ),
      ).toBe(new BasicAuth("explicit").encode());
      await using plain = new ClientSession();
      expect(echoHeader(await json(await plain.get(srv.url())), "authorization")).toBeUndefined();
    } finally {
      if (before === undefined) delete process.env.NETRC;
      else process.env.NETRC = before;
    }
  });
});

describe("cookies", () => {
  it("starts with the session's cookies, shared with every host", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession({ cookies: { theme: "dark" } });
    expect(echoHeader(await json(await session.get(srv.url())), "cookie")).toBe("theme=dark");
  });

  it("does not store cookies from an IP host with the default jar, but does with unsafe", async () => {
    await using srv = await startHttpServer((_req, res) => {
      res.setHeader("set-cookie", "sid=1");
      res.end();
    });
    await using strict = new ClientSession();
    await (await strict.get(srv.url())).read();
    expect(strict.cookieJar.size).toBe(0);
    await using loose = new ClientSession({ cookieJar: new CookieJar({ unsafe: true }) });
    await (await loose.get(srv.url())).read();
    expect(loose.cookieJar.size).toBe(1);
  });

  it("per-request cookies are sent, merged with a Cookie header, and not stored", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession({ cookies: { s: "1" } });
    const reply = await json(
      await session.get(srv.url(), { cookies: { r: "2" }, headers: { Cookie: "h=3" } }),
    );
    expect(echoHeader(reply, "cookie")).toBe("h=3; s=1; r=2");
    expect(session.cookieJar.size).toBe(1);
  });

  it("works with DummyCookieJar and with a user's own jar", async () => {
    await using srv = await startHttpServer((req, res) => {
      res.setHeader("set-cookie", "got=1; Path=/");
      res.end(req.headers.cookie ?? "none");
    });
    await using dummy = new ClientSession({ cookieJar: new DummyCookieJar() });
    await (await dummy.get(srv.url())).read();
    expect(await (await dummy.get(srv.url())).text()).toBe("none");

    const seen: string[] = [];
    const store = new Map<string, CookieRecord>();
    // A custom jar needs two methods (sync here; they may return promises).
    const mine: AbstractCookieJar = {
      updateCookiesFromHeaders(headers: readonly string[], url?: URL) {
        seen.push(`update ${String(url)}`);
        for (const h of headers) {
          const c = parseSetCookie(h);
          if (c) store.set(c.name, c);
        }
      },
      filterCookies() {
        return new Map(store);
      },
    };
    await using custom = new ClientSession({ cookieJar: mine });
    await (await custom.get(srv.url("/a"))).read();
    expect(await (await custom.get(srv.url("/b"))).text()).toBe("got=1");
    expect(seen[0]).toBe(`update ${srv.url("/a")}`);
  });
});

describe("raiseForStatus", () => {
  it("throws after redirects, per session or per request, or calls back", async () => {
    await using srv = await startHttpServer((req, res) => {
      if (req.url === "/hop") {
        res.statusCode = 302;
        res.setHeader("location", "/gone");
        res.end();
        return;
      }
      res.statusCode = req.url === "/gone" ? 410 : 200;
      res.end("x");
    });
    await using strict = new ClientSession({ raiseForStatus: true });
    const err = await strict.get(srv.url("/hop")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientResponseError);
    expect((err as ClientResponseError).status).toBe(410);
    expect((err as ClientResponseError).history.map((r) => r.status)).toEqual([302]);
    expect((await strict.get(srv.url("/gone"), { raiseForStatus: false })).status).toBe(410);
    await using lenient = new ClientSession();
    await expect(lenient.get(srv.url("/gone"), { raiseForStatus: true })).rejects.toBeInstanceOf(
      ClientResponseError,
    );
    const statuses: number[] = [];
    await using cb = new ClientSession({
      raiseForStatus: async (resp) => {
        statuses.push(resp.status);
        if (resp.status === 410) throw new Error(`custom ${resp.status}`);
      },
    });
    await expect(cb.get(srv.url("/hop"))).rejects.toThrow("custom 410");
    expect(statuses).toEqual([410]);
  });
});

describe("any undici Dispatcher as the connector", () => {
  it("works with undici's Agent", async () => {
    await using srv = await startHttpServer(echo);
    const agent = new Agent();
    await using session = new ClientSession({ connector: agent });
    expect((await json(await session.get(srv.url("/agent")))).url).toBe("/agent");
    await session.close();
    expect(agent.closed).toBe(true);
  });

  it("works with undici's MockAgent", async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    mock
      .get("http://api.test")
      .intercept({ path: "/users", method: "GET" })
      .reply(
        200,
        { users: [] },
        {
          headers: { "content-type": "application/json" },
        },
      );
    await using session = new ClientSession({ connector: mock });
    expect(await (await session.get("http://api.test/users")).json()).toEqual({ users: [] });
  });

  it("maps an Agent's connection failures to @x/errors", async () => {
    const port = await closedPort();
    await using session = new ClientSession({ connector: new Agent() });
    await expect(session.get(`http://127.0.0.1:${port}/`)).rejects.toBeInstanceOf(ClientConnectorError);
  });
});

describe("the basic API", () => {
  it("request() makes a one-shot session whose connection closes with the response", async () => {
    await using srv = await startHttpServer(echo);
    const resp = await request("POST", srv.url("/once"), { json: { a: 1 } });
    const reply = await json(resp);
    expect(reply.body).toBe('{"a":1}');
    expect(echoHeader(reply, "connection")).toBe("close");
    await srv.stats.idle();
  });

  it("request() with a connector leaves it open", async () => {
    await using srv = await startHttpServer(echo);
    await using connector = new TCPConnector();
    await (await request("GET", srv.url(), { connector })).read();
    expect(connector.closed).toBe(false);
  });

  it("request() reports connection failures", async () => {
    const port = await closedPort();
    await expect(request("GET", `http://127.0.0.1:${port}/`)).rejects.toBeInstanceOf(ClientConnectorError);
  });
});

describe("TLS per request", () => {
  it("takes ssl, verifySsl and fingerprint per request, keyed apart in the pool", async () => {
    const { startHttpsServer } = await import("@x/fixtures");
    const { ClientConnectorCertificateError, InvalidArgumentError: IAE } = await import("@x/errors");
    await using srv = await startHttpsServer((_req, res) => res.end("tls"));
    await using session = new ClientSession();
    await expect(session.get(srv.url())).rejects.toBeInstanceOf(ClientConnectorCertificateError);
    expect(await (await session.get(srv.url(), { ssl: { ca: srv.ca } })).text()).toBe("tls");
    expect(await (await session.get(srv.url(), { verifySsl: false })).text()).toBe("tls");
    expect(await (await session.get(srv.url(), { fingerprint: srv.certificate.sha256 })).text()).toBe("tls");
    await expect(
      session.get(srv.url(), { ssl: false, fingerprint: srv.certificate.sha256 }),
    ).rejects.toBeInstanceOf(IAE);
  });
});

describe("1xx responses", () => {
  it("skips informational responses before the final one", async () => {
    const { startRawServer } = await import("@x/fixtures");
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n");
      await conn.end("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal");
    });
    await using session = new ClientSession();
    const resp = await session.get(srv.url());
    expect(resp.status).toBe(200);
    expect(await resp.text()).toBe("final");
  });
});
