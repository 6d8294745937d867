import { Readable } from "node:stream";
import { BasicAuth } from "@x/auth";
import { CookieJar } from "@x/cookies";
import {
  ClientPayloadError,
  InvalidUrlRedirectClientError,
  NonHttpUrlRedirectClientError,
  RedirectClientError,
  TooManyRedirects,
} from "@x/errors";
import { type EchoReply, echo, echoHeader, redirector, startHttpServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

const json = async (r: { json(): Promise<unknown> }) => (await r.json()) as EchoReply;

describe("following redirects", () => {
  it("keeps the chain in history, oldest first, and reuses the connection", async () => {
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession();
    const third = srv.url("/end");
    const second = srv.url(`/r/307?to=${encodeURIComponent(third)}`);
    const resp = await session.get(srv.url(`/r/302?to=${encodeURIComponent(second)}`));
    expect(resp.status).toBe(200);
    expect(resp.url.href).toBe(third);
    expect(resp.history.map((r) => r.status)).toEqual([302, 307]);
    expect(resp.history[0]?.url.pathname).toBe("/r/302");
    expect((await json(resp)).url).toBe("/end");
    expect(srv.stats.accepted).toBe(1);
  });

  it.each([
    [303, "POST", "GET", false],
    [303, "PUT", "GET", false],
    [303, "HEAD", "HEAD", false],
    [301, "POST", "GET", false],
    [302, "POST", "GET", false],
    [301, "PUT", "PUT", true],
    [302, "PATCH", "PATCH", true],
    [302, "DELETE", "DELETE", true],
    [307, "POST", "POST", true],
    [308, "PUT", "PUT", true],
  ] as const)("%i after %s → %s (body kept: %s)", async (status, method, after, keep) => {
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession();
    const resp = await session.request(method, srv.url(`/r/${status}?to=/end`), {
      data: "payload",
      allowRedirects: true,
    });
    if (method === "HEAD") {
      expect(resp.url.pathname).toBe("/end");
      // Still a HEAD: the echo server's answer has no body (a GET's would be its JSON).
      expect((await resp.read()).length).toBe(0);
      return;
    }
    const reply = await json(resp);
    expect(reply.method).toBe(after);
    expect(reply.body).toBe(keep ? "payload" : "");
    if (!keep) expect(echoHeader(reply, "content-length")).toBeUndefined();
  });

  it("re-sends a one-shot stream? no: a 307 with a consumed stream is a ClientPayloadError", async () => {
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession();
    const err = await session
      .post(srv.url("/r/307?to=/end"), { data: Readable.from(["once"]) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect((err as Error).message).toMatch(/one-shot/);
  });

  it("re-sends bytes, forms, Blobs and FormData on 307/308", async () => {
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession();
    const form = new FormData();
    form.append("f", "v");
    for (const data of [Buffer.from("b"), { a: "1" }, new Blob(["blob"]), form]) {
      const reply = await json(await session.post(srv.url("/r/308?to=/end"), { data }));
      expect(reply.length).toBeGreaterThan(0);
    }
  });

  it("drops params and the fragment of the first URL", async () => {
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/r/302#frag"), { params: { to: "/next?x=1#f2", p: "1" } });
    expect((await json(resp)).url).toBe("/next?x=1");
    expect(resp.url.hash).toBe("");
  });

  it("falls back to URI when there is no Location, and returns a 3xx without either as it is", async () => {
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession();
    expect((await session.get(srv.url("/r/302?to=/viauri&uri=1"))).url.pathname).toBe("/viauri");
    const bare = await session.get(srv.url("/r/302"));
    expect(bare.status).toBe(302);
    expect(await bare.text()).toBe("redirect body");
  });

  it("allowRedirects: false and head() return the 3xx", async () => {
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession();
    expect((await session.get(srv.url("/r/301?to=/end"), { allowRedirects: false })).status).toBe(301);
    expect((await session.head(srv.url("/r/301?to=/end"))).status).toBe(301);
    expect((await session.head(srv.url("/r/301?to=/end"), { allowRedirects: true })).status).toBe(200);
  });

  it("stores cookies from every hop", async () => {
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession({ cookieJar: new CookieJar({ unsafe: true }) });
    const second = `/r/302?to=/end&cookie=${encodeURIComponent("b=2; Path=/")}`;
    const resp = await session.get(
      srv.url(`/r/302?to=${encodeURIComponent(second)}&cookie=${encodeURIComponent("a=1; Path=/")}`),
    );
    expect(echoHeader(await json(resp), "cookie")).toBe("a=1; b=2");
    expect(session.cookieJar.size).toBe(2);
  });
});

describe("redirect limits and bad targets", () => {
  it("maxRedirects: N counts as aiohttp: the N-th redirect response raises TooManyRedirects, history N, N requests", async () => {
    const seen: string[] = [];
    await using srv = await startHttpServer((req, res) => {
      seen.push(req.url ?? "");
      const n = Number(req.url?.slice(1));
      if (n > 0) {
        res.statusCode = 302;
        res.setHeader("location", `/${n - 1}`);
      }
      res.end(`at ${n}`);
    });
    await using session = new ClientSession();
    // Three redirects then the answer: maxRedirects 4 lets them through.
    expect(await (await session.get(srv.url("/3"), { maxRedirects: 4 })).text()).toBe("at 0");
    seen.length = 0;
    const err = await session.get(srv.url("/3"), { maxRedirects: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TooManyRedirects);
    const tmr = err as TooManyRedirects;
    expect(tmr.history.map((r) => r.url.pathname)).toEqual(["/3", "/2", "/1"]);
    expect(seen).toEqual(["/3", "/2", "/1"]);
    expect(tmr.requestInfo.url.pathname).toBe("/3");
    seen.length = 0;
    const one = (await session
      .get(srv.url("/3"), { maxRedirects: 1 })
      .catch((e: unknown) => e)) as TooManyRedirects;
    expect([one.history.length, seen]).toEqual([1, ["/3"]]);
    // The default is 10: ten redirect responses raise.
    seen.length = 0;
    const many = (await session.get(srv.url("/20")).catch((e: unknown) => e)) as TooManyRedirects;
    expect(many).toBeInstanceOf(TooManyRedirects);
    expect([many.history.length, seen.length]).toEqual([10, 10]);
  });

  it("maxRedirects: 0 follows none and never contacts the target", async () => {
    await using target = await startHttpServer(echo);
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession();
    const err = await session
      .get(srv.url(`/r/302?to=${encodeURIComponent(target.url("/"))}`), { maxRedirects: 0 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TooManyRedirects);
    expect(target.stats.accepted).toBe(0);
  });

  it.each([
    "file:///etc/passwd",
    "data:text/plain,hi",
    "ftp://example.test/x",
    "http+unix://%2Fvar%2Frun%2Fx.sock/",
    "javascript:alert(1)",
  ])("refuses to follow a redirect to %s", async (to) => {
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession();
    const err = await session.get(srv.url(`/r/302?to=${encodeURIComponent(to)}`)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonHttpUrlRedirectClientError);
    expect(err instanceof RedirectClientError).toBe(true);
  });

  it("refuses a Location that is not a URL, saying why, with the redirects so far", async () => {
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession();
    const cases: [string, typeof InvalidUrlRedirectClientError, string][] = [
      ["http://[::1", InvalidUrlRedirectClientError, "the redirect target is not a valid URL"],
      ["http:/elsewhere", InvalidUrlRedirectClientError, "http: must be followed by // and a host"],
      ["https://", InvalidUrlRedirectClientError, "the URL has an empty host"],
      ["ftp://h.test/f", NonHttpUrlRedirectClientError, "refusing to follow a redirect to ftp:"],
      ["data:text/plain,x", NonHttpUrlRedirectClientError, "refusing to follow a redirect to data:"],
    ];
    for (const [to, cls, description] of cases) {
      const start = srv.url(`/r/302?to=${encodeURIComponent(to)}`);
      const err = await session.get(start).catch((e: unknown) => e);
      expect(err, to).toBeInstanceOf(cls);
      expect(err, to).toMatchObject({ url: to, description });
      expect(
        (err as InvalidUrlRedirectClientError).history.map((h) => [h.status, h.url.href]),
        to,
      ).toEqual([[302, start]]);
    }
  });
});

describe("credentials across origins", () => {
  async function pair() {
    const other = await startHttpServer(echo);
    const home = await startHttpServer(redirector);
    return {
      other,
      home,
      [Symbol.asyncDispose]: async () => {
        await Promise.all([other.close(), home.close()]);
      },
    };
  }

  it("drops every Authorization, Cookie and Proxy-Authorization, any case, when the host changes", async () => {
    await using s = await pair();
    await using session = new ClientSession();
    const to = s.other.url("/landed").replace("127.0.0.1", "localhost");
    const reply = await json(
      await session.get(s.home.url(`/r/302?to=${encodeURIComponent(to)}`), {
        headers: [
          ["Authorization", "Bearer secret"],
          ["authorization", "Bearer again"],
          ["COOKIE", "sid=1"],
          ["Proxy-Authorization", "Basic cHJveHk="],
          ["X-Keep", "yes"],
        ],
      }),
    );
    for (const h of ["authorization", "cookie", "proxy-authorization"])
      expect(echoHeader(reply, h)).toBeUndefined();
    expect(echoHeader(reply, "x-keep")).toBe("yes");
  });

  it("drops them when only the port changes, and when only the scheme would", async () => {
    await using s = await pair();
    await using session = new ClientSession();
    const reply = await json(
      await session.get(s.home.url(`/r/307?to=${encodeURIComponent(s.other.url("/x"))}`), {
        auth: new BasicAuth("user", "pw"),
        cookies: { percall: "1" },
      }),
    );
    expect(echoHeader(reply, "authorization")).toBeUndefined();
    expect(echoHeader(reply, "cookie")).toBeUndefined();
  });

  it("keeps them on a same-origin hop", async () => {
    await using s = await pair();
    await using session = new ClientSession();
    const reply = await json(
      await session.get(s.home.url("/r/302?to=/same"), {
        auth: new BasicAuth("user", "pw"),
        cookies: { percall: "1" },
      }),
    );
    expect(echoHeader(reply, "authorization")).toBe(new BasicAuth("user", "pw").encode());
    expect(echoHeader(reply, "cookie")).toBe("percall=1");
  });

  it("re-applies the session's auth on the new origin (no baseUrl), as aiohttp does", async () => {
    await using s = await pair();
    await using session = new ClientSession({ auth: new BasicAuth("global", "pw") });
    const reply = await json(
      await session.get(s.home.url(`/r/302?to=${encodeURIComponent(s.other.url("/x"))}`)),
    );
    expect(echoHeader(reply, "authorization")).toBe(new BasicAuth("global", "pw").encode());
  });

  it("does not send the session's auth to an origin other than baseUrl's", async () => {
    await using s = await pair();
    await using session = new ClientSession({
      baseUrl: s.home.url("/api/"),
      auth: new BasicAuth("scoped", "pw"),
    });
    expect(echoHeader(await json(await session.get("mine")), "authorization")).toBe(
      new BasicAuth("scoped", "pw").encode(),
    );
    expect(echoHeader(await json(await session.get(s.other.url("/abs"))), "authorization")).toBeUndefined();
    const hop = await json(await session.get(`/r/302?to=${encodeURIComponent(s.other.url("/x"))}`));
    expect(hop.url).toBe("/x");
    expect(echoHeader(hop, "authorization")).toBeUndefined();
  });

  it("credentials in the redirect URL win", async () => {
    await using s = await pair();
    await using session = new ClientSession({ auth: new BasicAuth("global", "pw") });
    const to = s.other.url("/x").replace("http://", "http://redir:secret@");
    const reply = await json(await session.get(s.home.url(`/r/302?to=${encodeURIComponent(to)}`)));
    expect(echoHeader(reply, "authorization")).toBe(new BasicAuth("redir", "secret").encode());
    expect(echoHeader(reply, "host")).toBe(`127.0.0.1:${s.other.port}`);
  });

  it("sends jar cookies only where the jar says", async () => {
    await using s = await pair();
    await using session = new ClientSession({ cookieJar: new CookieJar({ unsafe: true }) });
    session.cookieJar.updateCookies(["sid=home"], s.home.url("/"));
    const to = s.other.url("/x").replace("127.0.0.1", "localhost");
    const reply = await json(await session.get(s.home.url(`/r/302?to=${encodeURIComponent(to)}`)));
    expect(echoHeader(reply, "cookie")).toBeUndefined();
  });
});

describe("requoteRedirectUrl", () => {
  it("false sends the path and query of any Location as written, but not what cannot go on the wire", async () => {
    const seen: string[] = [];
    await using srv = await startHttpServer((req, res) => {
      seen.push(req.url ?? "");
      const to = new URL(req.url ?? "/", "http://x").searchParams.get("to");
      if (to !== null) {
        res.statusCode = 302;
        res.setHeader("location", to.replace("ORIGIN", `http://127.0.0.1:${srv.port}`));
      }
      res.end();
    });
    await using raw = new ClientSession({ requoteRedirectUrl: false });
    const follow = async (to: string) => {
      seen.length = 0;
      await (await raw.get(srv.url(`/r?to=${encodeURIComponent(to)}`))).read();
      return seen[1];
    };
    expect(await follow("/a/../b?q=%7e#frag")).toBe("/a/../b?q=%7e");
    expect(await follow("ORIGIN/a/../c")).toBe("/a/../c");
    expect(await follow("ORIGIN")).toBe("/");
    expect(await follow("ORIGIN?x=%7e")).toBe("/?x=%7e");
    // A query right after the host, with characters URL parsing would encode: as written.
    expect(await follow("ORIGIN?a='x'")).toBe("/?a='x'");
    // A scheme-relative or a relative Location that holds `://`: resolved as usual.
    expect(await follow(`//127.0.0.1:${srv.port}/g/../%7eh`)).toBe("/%7eh");
    expect(await follow("i/j://k/l")).toBe("/i/j://k/l");
    // Relative to the current path, or not printable ASCII: resolved and encoded as usual.
    expect(await follow("d/../e")).toBe("/e");
    expect(await follow("/ä/../f")).toBe("/f");
  });

  it("normalizes the Location by default, and sends it as written when false", async () => {
    const seen: string[] = [];
    await using srv = await startHttpServer((req, res) => {
      seen.push(req.url ?? "");
      if (req.url === "/start") {
        res.statusCode = 302;
        res.setHeader("location", "/a/../b/%7euser/c%2Fd?q=%7e");
      }
      res.end();
    });
    await using normal = new ClientSession();
    await (await normal.get(srv.url("/start"))).read();
    await using raw = new ClientSession({ requoteRedirectUrl: false });
    await (await raw.get(srv.url("/start"))).read();
    expect(seen).toEqual(["/start", "/b/%7euser/c%2Fd?q=%7e", "/start", "/a/../b/%7euser/c%2Fd?q=%7e"]);
  });
});
