import { type Auth, BasicAuth } from "@x/auth";
import { type AbstractCookieJar, CookieJar } from "@x/cookies";
import { InvalidArgumentError } from "@x/errors";
import {
  type EchoReply,
  echo,
  startHttpServer,
  startHttpsServer,
  startProxyServer,
  startWsServer,
  testCertificates,
} from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";
import { ScriptedDispatcher } from "./scripted-dispatcher.js";

// What the request policy decides, seen where a user sees it: the bytes a real server receives,
// `resp.requestInfo.headers` ("the headers actually sent"), what a user's own Auth or cookie jar
// is handed, and the errors for contradictory input.

type Resp = Awaited<ReturnType<ClientSession["get"]>>;

async function echoed(resp: Resp): Promise<EchoReply> {
  return (await resp.json()) as EchoReply;
}

/** Every value of header `name` (any case) the server received, in order. */
function all(reply: EchoReply, name: string): string[] {
  return reply.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

/** An Auth of a user's own: writes what `encode` returns, and records what it was shown. */
function ownAuth(value: (req: { method: string; url: URL }) => string | undefined) {
  const shown: Array<{ method: string; url: string }> = [];
  const auth: Auth = {
    encode(req) {
      shown.push({ method: req?.method ?? "", url: req?.url.href ?? "" });
      return value(req ?? { method: "", url: new URL("http://none.test/") });
    },
  };
  return { auth, shown };
}

describe("auto headers next to the caller's", () => {
  it("a header the caller gives replaces the auto one of its name, in any case, never joins it", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const reply = await echoed(
      await session.post(srv.url(), {
        data: "x",
        headers: { "accept-ENCODING": "identity", "USER-agent": "mine/1", "content-Type": "text/x-mine" },
      }),
    );
    expect(all(reply, "accept-encoding")).toEqual(["identity"]);
    expect(all(reply, "user-agent")).toEqual(["mine/1"]);
    expect(all(reply, "content-type")).toEqual(["text/x-mine"]);
    expect(all(reply, "accept")).toEqual(["*/*"]);
  });

  it.each(["POST", "PUT", "PATCH"])(
    "a bodiless %s says Content-Type: application/octet-stream and Content-Length: 0",
    async (method) => {
      await using srv = await startHttpServer(echo);
      await using session = new ClientSession();
      await using resp = await session.request(method, srv.url("/empty"));
      const reply = await echoed(resp);
      expect([reply.method, reply.length]).toEqual([method, 0]);
      expect(all(reply, "content-type")).toEqual(["application/octet-stream"]);
      expect(all(reply, "content-length")).toEqual(["0"]);
      expect(resp.requestInfo.headers.get("content-type")).toBe("application/octet-stream");
      expect(resp.requestInfo.headers.get("content-length")).toBe("0");
    },
  );

  it.each(["QUERY", "PROPFIND", "PROPPATCH"])(
    "a bodiless %s says Content-Length: 0 (undici sends it for the methods that expect a body) and no Content-Type",
    async (method) => {
      await using srv = await startHttpServer(echo);
      await using session = new ClientSession();
      await using resp = await session.request(method, srv.url("/thing"));
      const reply = await echoed(resp);
      expect([reply.method, reply.length]).toEqual([method, 0]);
      expect(all(reply, "content-length")).toEqual(["0"]);
      expect(all(reply, "content-type")).toEqual([]);
      expect(resp.requestInfo.headers.get("content-length")).toBe("0");
      expect(resp.requestInfo.headers.has("content-type")).toBe(false);
    },
  );

  it.each(["DELETE", "PURGE"])(
    "a bodiless %s gets neither Content-Type nor Content-Length, and requestInfo says so",
    async (method) => {
      await using srv = await startHttpServer(echo);
      await using session = new ClientSession();
      await using resp = await session.request(method, srv.url("/thing"));
      const reply = await echoed(resp);
      expect(all(reply, "content-type")).toEqual([]);
      expect(all(reply, "content-length")).toEqual([]);
      expect(resp.requestInfo.headers.has("content-type")).toBe(false);
      expect(resp.requestInfo.headers.has("content-length")).toBe(false);
    },
  );

  it.each(["GET", "HEAD", "OPTIONS", "TRACE"])("a bodiless %s carries no Content-Length", async (method) => {
    const seen: Array<string | undefined> = [];
    await using srv = await startHttpServer((req, res) => {
      seen.push(req.headers["content-length"]);
      res.end("ok");
    });
    await using session = new ClientSession();
    await using resp = await session.request(method, srv.url("/"));
    expect(resp.status).toBe(200);
    expect(seen).toEqual([undefined]);
    expect(resp.requestInfo.headers.has("content-length")).toBe(false);
    expect(resp.requestInfo.headers.has("content-type")).toBe(false);
  });

  it("a CONNECT through a dispatcher of the user's own carries no Content-Length", async () => {
    const connector = new ScriptedDispatcher((handler, controller) => {
      handler.onResponseStart?.(controller, 200, {}, "OK");
      handler.onResponseEnd?.(controller, {});
    });
    await using session = new ClientSession({ connector });
    await using resp = await session.request("CONNECT", "http://scripted.test/");
    expect(resp.requestInfo.method).toBe("CONNECT");
    expect(resp.requestInfo.headers.has("content-length")).toBe(false);
    expect(resp.requestInfo.headers.get("accept")).toBe("*/*");
  });

  it("a bodiless POST the caller marks Transfer-Encoding is given no Content-Length (a dispatcher of the user's own)", async () => {
    const connector = new ScriptedDispatcher((handler, controller) => {
      handler.onResponseStart?.(controller, 204, {}, "No Content");
      handler.onResponseEnd?.(controller, {});
    });
    await using session = new ClientSession({ connector });
    await using resp = await session.post("http://scripted.test/", {
      headers: { "Transfer-Encoding": "chunked" },
    });
    expect(resp.requestInfo.headers.get("transfer-encoding")).toBe("chunked");
    expect(resp.requestInfo.headers.has("content-length")).toBe(false);
  });

  it("a Content-Length the caller gives a bodiless POST is the only one", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    await using resp = await session.post(srv.url(), { headers: { "Content-Length": "0" } });
    expect(all(await echoed(resp), "content-length")).toEqual(["0"]);
    expect(resp.requestInfo.headers.get("content-length")).toBe("0");
  });
});

describe("Content-Length across redirects", () => {
  it("a 303 drops the caller's Content-Length with the body", async () => {
    await using srv = await startHttpServer((req, res) => {
      if (req.url === "/form") {
        req.resume();
        req.on("end", () => res.writeHead(303, { location: "/done" }).end());
      } else echo(req, res);
    });
    await using session = new ClientSession();
    await using resp = await session.post(srv.url("/form"), {
      data: "abc",
      headers: { "Content-Length": "3" },
    });
    const reply = await echoed(resp);
    expect([reply.method, reply.url, reply.length]).toEqual(["GET", "/done", 0]);
    expect(all(reply, "content-length")).toEqual([]);
    expect(resp.requestInfo.headers.has("content-length")).toBe(false);
    expect(resp.history[0]?.requestInfo.headers.get("content-length")).toBe("3");
  });

  it("a 307 keeps it, and the body it cuts, on the next hop", async () => {
    const bodies: string[] = [];
    await using srv = await startHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push(`${req.url} ${req.headers["content-length"]} ${Buffer.concat(chunks).toString()}`);
        if (req.url === "/first") res.writeHead(307, { location: "/second" }).end();
        else res.end("ok");
      });
    });
    await using session = new ClientSession();
    await using resp = await session.post(srv.url("/first"), {
      data: "abcdef",
      headers: { "Content-Length": "3" },
    });
    expect(await resp.text()).toBe("ok");
    expect(bodies).toEqual(["/first 3 abc", "/second 3 abc"]);
    expect(resp.requestInfo.headers.get("content-length")).toBe("3");
  });
});

describe("Authorization", () => {
  it("refuses auth or URL credentials next to an Authorization header, saying so", async () => {
    await using session = new ClientSession();
    const message = "an Authorization header cannot be combined with auth or credentials in the URL";
    const withAuth = await session
      .get("http://127.0.0.1:9/", { auth: new BasicAuth("a", "b"), headers: { authorization: "x" } })
      .catch((e: unknown) => e);
    expect(withAuth).toEqual(new InvalidArgumentError(message));
    const inUrl = await session
      .get("http://a:b@127.0.0.1:9/", { headers: { Authorization: "x" } })
      .catch((e: unknown) => e);
    expect(inUrl).toEqual(new InvalidArgumentError(message));
  });

  it("the caller's Authorization header wins over the session's auth", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession({ auth: new BasicAuth("ada", "lovelace") });
    const mine = await echoed(await session.get(srv.url(), { headers: { Authorization: "Bearer mine" } }));
    expect(all(mine, "authorization")).toEqual(["Bearer mine"]);
    const theirs = await echoed(await session.get(srv.url()));
    expect(all(theirs, "authorization")).toEqual([new BasicAuth("ada", "lovelace").encode()]);
  });

  it.each([
    ["undefined", undefined],
    ["an empty string", ""],
  ])("an auth whose encode() gives %s sends no Authorization", async (_what, value) => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const { auth, shown } = ownAuth(() => value);
    await using resp = await session.get(srv.url("/x"), { auth });
    expect(all(await echoed(resp), "authorization")).toEqual([]);
    expect(resp.requestInfo.headers.has("authorization")).toBe(false);
    expect(shown).toEqual([{ method: "GET", url: srv.url("/x") }]);
  });
});

describe("websocket handshakes speak http(s) to auth", () => {
  it("a wss URL is the https origin: the session's auth for baseUrl's https origin goes with it", async () => {
    await using srv = await startWsServer({ tls: true });
    const { ca } = await testCertificates();
    const origin = `https://127.0.0.1:${srv.port}`;
    const { auth, shown } = ownAuth((req) => `Own ${req.url.protocol}`);
    await using session = new ClientSession({ baseUrl: `${origin}/`, auth });
    const ws = await session.wsConnect(`wss://127.0.0.1:${srv.port}/chat?room=1`, { ssl: { ca } });
    await ws.close();
    expect(srv.upgrades.map((r) => r.headers.authorization)).toEqual(["Own https:"]);
    expect(shown).toEqual([{ method: "GET", url: `${origin}/chat?room=1` }]);
  });

  it("a ws URL is the http origin", async () => {
    await using srv = await startWsServer();
    const { auth, shown } = ownAuth((req) => `Own ${req.url.protocol}`);
    await using session = new ClientSession({ baseUrl: `http://127.0.0.1:${srv.port}/`, auth });
    const ws = await session.wsConnect(`ws://127.0.0.1:${srv.port}/chat`);
    await ws.close();
    expect(srv.upgrades.map((r) => r.headers.authorization)).toEqual(["Own http:"]);
    expect(shown).toEqual([{ method: "GET", url: `http://127.0.0.1:${srv.port}/chat` }]);
  });
});

describe("the proxy", () => {
  it("with trustEnv, a proxy the caller or the session names wins over HTTP_PROXY and NO_PROXY", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("ok"));
    await using named = await startProxyServer();
    await using fromEnv = await startProxyServer();
    const names = ["HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"];
    const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
    for (const name of names) delete process.env[name];
    try {
      process.env.HTTP_PROXY = fromEnv.origin;
      await using session = new ClientSession({ trustEnv: true, proxy: named.origin });
      expect(await (await session.get(srv.url("/session"))).text()).toBe("ok");
      await using trusting = new ClientSession({ trustEnv: true });
      expect(await (await trusting.get(srv.url("/call"), { proxy: new URL(named.origin) })).text()).toBe(
        "ok",
      );
      process.env.NO_PROXY = "127.0.0.1";
      expect(await (await session.get(srv.url("/no-proxy"))).text()).toBe("ok");
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
    expect(named.requests.map((r) => r.target)).toEqual([
      srv.url("/session"),
      srv.url("/call"),
      srv.url("/no-proxy"),
    ]);
    expect(fromEnv.requests).toEqual([]);
  });

  it("proxyAuth is asked for the CONNECT that opens the tunnel", async () => {
    await using target = await startHttpsServer((_req, res) => res.end("tunnelled"));
    await using proxy = await startProxyServer();
    const { auth, shown } = ownAuth((req) => `Own ${req.method}`);
    await using session = new ClientSession();
    const resp = await session.get(target.url("/secret"), {
      proxy: proxy.origin,
      proxyAuth: auth,
      ssl: { ca: target.ca },
    });
    expect(await resp.text()).toBe("tunnelled");
    expect(proxy.requests.map((r) => [r.method, r.headers["proxy-authorization"]])).toEqual([
      ["CONNECT", "Own CONNECT"],
    ]);
    expect(shown).toEqual([{ method: "CONNECT", url: target.url("/secret") }]);
  });
});

describe("cookies", () => {
  it("a jar of the user's own is handed the Set-Cookie values of a response, and nothing when there are none", async () => {
    await using srv = await startHttpServer((req, res) => {
      if (req.url === "/set") {
        res.setHeader("X-Set-Cookie-Like", "no=1");
        res.setHeader("Set-Cookie", ["a=1; Path=/", "b=2"]);
      }
      res.setHeader("Content-Type", "text/plain");
      res.end("ok");
    });
    const calls: Array<[string[], string | undefined]> = [];
    const jar: AbstractCookieJar = {
      updateCookiesFromHeaders(headers, url) {
        calls.push([[...headers], url?.href]);
      },
      filterCookies: () => new Map(),
    };
    await using session = new ClientSession({ cookieJar: jar });
    await (await session.get(srv.url("/plain"))).read();
    expect(calls).toEqual([]);
    await (await session.get(srv.url("/set"))).read();
    expect(calls).toEqual([[["a=1; Path=/", "b=2"], srv.url("/set")]]);
  });

  it("a jar of the user's own that answers with a promise has its cookies sent", async () => {
    await using srv = await startHttpServer(echo);
    const jar: AbstractCookieJar = {
      updateCookiesFromHeaders() {},
      filterCookies: async () => new Map([["sid", { name: "sid", value: "42" }]]),
    };
    await using session = new ClientSession({ cookieJar: jar });
    expect(all(await echoed(await session.get(srv.url())), "cookie")).toEqual(["sid=42"]);
  });

  it("a request's cookies are quoted as Python quotes them when the jar says nothing about quoting", async () => {
    await using srv = await startHttpServer(echo);
    const jar: AbstractCookieJar = { updateCookiesFromHeaders() {}, filterCookies: () => new Map() };
    await using session = new ClientSession({ cookieJar: jar });
    const reply = await echoed(await session.get(srv.url(), { cookies: { a: "a b,c" } }));
    expect(all(reply, "cookie")).toEqual(['a="a b\\054c"']);
  });

  it("a request's cookies follow the jar's quoteCookie: false", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession({ cookieJar: new CookieJar({ quoteCookie: false }) });
    const reply = await echoed(await session.get(srv.url(), { cookies: { a: "a b,c" } }));
    expect(all(reply, "cookie")).toEqual(["a=a b,c"]);
  });
});
