import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { Readable } from "node:stream";
import v8 from "node:v8";
import vm from "node:vm";
import type { TCPConnector } from "@x/connector";
import { CookieJar } from "@x/cookies";
import {
  ClientStateError,
  ConnectionTimeoutError,
  InvalidArgumentError,
  SocketTimeoutError,
} from "@x/errors";
import {
  sleep,
  startHttp2Server,
  startHttpServer,
  startRawServer,
  startWsServer,
  testCertificates,
} from "@x/fixtures";
import { Agent } from "undici";
import { describe, expect, it, vi } from "vitest";
import { ClientSession, request } from "../src/index.js";
import { ScriptedDispatcher } from "./scripted-dispatcher.js";

/** A dispatcher of the caller's own: records what it is asked to send and answers 200 at once. */
const newRecorder = () =>
  new ScriptedDispatcher((handler, controller) => {
    handler.onResponseStart?.(controller, 200, {}, "OK");
    handler.onResponseEnd?.(controller, {});
  });

/** Header names (lowercased) of a flat `[name, value, …]` list. */
const namesOf = (headers: unknown): string[] =>
  (headers as string[]).filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());

/** The header lines of a request head, as lowercased `[name, value]` pairs. */
const headLines = (head: string): Array<[string, string]> =>
  head
    .split("\r\n")
    .slice(1)
    .filter((line) => line !== "")
    .map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    });

describe("making a session", () => {
  it("warns, once it is collected, about a session that was never closed", async () => {
    v8.setFlagsFromString("--expose-gc");
    const collect = vm.runInNewContext("gc") as () => void;
    const warnings: Error[] = [];
    const onWarning = (w: Error) => {
      const code = (w as { code?: unknown }).code;
      if (w.name === "ResourceWarning" || code === "X_UNCLOSED_SESSION" || /unclosed/i.test(w.message))
        warnings.push(w);
    };
    process.on("warning", onWarning);
    try {
      (() => {
        new ClientSession();
      })();
      for (let i = 0; i < 50 && warnings.length === 0; i++) {
        collect();
        await sleep(10);
      }
    } finally {
      process.off("warning", onWarning);
    }
    // (Any session another test file left unclosed in this worker warns the same way.)
    const kinds = new Set(
      warnings.map((w) => JSON.stringify([w.name, (w as { code?: unknown }).code, w.message])),
    );
    expect([...kinds]).toEqual([
      JSON.stringify(["ResourceWarning", "X_UNCLOSED_SESSION", "Unclosed client session"]),
    ]);
  });

  it("refuses a connector that is not a Dispatcher object", () => {
    const message = "connector must be an undici Dispatcher (with a dispatch method)";
    expect(() => new ClientSession({ connector: null as never })).toThrow(InvalidArgumentError);
    expect(() => new ClientSession({ connector: null as never })).toThrow(message);
    // A function carrying a dispatch method is still not a Dispatcher.
    const fn = Object.assign(() => {}, {
      dispatch: () => true,
      close: async () => {},
      destroy: async () => {},
    });
    expect(() => new ClientSession({ connector: fn as never })).toThrow(message);
  });

  it("the connector it makes takes response heads up to 64 KiB, or 4 × maxFieldSize when larger", async () => {
    const lines = (count: number, size: number) =>
      Array.from({ length: count }, (_, i) => `X-Big-${i}: ${"v".repeat(size)}\r\n`).join("");
    await using srv = await startRawServer(async (conn) => {
      const head = await conn.readHead();
      const extra = head.startsWith("GET /wide ") ? lines(4, 18_000) : lines(6, 7000);
      await conn.write(`HTTP/1.1 200 OK\r\n${extra}Content-Length: 2\r\n\r\nok`);
    });
    // 42 KB of header lines, each under the default maxFieldSize (8190).
    await using plain = new ClientSession();
    await using a = await plain.get(srv.url("/narrow"));
    expect(a.headers.get("x-big-5")).toHaveLength(7000);
    expect(await a.text()).toBe("ok");
    // 72 KB, each line under maxFieldSize 20000 (so up to 80 KB in all).
    await using wide = new ClientSession({ maxFieldSize: 20_000 });
    await using b = await wide.get(srv.url("/wide"));
    expect(b.headers.get("x-big-3")).toHaveLength(18_000);
    expect(await b.text()).toBe("ok");
  });

  it("speaks HTTP/1.1 to an HTTP/2-capable origin unless http2: true", async () => {
    await using srv = await startHttp2Server((_req, res) => res.end("hi"));
    await using session = new ClientSession();
    await using resp = await session.get(srv.url(), { ssl: { ca: srv.ca } });
    expect(resp.version).toEqual({ major: 1, minor: 1 });
    expect(await resp.text()).toBe("hi");
    expect(srv.versions).toEqual(["1.1"]);
  });
});

describe("session.request()", () => {
  it("refuses options that are not an object, before any I/O", async () => {
    await using srv = await startHttpServer((_req, res) => res.end());
    await using session = new ClientSession();
    for (const options of ["fast", null]) {
      const err = await session.get(srv.url(), options as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toBe("options must be an object");
    }
    expect(srv.stats.accepted).toBe(0);
  });

  it("starts sockRead when the head goes out for a body of bytes", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.readToEnd();
    });
    await using session = new ClientSession();
    const err = await session
      .post(srv.url(), { data: "x", timeout: { sockRead: 100, total: 3000 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SocketTimeoutError);
  });

  it("does not move the sockRead deadline when the caller's dispatcher takes a chunked body of bytes late", async () => {
    // sockRead starts when the head goes out for a body whose bytes are known (chunked or not);
    // only a streamed body restarts it as its pieces go out.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      // Takes the request and never answers: the body is pulled by the test, late.
      const late = new ScriptedDispatcher(() => {});
      await using session = new ClientSession({ connector: late });
      const outcome = session
        .post("http://late.test/", { data: "payload", chunked: true, timeout: { sockRead: 400 } })
        .then(
          () => "answered",
          (e: unknown) => e,
        );
      for (let i = 0; i < 50 && late.seen.length === 0; i++) await new Promise((r) => setImmediate(r));
      await vi.advanceTimersByTimeAsync(300);
      const body = late.seen[0]?.body as AsyncIterable<Uint8Array> | undefined;
      const first = await body?.[Symbol.asyncIterator]().next();
      expect(Buffer.from(first?.value ?? []).toString()).toBe("payload");
      await vi.advanceTimersByTimeAsync(150);
      expect(await Promise.race([outcome, Promise.resolve("pending")])).toBeInstanceOf(SocketTimeoutError);
    } finally {
      vi.useRealTimers();
    }
  });

  it("sends a Content-Length the caller set once, also when the upload is watched", async () => {
    const heads: string[] = [];
    await using srv = await startRawServer(async (conn) => {
      heads.push(await conn.readHead());
      await conn.readBytes(5);
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    await using session = new ClientSession();
    const loaded: number[] = [];
    await using resp = await session.post(srv.url(), {
      data: "hello",
      headers: { "Content-Length": "5" },
      onUploadProgress: (p) => loaded.push(p.loaded),
    });
    expect(await resp.text()).toBe("ok");
    expect(loaded).toEqual([5]);
    expect(headLines(heads[0]!).filter(([name]) => name === "content-length")).toEqual([
      ["content-length", "5"],
    ]);
  });

  it("adds no Content-Length to a Transfer-Encoding the caller set (their own dispatcher sends it)", async () => {
    const recorder = newRecorder();
    await using session = new ClientSession({ connector: recorder });
    await using resp = await session.post("http://rec.test/", {
      data: new Blob(["hello"]),
      headers: { "Transfer-Encoding": "chunked" },
    });
    expect(resp.status).toBe(200);
    const names = namesOf(recorder.seen[0]?.headers);
    expect(names).toContain("transfer-encoding");
    expect(names).not.toContain("content-length");
    // Without the caller's header, the Blob's length is declared.
    await using sized = await session.post("http://rec.test/", { data: new Blob(["hello"]) });
    const headers = recorder.seen[1]?.headers as string[];
    expect(
      headers[headers.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === "content-length") + 1],
    ).toBe("5");
    expect(sized.status).toBe(200);
  });

  it("says why proxy and expect100 need an @x/connector connector", async () => {
    await using session = new ClientSession({ connector: newRecorder() });
    const proxied = await session
      .get("http://rec.test/", { proxy: "http://127.0.0.1:9/" })
      .catch((e: unknown) => e);
    expect(proxied).toBeInstanceOf(InvalidArgumentError);
    expect((proxied as Error).message).toBe(
      "proxy needs an @x/connector connector; with undici, use its ProxyAgent as the connector",
    );
    const waiting = await session
      .post("http://rec.test/", { data: "x", expect100: true })
      .catch((e: unknown) => e);
    expect(waiting).toBeInstanceOf(InvalidArgumentError);
    expect((waiting as Error).message).toBe(
      "expect100 needs a connector that honours undici's expectContinue over HTTP/1.1 (an @x/connector connector); undici's own clients wait for 100 Continue over HTTP/2 only",
    );
  });

  it("gives requestInfo.headers as the headers sent, the same Headers object each time", async () => {
    const heads: string[] = [];
    await using srv = await startRawServer(async (conn) => {
      heads.push(await conn.readHead());
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    await using session = new ClientSession({ headers: { "X-Session": "s" } });
    await using resp = await session.get(srv.url("/info"), { headers: { "X-Req": "r" } });
    const info = resp.requestInfo;
    expect(info.headers).toBe(info.headers);
    info.headers.set("x-note", "kept");
    expect(resp.requestInfo.headers.get("x-note")).toBe("kept");
    info.headers.delete("x-note");
    // undici adds Host and Connection itself; everything else on the wire is what requestInfo says.
    const wire = headLines(heads[0]!)
      .filter(([name]) => name !== "host" && name !== "connection")
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    expect([...info.headers]).toEqual(wire);
    expect(wire.map(([name]) => name)).toEqual([
      "accept",
      "accept-encoding",
      "user-agent",
      "x-req",
      "x-session",
    ]);
  });
});

describe("session.wsConnect()", () => {
  it("is refused on a closed session, saying so", async () => {
    const session = new ClientSession();
    await session.close();
    const err = await session.wsConnect("ws://127.0.0.1:9/").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientStateError);
    expect((err as Error).message).toBe("Session is closed");
  });

  it("names the connector that cannot give sockets", async () => {
    await using session = new ClientSession({ connector: new Agent() });
    const err = await session.wsConnect("ws://127.0.0.1:9/").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toBe(
      "session.wsConnect needs a connector that gives sockets (connectSocket(), as @x/connector's connectors do); this session's Agent cannot. Open the websocket with an @x/connector connector, e.g. a second session.",
    );
  });

  it("opens wss:// and https:// URLs over TLS", async () => {
    await using srv = await startWsServer({ tls: true });
    const { ca } = await testCertificates();
    await using session = new ClientSession();
    for (const url of [srv.url("/a"), srv.url("/b").replace("wss:", "https:")]) {
      await using ws = await session.wsConnect(url, { ssl: { ca } });
      await ws.sendStr(url);
      expect(await ws.receiveStr()).toBe(url);
    }
    expect(srv.upgrades.map((r) => r.url)).toEqual(["/a", "/b"]);
  });

  it("gives the handshake the session's connect timeouts unless the call has its own", async () => {
    // A server that never answers the TLS ClientHello.
    await using silent = await startRawServer(async (conn) => {
      await conn.readToEnd();
    });
    const wss = silent.url("/").replace("http:", "wss:");
    await using session = new ClientSession({ timeout: { sockConnect: 100 } });
    for (const url of [wss, wss.replace("wss:", "https:")]) {
      const started = Date.now();
      const err = await session
        .wsConnect(url, { signal: AbortSignal.timeout(3000) })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectionTimeoutError);
      expect(Date.now() - started).toBeLessThan(2000);
    }
    await using patient = new ClientSession();
    const err = await patient
      .wsConnect(wss, { connectTimeout: { sockConnect: 100 }, signal: AbortSignal.timeout(3000) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionTimeoutError);
  });

  for (const mode of ["sync", "async"] as const) {
    it(`fails and closes the websocket when the jar refuses the handshake's cookies (${mode})`, async () => {
      const closed: number[] = [];
      await using srv = await startWsServer({
        onConnection: (ws) => ws.on("close", (code) => closed.push(code)),
      });
      srv.wss.on("headers", (headers) => headers.push("Set-Cookie: wsid=42; Path=/"));
      const refusal = new Error(`the jar is full (${mode})`);
      const jar = {
        updateCookiesFromHeaders() {
          if (mode === "sync") throw refusal;
          return Promise.reject(refusal);
        },
        filterCookies: () => new Map(),
      };
      await using session = new ClientSession({ cookieJar: jar });
      const err = await session.wsConnect(srv.url("/")).catch((e: unknown) => e);
      expect(err).toBe(refusal);
      await vi.waitFor(() => expect(closed).toHaveLength(1));
    });
  }
});

describe("the basic request()", () => {
  /** The one-shot sessions request() makes, as the x:session:request-start channel reports them. */
  async function sessionsOf(body: () => Promise<void>): Promise<ClientSession[]> {
    const sessions: ClientSession[] = [];
    const onStart = (message: unknown) => sessions.push((message as { session: ClientSession }).session);
    subscribe("x:session:request-start", onStart);
    try {
      await body();
    } finally {
      unsubscribe("x:session:request-start", onStart);
    }
    return sessions;
  }

  it("closes its one-shot session and that session's connector once the body is read", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("once"));
    const [session] = await sessionsOf(async () => {
      const resp = await request("GET", srv.url());
      expect(await resp.text()).toBe("once");
    });
    if (!session) throw new Error("request() published no request-start");
    expect(session.connectorOwner).toBe(true);
    await vi.waitFor(() => {
      expect(session.closed).toBe(true);
      expect((session.connector as TCPConnector).closed).toBe(true);
    });
  });

  it("uses the cookieJar it is given", async () => {
    const cookies: Array<string | undefined> = [];
    await using srv = await startHttpServer((req, res) => {
      cookies.push(req.headers.cookie);
      res.writeHead(200, { "set-cookie": "sid=7; Path=/" }).end("ok");
    });
    const jar = new CookieJar({ unsafe: true });
    for (let i = 0; i < 2; i++) {
      const resp = await request("GET", srv.url(), { cookieJar: jar });
      expect(await resp.text()).toBe("ok");
    }
    expect(jar.filterCookies(new URL(srv.url())).get("sid")?.value).toBe("7");
    expect(cookies).toEqual([undefined, "sid=7"]);
  });

  it("uses the version it is given: HTTP/1.0 refuses a streamed body before connecting", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("ok"));
    const err = await request("POST", srv.url(), { version: "1.0", data: Readable.from(["x"]) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toBe(
      "an HTTP/1.0 request needs a body of known length (bytes, not a stream)",
    );
    expect(srv.stats.accepted).toBe(0);
  });
});
