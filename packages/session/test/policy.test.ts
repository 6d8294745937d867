import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Auth, BasicAuth } from "@x/auth";
import { type CookieInput, CookieJar } from "@x/cookies";
import { type ProxiedRequest, type ProxyTestServer, startProxyServer, startWsServer } from "@x/fixtures";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { ClientSession, type ClientSessionOptions } from "../src/index.js";

/**
 * One table of cases, each run as a plain request (`session.get`) and as a websocket handshake
 * (`session.wsConnect`) against the same server: the request policy must make both carry the same
 * headers, in the same order, and take the same route (direct or through the proxy).
 */

const basic = (login: string, password: string) => new BasicAuth(login, password).encode();

/** Headers the transport adds itself (undici for requests, ws/node:http for handshakes). */
const TRANSPORT = new Set([
  "host",
  "connection",
  "upgrade",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
]);

type Expected = ReadonlyArray<readonly [string, string | RegExp]>;
/** The auto headers, in their order. */
const AUTO: Expected = [
  ["Accept", "*/*"],
  ["Accept-Encoding", /^gzip, deflate/],
  ["User-Agent", /x-session\//],
];

interface Peer extends AsyncDisposable {
  readonly port: number;
  /** What reached the server, in order: plain requests and upgrade requests alike. */
  readonly seen: Array<{ kind: "http" | "ws"; url: string; headers: Array<[string, string]> }>;
  url(scheme: "http" | "ws", path: string, userinfo?: string): string;
}

/** One node:http server that records every request's raw headers, with a `ws` server on its upgrades. */
async function startPeer(): Promise<Peer> {
  const srv = await startWsServer();
  const server = srv.server as Server;
  const seen: Peer["seen"] = [];
  const record = (kind: "http" | "ws", req: IncomingMessage) => {
    const headers: Array<[string, string]> = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      if (!TRANSPORT.has(name.toLowerCase())) headers.push([name, req.rawHeaders[i + 1]!]);
    }
    seen.push({ kind, url: req.url ?? "", headers });
  };
  // The fixture answers plain requests with 426; this peer answers them with 200.
  server.removeAllListeners("request");
  server.on("request", (req, res) => {
    record("http", req);
    res.end("ok");
  });
  server.on("upgrade", (req: IncomingMessage) => record("ws", req));
  return {
    port: srv.port,
    seen,
    url: (scheme, path, userinfo) =>
      `${scheme}://${userinfo ? `${userinfo}@` : ""}127.0.0.1:${srv.port}${path}`,
    [Symbol.asyncDispose]: () => srv.close(),
  };
}

interface Ctx {
  readonly main: Peer;
  readonly other: Peer;
  readonly proxy: ProxyTestServer;
  readonly netrc: string;
}

/** What a call may say, the same for both paths. */
interface CallOptions {
  headers?: Record<string, string>;
  skipAutoHeaders?: string[];
  auth?: Auth;
  cookies?: CookieInput | null;
  proxy?: string | null;
}

interface PolicyCase {
  name: string;
  session?: (ctx: Ctx) => ClientSessionOptions<CookieJar>;
  call?: (ctx: Ctx) => CallOptions;
  /** The server asked: `main` (default) or `other` (another origin: same host, another port). */
  peer?: "main" | "other";
  /** Credentials in the URL. */
  userinfo?: string;
  env?: (ctx: Ctx) => Record<string, string>;
  /** The route: through the proxy fixture, or direct. */
  proxied?: boolean;
  /** The headers the server received after the transport's own, in order. */
  expected: Expected;
}

const cases: PolicyCase[] = [
  {
    name: "session headers, then the auto headers",
    session: () => ({ headers: { "X-Session": "s" } }),
    expected: [["X-Session", "s"], ...AUTO],
  },
  {
    name: "a per-call header overrides a session header of the same name (any case) and call headers come first",
    session: () => ({ headers: { "X-Session": "s", "X-Both": "session" } }),
    call: () => ({ headers: { "x-both": "call", "X-Call": "c" } }),
    expected: [["x-both", "call"], ["X-Call", "c"], ["X-Session", "s"], ...AUTO],
  },
  {
    name: "session headers given as a WHATWG Headers",
    session: () => ({ headers: new Headers({ "X-Whatwg": "w" }) }),
    expected: [["x-whatwg", "w"], ...AUTO],
  },
  {
    name: "a list value sends each item, leaving out undefined and null",
    session: () => ({ headers: { "X-List": ["1", undefined, null, "2"] } }),
    expected: [["X-List", "1"], ["X-List", "2"], ...AUTO],
  },
  {
    name: "a per-call header replaces every session header of its name, the first one included",
    session: () => ({
      headers: [
        ["X-Dup", "1"],
        ["Other", "o"],
        ["x-dup", "2"],
      ],
    }),
    call: () => ({ headers: { "X-DUP": "c" } }),
    expected: [["X-DUP", "c"], ["Other", "o"], ...AUTO],
  },
  {
    name: "a per-call Accept replaces the auto one, in the caller's place",
    call: () => ({ headers: { accept: "application/json" } }),
    expected: [["accept", "application/json"], AUTO[1]!, AUTO[2]!],
  },
  {
    name: "session skipAutoHeaders",
    session: () => ({ skipAutoHeaders: ["user-agent", "Accept"] }),
    expected: [AUTO[1]!],
  },
  {
    name: "per-call skipAutoHeaders",
    call: () => ({ skipAutoHeaders: ["Accept-Encoding"] }),
    expected: [AUTO[0]!, AUTO[2]!],
  },
  {
    name: "order: call headers, session headers, auto headers, Cookie, Authorization",
    session: (ctx) => ({
      baseUrl: ctx.main.url("http", "/"),
      headers: { "X-Session": "s" },
      cookies: { jar: "1" },
      auth: new BasicAuth("ada", "lovelace"),
    }),
    call: () => ({ headers: { "X-Call": "c" } }),
    expected: [
      ["X-Call", "c"],
      ["X-Session", "s"],
      ...AUTO,
      ["Cookie", "jar=1"],
      ["Authorization", basic("ada", "lovelace")],
    ],
  },
  {
    name: "session auth is sent to baseUrl's origin",
    session: (ctx) => ({ baseUrl: ctx.main.url("http", "/"), auth: new BasicAuth("ada", "lovelace") }),
    expected: [...AUTO, ["Authorization", basic("ada", "lovelace")]],
  },
  {
    name: "session auth is not sent to another origin",
    session: (ctx) => ({ baseUrl: ctx.main.url("http", "/"), auth: new BasicAuth("ada", "lovelace") }),
    peer: "other",
    expected: AUTO,
  },
  {
    name: "request auth, over the session's",
    session: (ctx) => ({ baseUrl: ctx.main.url("http", "/"), auth: new BasicAuth("ada", "lovelace") }),
    call: () => ({ auth: new BasicAuth("grace", "hopper") }),
    expected: [...AUTO, ["Authorization", basic("grace", "hopper")]],
  },
  {
    name: "credentials in the URL's userinfo",
    userinfo: "url%20user:s3cret",
    expected: [...AUTO, ["Authorization", basic("url user", "s3cret")]],
  },
  {
    name: ".netrc with trustEnv",
    session: () => ({ trustEnv: true }),
    env: (ctx) => ({ NETRC: ctx.netrc }),
    expected: [...AUTO, ["Authorization", basic("nadia", "netrc-pw")]],
  },
  {
    name: ".netrc without trustEnv is not read",
    env: (ctx) => ({ NETRC: ctx.netrc }),
    expected: AUTO,
  },
  {
    name: "jar cookies and per-call cookies, merged by name",
    session: () => ({ cookies: { a: "1", b: "jar" } }),
    call: () => ({ cookies: { b: "call", c: "3" } }),
    expected: [...AUTO, ["Cookie", "a=1; b=call; c=3"]],
  },
  {
    name: "a Cookie header the caller gave is kept, the jar's cookies appended",
    session: () => ({ cookies: { a: "1" } }),
    call: () => ({ headers: { Cookie: "mine=x" } }),
    expected: [...AUTO, ["Cookie", "mine=x; a=1"]],
  },
  {
    name: "cookies: null adds none (the jar's are still sent)",
    session: () => ({ cookies: { a: "1" } }),
    call: () => ({ cookies: null }),
    expected: [...AUTO, ["Cookie", "a=1"]],
  },
  {
    name: "cookies: null with an empty jar: no Cookie header",
    call: () => ({ cookies: null }),
    expected: AUTO,
  },
  {
    name: "the session's proxy",
    session: (ctx) => ({ proxy: ctx.proxy.origin, headers: { "X-Session": "s" } }),
    proxied: true,
    expected: [["X-Session", "s"], ...AUTO],
  },
  {
    name: "per-call proxy: null goes direct despite the session's",
    session: (ctx) => ({ proxy: ctx.proxy.origin }),
    call: () => ({ proxy: null }),
    expected: AUTO,
  },
  {
    name: "a per-call proxy",
    call: (ctx) => ({ proxy: ctx.proxy.origin }),
    proxied: true,
    expected: AUTO,
  },
  {
    name: "trustEnv takes HTTP_PROXY / WS_PROXY",
    session: () => ({ trustEnv: true }),
    env: (ctx) => ({ HTTP_PROXY: ctx.proxy.origin, WS_PROXY: ctx.proxy.origin }),
    proxied: true,
    expected: AUTO,
  },
  {
    name: "trustEnv with NO_PROXY naming the host goes direct",
    session: () => ({ trustEnv: true }),
    env: (ctx) => ({ HTTP_PROXY: ctx.proxy.origin, WS_PROXY: ctx.proxy.origin, NO_PROXY: "127.0.0.1" }),
    expected: AUTO,
  },
  {
    name: "HTTP_PROXY / WS_PROXY without trustEnv are ignored",
    env: (ctx) => ({ HTTP_PROXY: ctx.proxy.origin, WS_PROXY: ctx.proxy.origin }),
    expected: AUTO,
  },
];

const ENV_NAMES = ["NETRC", "NO_PROXY", "no_proxy"].concat(
  ...["http", "https", "ws", "wss", "all"].map((s) => [`${s}_proxy`, `${s.toUpperCase()}_PROXY`]),
);
const saved = { ...process.env };
const clearEnv = () => {
  for (const name of ENV_NAMES) delete process.env[name];
};
beforeEach(clearEnv);
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

const dir = mkdtempSync(join(tmpdir(), "x-policy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const netrc = join(dir, "netrc");
writeFileSync(netrc, "machine 127.0.0.1\n  login nadia\n  password netrc-pw\n", { mode: 0o600 });

interface Observed {
  headers: Array<[string, string]>;
  proxied: ProxiedRequest[];
  url: string;
}

async function observe(c: PolicyCase, ctx: Ctx, kind: "http" | "ws"): Promise<Observed> {
  const peer = c.peer === "other" ? ctx.other : ctx.main;
  const seenBefore = peer.seen.length;
  const proxiedBefore = ctx.proxy.requests.length;
  clearEnv();
  Object.assign(process.env, c.env?.(ctx) ?? {});
  const session = new ClientSession({ cookieJar: new CookieJar({ unsafe: true }), ...c.session?.(ctx) });
  try {
    const call: CallOptions = c.call?.(ctx) ?? {};
    const url = peer.url(kind, "/policy?q=1", c.userinfo);
    if (kind === "http") {
      await using resp = await session.get(url, call);
      expect(await resp.text()).toBe("ok");
    } else {
      // The same options object: session.wsConnect takes what the policy decides from.
      const ws = await session.wsConnect(url, call);
      await ws.close();
    }
  } finally {
    await session.close();
    clearEnv();
  }
  const seen = peer.seen.slice(seenBefore);
  expect(seen.map((s) => s.kind)).toEqual([kind]);
  return {
    headers: seen[0]!.headers,
    proxied: ctx.proxy.requests.slice(proxiedBefore),
    url: seen[0]!.url,
  };
}

/** Headers as a proxy forwarding a plain request passes them on: names in lower case. */
const lower = (headers: ReadonlyArray<readonly [string, string | RegExp]>) =>
  headers.map(([name, value]) => [name.toLowerCase(), value] as const);

function expectHeaders(actual: Array<[string, string]>, expected: Expected): void {
  expect(actual.map(([name]) => name)).toEqual(expected.map(([name]) => name));
  expected.forEach(([name, value], i) => {
    const got = actual[i]?.[1];
    if (typeof value === "string") expect(got, name).toBe(value);
    else expect(got, name).toMatch(value);
  });
}

describe("one request policy for requests and websocket handshakes", () => {
  it.each(cases)("$name", async (c) => {
    await using main = await startPeer();
    await using other = await startPeer();
    await using proxy = await startProxyServer();
    const ctx: Ctx = { main, other, proxy, netrc };
    const http = await observe(c, ctx, "http");
    const ws = await observe(c, ctx, "ws");
    const port = (c.peer === "other" ? other : main).port;
    expect(http.url).toBe("/policy?q=1");
    expect(ws.url).toBe("/policy?q=1");

    if (c.proxied) {
      // A plain request goes to the proxy in absolute form; a handshake through a CONNECT tunnel
      // that carries none of the request's headers.
      expect(http.proxied.map((r) => [r.method, r.target])).toEqual([
        ["GET", `http://127.0.0.1:${port}/policy?q=1`],
      ]);
      expect(ws.proxied.map((r) => [r.method, r.target])).toEqual([["CONNECT", `127.0.0.1:${port}`]]);
      const connect = ws.proxied[0]!.headers;
      for (const name of ["authorization", "cookie", "x-session"])
        expect(connect[name], `CONNECT ${name}`).toBeUndefined();
      // The proxy fixture forwards plain requests with lower-cased names, in order.
      expectHeaders(http.headers, lower(c.expected));
      expectHeaders(ws.headers, c.expected);
      expect(lower(ws.headers)).toEqual(lower(http.headers));
    } else {
      expect(http.proxied).toEqual([]);
      expect(ws.proxied).toEqual([]);
      expectHeaders(http.headers, c.expected);
      expectHeaders(ws.headers, c.expected);
      expect(ws.headers).toEqual(http.headers);
    }
  });
});
