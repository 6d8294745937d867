import type { IncomingMessage, RequestListener, Server } from "node:http";
import { gzipSync } from "node:zlib";
import { BasicAuth } from "@x/auth";
import { CookieJar } from "@x/cookies";
import {
  ClientError,
  ClientResponseError,
  InvalidArgumentError,
  TimeoutError,
  TotalTimeoutError,
} from "@x/errors";
import { type ProxyTestServer, startHttpServer, startProxyServer, type TestServer, until } from "@x/fixtures";
import {
  Agent,
  Client,
  type Dispatcher,
  EnvHttpProxyAgent,
  interceptors,
  MockAgent,
  Pool,
  ProxyAgent,
  RetryAgent,
} from "undici";
import { describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";
import { ScriptedDispatcher } from "./scripted-dispatcher.js";

const ADA = `Basic ${Buffer.from("ada:lovelace").toString("base64")}`;
const GZIPPED = "compressed hello, decoded once";

/** What the test app saw, besides its sockets. */
interface AppState {
  /** Paths requested, in order. */
  readonly paths: string[];
  /** Upgrade requests that reached the server. */
  upgrades: number;
}

interface App extends AsyncDisposable {
  readonly srv: TestServer<Server>;
  readonly state: AppState;
}

/**
 * One loopback app for every dispatcher: a redirect that sets a cookie, pages that echo the
 * cookie, a Basic-auth page, a chunked stream written in pieces, a gzip body, a 503-once page,
 * and a page that never answers.
 */
async function startApp(): Promise<App> {
  const paths: string[] = [];
  const flaky = new Set<string>();
  const state: AppState = { paths, upgrades: 0 };
  const cookieOf = (req: IncomingMessage) => JSON.stringify({ cookie: req.headers.cookie ?? null });
  const handler: RequestListener = (req, res) => {
    res.on("error", () => {});
    const url = new URL(req.url ?? "/", "http://x");
    paths.push(url.pathname);
    switch (url.pathname) {
      case "/redirect":
        res.writeHead(302, { location: "/landing", "set-cookie": "sid=abc; Path=/" }).end("moved");
        return;
      case "/landing":
      case "/cookie":
        res.writeHead(200, { "content-type": "application/json" }).end(cookieOf(req));
        return;
      case "/auth":
        if (req.headers.authorization === ADA) res.writeHead(200).end("welcome ada");
        else res.writeHead(401, { "www-authenticate": 'Basic realm="t"' }).end("who are you");
        return;
      case "/stream": {
        res.writeHead(200, { "content-type": "text/plain" });
        const parts = ["one-", "two-", "three"];
        const next = () => {
          if (res.destroyed) return;
          const part = parts.shift();
          if (part === undefined) res.end();
          else {
            res.write(part);
            setTimeout(next, 40);
          }
        };
        next();
        return;
      }
      case "/gzip":
        res
          .writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" })
          .end(gzipSync(GZIPPED));
        return;
      case "/flaky": {
        const key = url.searchParams.get("k") ?? "";
        if (flaky.has(key)) res.writeHead(200).end("second time lucky");
        else {
          flaky.add(key);
          res.writeHead(503, { "retry-after": "0" }).end("busy");
        }
        return;
      }
      case "/hold":
        // Never answers; the client gives up (timeout or abort), or the server closes.
        return;
      default:
        res.writeHead(404).end();
    }
  };
  const srv = await startHttpServer(handler);
  srv.server.on("upgrade", (_req, socket) => {
    state.upgrades++;
    socket.destroy();
  });
  return { srv, state, [Symbol.asyncDispose]: () => srv.close() };
}

interface DispatcherCase {
  name: string;
  make(srv: TestServer, proxy: ProxyTestServer): Dispatcher;
  /** Requests reach the app through the proxy fixture. */
  viaProxy?: boolean;
  /** A 503 is retried by the dispatcher itself. */
  retries?: boolean;
  /** The dispatcher decodes gzip before the session sees the response. */
  decodes?: boolean;
}

const cases: DispatcherCase[] = [
  { name: "new Agent()", make: () => new Agent() },
  { name: "new Pool(origin)", make: (srv) => new Pool(srv.origin) },
  { name: "new Client(origin)", make: (srv) => new Client(srv.origin) },
  {
    name: "MockAgent (unmatched requests let through to the app)",
    make: (srv) => {
      const mock = new MockAgent();
      mock.enableNetConnect(`127.0.0.1:${srv.port}`);
      return mock;
    },
  },
  { name: "ProxyAgent", make: (_srv, proxy) => new ProxyAgent(proxy.origin), viaProxy: true },
  {
    name: "EnvHttpProxyAgent({ httpProxy })",
    make: (_srv, proxy) => new EnvHttpProxyAgent({ httpProxy: proxy.origin, noProxy: "" }),
    viaProxy: true,
  },
  { name: "RetryAgent(new Agent())", make: () => new RetryAgent(new Agent()), retries: true },
  {
    name: "new Agent().compose(dns, retry, decompress)",
    make: () => new Agent().compose(interceptors.dns(), interceptors.retry(), interceptors.decompress()),
    retries: true,
    decodes: true,
  },
];

describe("any undici 7 dispatcher as the session's connector", () => {
  it("undici 7.30 has the interceptors the table composes", () => {
    expect(typeof interceptors.dns).toBe("function");
    expect(typeof interceptors.retry).toBe("function");
    expect(typeof interceptors.decompress).toBe("function");
  });

  it.each(cases)("$name", async ({ make, viaProxy = false, retries = false, decodes = false }) => {
    await using app = await startApp();
    const { srv, state } = app;
    await using proxy = await startProxyServer();
    const connector = make(srv, proxy);
    const session = new ClientSession({
      connector,
      baseUrl: srv.url("/"),
      cookieJar: new CookieJar({ unsafe: true }),
    });
    try {
      // A redirect is followed; the cookie its 302 set is sent to the landing page.
      {
        await using resp = await session.get("redirect");
        expect(resp.status).toBe(200);
        expect(resp.history).toHaveLength(1);
        expect(resp.history[0]?.status).toBe(302);
        expect(resp.url.href).toBe(srv.url("/landing"));
        expect(await resp.json()).toEqual({ cookie: "sid=abc" });
      }
      // …and kept for the next request.
      {
        await using resp = await session.get("cookie");
        expect(await resp.json()).toEqual({ cookie: "sid=abc" });
      }
      // Basic auth reaches the app, which checks it.
      {
        await using refused = await session.get("auth");
        expect(refused.status).toBe(401);
        await using resp = await session.get("auth", { auth: new BasicAuth("ada", "lovelace") });
        expect(resp.status).toBe(200);
        expect(await resp.text()).toBe("welcome ada");
      }
      // A chunked body is streamed in pieces through resp.content.
      {
        await using resp = await session.get("stream");
        expect(resp.headers.get("transfer-encoding")).toBe("chunked");
        const chunks: string[] = [];
        for await (const chunk of resp.content) chunks.push(chunk.toString());
        expect(chunks.join("")).toBe("one-two-three");
        expect(chunks.length).toBeGreaterThanOrEqual(2);
      }
      // gzip is decoded exactly once, by the dispatcher or by the session.
      {
        await using resp = await session.get("gzip");
        expect(await resp.text()).toBe(GZIPPED);
        expect(resp.headers.get("content-encoding")).toBe(decodes ? null : "gzip");
      }
      // A 503 is retried by a retrying dispatcher and passed through by the others.
      {
        await using resp = await session.get("flaky?k=1");
        expect(resp.status).toBe(retries ? 200 : 503);
        expect(state.paths.filter((p) => p === "/flaky")).toHaveLength(retries ? 2 : 1);
      }
      // timeout.total fails a call the app never answers.
      {
        const started = performance.now();
        const err = await session.get("hold", { timeout: { total: 150 } }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TotalTimeoutError);
        expect(err).toBeInstanceOf(TimeoutError);
        expect(performance.now() - started).toBeGreaterThanOrEqual(140);
        expect(performance.now() - started).toBeLessThan(5000);
      }
      // The caller's signal fails the call with its own reason, once the request is on the wire.
      {
        const controller = new AbortController();
        const reason = new Error("caller gave up");
        const arrivedBefore = state.paths.filter((p) => p === "/hold").length;
        const pending = session.get("hold?abort", { signal: controller.signal });
        const settled = pending.catch((e: unknown) => e);
        await until(() => state.paths.filter((p) => p === "/hold").length > arrivedBefore);
        controller.abort(reason);
        expect(await settled).toBe(reason);
      }
      // The proxy dispatchers took every request through the proxy; the others never touched it.
      if (viaProxy) {
        expect(proxy.requests.length).toBeGreaterThan(0);
        for (const r of proxy.requests) expect(r.target).toContain(`127.0.0.1:${srv.port}`);
      } else {
        expect(proxy.requests).toHaveLength(0);
      }

      // What a foreign dispatcher cannot do is refused, never done behind its back.
      const accepted = srv.stats.accepted;
      const proxyAccepted = proxy.stats.accepted;
      const proxied = proxy.requests.length;
      const ws = await session.wsConnect(srv.url("/ws").replace("http:", "ws:")).catch((e: unknown) => e);
      expect(ws).toBeInstanceOf(InvalidArgumentError);
      await expect(session.get("cookie", { proxy: proxy.origin })).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
      await expect(session.post("cookie", { data: "x", expect100: true })).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
      expect(state.upgrades).toBe(0);
      expect(srv.stats.accepted).toBe(accepted);
      expect(proxy.stats.accepted).toBe(proxyAccepted);
      expect(proxy.requests).toHaveLength(proxied);
    } finally {
      await session.close();
    }
    expect(session.closed).toBe(true);
    // Closing the session closed the dispatcher's sockets: nothing is left open on the first hop.
    await (viaProxy ? proxy : srv).stats.idle(3000);
  });
});

describe("MockAgent as the connector", () => {
  it("refuses a response header no wire could carry with ClientResponseError, not a TypeError", async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    const api = mock.get("http://api.test");
    const bad: [Record<string, string>, string][] = [
      [{ location: "/next\nX-Injected: 1" }, 'Invalid response header "location": "/next\\nX-Injected: 1"'],
      [{ "x-nul": "a\0b" }, 'Invalid response header "x-nul": "a\\u0000b"'],
      [{ "bad name": "v" }, 'Invalid response header "bad name": "v"'],
    ];
    for (const [i, [headers]] of bad.entries()) {
      api.intercept({ path: `/${i}` }).reply(302, "", { headers });
    }
    api.intercept({ path: "/fine" }).reply(200, "ok", { headers: { "x-fine": "a\tb" } });
    await using session = new ClientSession({ connector: mock });
    for (const [i, [, message]] of bad.entries()) {
      const err = await session.get(`http://api.test/${i}`).catch((e: unknown) => e);
      expect(err, message).toBeInstanceOf(ClientResponseError);
      expect(err).toMatchObject({ status: 400, reason: `${message} (status 302)` });
    }
    await using fine = await session.get("http://api.test/fine");
    expect(fine.headers.get("x-fine")).toBe("a\tb");
    await mock.close();
    // A dispatcher that hands parsed headers only (no raw ones) is checked the same way.
    const wide = new ScriptedDispatcher((handler, controller) => {
      handler.onResponseStart?.(controller, 200, { "x-wide": "\u4e2d" }, "OK");
      handler.onResponseEnd?.(controller, {});
    });
    await using other = new ClientSession({ connector: wide });
    const err = await other.get("http://wide.test/").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientResponseError);
    expect(err).toMatchObject({ reason: 'Invalid response header "x-wide": "\u4e2d" (status 200)' });
  });

  it("answers from intercepts and records the cookie and auth headers the session sent", async () => {
    const mock = new MockAgent({ enableCallHistory: true });
    mock.disableNetConnect();
    const api = mock.get("http://api.test");
    api
      .intercept({ path: "/login", method: "POST" })
      .reply(
        200,
        { ok: true },
        { headers: { "content-type": "application/json", "set-cookie": "sid=m1; Path=/" } },
      );
    api.intercept({ path: "/me", method: "GET" }).reply(200, "you are ada");
    const session = new ClientSession({
      connector: mock,
      baseUrl: "http://api.test/",
      auth: new BasicAuth("ada", "lovelace"),
      headers: { "X-Session": "s" },
    });
    try {
      {
        await using resp = await session.post("login", { json: { user: "ada" } });
        expect(await resp.json()).toEqual({ ok: true });
      }
      {
        await using resp = await session.get("me");
        expect(await resp.text()).toBe("you are ada");
      }
      const calls = mock.getCallHistory()?.calls() ?? [];
      expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(["POST /login", "GET /me"]);
      const first = headerMap(calls[0]?.headers);
      const second = headerMap(calls[1]?.headers);
      expect(first.get("authorization")).toBe(ADA);
      expect(first.get("cookie")).toBeUndefined();
      expect(first.get("x-session")).toBe("s");
      expect(second.get("authorization")).toBe(ADA);
      expect(second.get("cookie")).toBe("sid=m1");
      mock.assertNoPendingInterceptors();
    } finally {
      await session.close();
    }
  });

  it("with disableNetConnect() refuses an unmatched request: nothing reaches the server", async () => {
    await using app = await startApp();
    const mock = new MockAgent();
    mock.disableNetConnect();
    mock.get(app.srv.origin).intercept({ path: "/cookie", method: "GET" }).reply(200, "mocked");
    await using session = new ClientSession({ connector: mock });
    {
      await using resp = await session.get(app.srv.url("/cookie"));
      expect(await resp.text()).toBe("mocked");
    }
    // Every failure is an @x/errors class (README, "Errors"); undici's own error is its cause.
    const err = await session.get(app.srv.url("/landing")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect((err as Error).cause).toMatchObject({ code: "UND_MOCK_ERR_MOCK_NOT_MATCHED" });
    expect(app.srv.stats.accepted).toBe(0);
    expect(app.state.paths).toEqual([]);
  });
});

/** Headers as undici's call history keeps them (flat array or record), by lower-case name. */
function headerMap(headers: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2)
      out.set(String(headers[i]).toLowerCase(), String(headers[i + 1]));
  } else if (headers && typeof headers === "object") {
    for (const [k, v] of Object.entries(headers)) out.set(k.toLowerCase(), String(v));
  }
  return out;
}
