import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import type { Auth } from "@x/auth";
import { TCPConnector } from "@x/connector";
import { type AbstractCookieJar, type CookieRecord, parseSetCookie } from "@x/cookies";
import {
  ConnectionTimeoutError,
  InvalidArgumentError,
  InvalidUrlClientError,
  ServerDisconnectedError,
  TooManyRedirects,
  TotalTimeoutError,
} from "@x/errors";
import {
  type EchoReply,
  echo,
  echoHeader,
  readBody,
  redirector,
  sleep,
  startHttpServer,
  startRawServer,
} from "@x/fixtures";
import { Dispatcher, errors as undiciErrors } from "undici";
import { describe, expect, it } from "vitest";
import {
  type ClientMiddleware,
  ClientSession,
  type Progress,
  sessionChannels,
  TraceConfig,
} from "../src/index.js";

const json = async (r: { json(): Promise<unknown> }) => (await r.json()) as EchoReply;

const OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";

/**
 * A dispatcher of a user's own that reads the request body it is given (as a server would), then
 * answers `200 done`; or, while `failures` is above zero, fails the request with `failWith()`
 * before any response, as a dead connection does. It does not say which connection it used.
 */
class BodyReadingDispatcher extends Dispatcher {
  readonly bodies: Buffer[] = [];
  readonly headers: string[][] = [];
  failures = 0;

  constructor(private readonly failWith: () => Error = () => new Error("unused")) {
    super();
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const controller = {
      aborted: false,
      paused: false,
      reason: null,
      abort() {},
      pause() {},
      resume() {},
    } as unknown as Dispatcher.DispatchController;
    const run = async () => {
      handler.onRequestStart?.(controller, {});
      this.headers.push(options.headers as string[]);
      const chunks: Buffer[] = [];
      const body = options.body as unknown;
      if (typeof body === "string" || Buffer.isBuffer(body)) chunks.push(Buffer.from(body));
      else if (body && typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === "function")
        for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
      this.bodies.push(Buffer.concat(chunks));
      if (this.failures > 0) {
        this.failures--;
        handler.onResponseError?.(controller, this.failWith());
        return;
      }
      handler.onResponseStart?.(controller, 200, { "content-length": "4" }, "OK");
      handler.onResponseData?.(controller, Buffer.from("done"));
      handler.onResponseEnd?.(controller, {});
    };
    setImmediate(() => {
      run().catch((err: Error) => handler.onResponseError?.(controller, err));
    });
    return true;
  }

  override async close(): Promise<void> {}
  override async destroy(): Promise<void> {}
}

describe("per-call timeouts and limits", () => {
  it("the seed's readTimeout on a call is its total timeout, alone or with connTimeout", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await sleep(1500);
      await conn.end();
    });
    const seen: unknown[] = [];
    const look: ClientMiddleware = async (request, next) => {
      seen.push(request.timeout);
      return next(request);
    };
    await using session = new ClientSession({ middlewares: [look] });
    const started = Date.now();
    const err = await session.get(srv.url(), { readTimeout: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TotalTimeoutError);
    expect(Date.now() - started).toBeLessThan(1200);
    await session.get(srv.url(), { readTimeout: 100, connTimeout: 40 }).catch((e: unknown) => e);
    expect(seen).toEqual([
      { total: 100, connect: null, sockConnect: 30_000, sockRead: null },
      { total: 100, connect: 40, sockConnect: 30_000, sockRead: null },
    ]);
  });

  it("the seed's connTimeout on a call bounds the wait for a connection", async () => {
    await using srv = await startHttpServer((_req, res) => setTimeout(() => res.end("slow"), 300));
    await using session = new ClientSession({ connector: new TCPConnector({ limit: 1 }) });
    const held = session.get(srv.url());
    const err = await session.get(srv.url(), { connTimeout: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionTimeoutError);
    expect(await (await held).text()).toBe("slow");
  });

  it("takes 1 as a per-call limit", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("tiny"));
    await using session = new ClientSession();
    const resp = await session.get(srv.url(), { readBufsize: 1 });
    expect(await resp.text()).toBe("tiny");
  });
});

describe("json: undefined is no json", () => {
  it("sends no body, and lets data be sent beside it", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const none = await json(await session.post(srv.url(), { json: undefined }));
    expect([none.body, echoHeader(none, "content-type")]).toEqual(["", "application/octet-stream"]);
    const data = await json(await session.post(srv.url(), { data: "text", json: undefined }));
    expect([data.body, echoHeader(data, "content-type")]).toEqual(["text", "text/plain; charset=utf-8"]);
  });
});

describe("a Content-Length set by the caller", () => {
  it("may equal the body's length: the body goes as it is, with its own type", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const reply = await json(
      await session.post(srv.url(), { data: "héllo", headers: { "Content-Length": "6" } }),
    );
    expect([reply.body, echoHeader(reply, "content-type"), echoHeader(reply, "content-length")]).toEqual([
      "héllo",
      "text/plain; charset=utf-8",
      "6",
    ]);
  });

  it("of 0 sends an empty body", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const reply = await json(
      await session.post(srv.url(), { data: "abc", headers: { "Content-Length": "0" } }),
    );
    expect([reply.body, echoHeader(reply, "content-length")]).toEqual(["", "0"]);
  });

  it("longer than the body is refused before any I/O, saying both lengths", async () => {
    await using srv = await startRawServer(async () => {});
    await using session = new ClientSession();
    const err = await session
      .post(srv.url(), { data: "0123456789", headers: { "Content-Length": "11" } })
      .catch((e: unknown) => e);
    expect(err).toEqual(new InvalidArgumentError("Content-Length 11 is longer than the 10-byte body"));
    expect(srv.stats.accepted).toBe(0);
  });

  it("cuts a body to its length and keeps its type, across a 307 too", async () => {
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession();
    const sent = async (options: object) => {
      const reply = await json(await session.post(srv.url(), options));
      return [reply.body, echoHeader(reply, "content-type"), echoHeader(reply, "content-length")];
    };
    expect(await sent({ data: "héllo", headers: { "Content-Length": "3" } })).toEqual([
      "hé",
      "text/plain; charset=utf-8",
      "3",
    ]);
    expect(await sent({ json: { a: 1 }, headers: { "Content-Length": "4" } })).toEqual([
      '{"a"',
      "application/json",
      "4",
    ]);
    const followed = await json(
      await session.post(srv.url("/r/307?to=/end"), { data: "héllo", headers: { "Content-Length": "3" } }),
    );
    expect([followed.url, followed.body, echoHeader(followed, "content-type")]).toEqual([
      "/end",
      "hé",
      "text/plain; charset=utf-8",
    ]);
  });

  it("cuts a FormData body, encoded once, and keeps its multipart type", async () => {
    const bodies: Buffer[] = [];
    await using srv = await startHttpServer(async (req, res) => {
      bodies.push(await readBody(req));
      res.end(req.headers["content-type"]);
    });
    await using session = new ClientSession();
    const form = new FormData();
    form.append("field", "value");
    const resp = await session.post(srv.url(), { data: form, headers: { "Content-Length": "10" } });
    const boundary = /^multipart\/form-data; boundary=(.+)$/.exec(await resp.text())?.[1] ?? "";
    expect(boundary).not.toBe("");
    expect(bodies[0]!.toString()).toBe(`--${boundary}`.slice(0, 10));
  });

  it("gives the upload its total when the body is a stream", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const up: Progress[] = [];
    const reply = await json(
      await session.post(srv.url(), {
        data: Readable.from([Buffer.from("0123456789"), Buffer.from("abcdefghij")]),
        headers: { "Content-Length": "12" },
        onUploadProgress: (p) => up.push(p),
      }),
    );
    expect(reply.body).toBe("0123456789ab");
    expect(up).toEqual([
      { loaded: 10, total: 12 },
      { loaded: 12, total: 12 },
    ]);
  });

  it("that is not plain digits gives the upload no total (with a dispatcher that sends it)", async () => {
    for (const length of ["1e1", "10.0"]) {
      const dispatcher = new BodyReadingDispatcher();
      await using session = new ClientSession({ connector: dispatcher });
      const up: Progress[] = [];
      const resp = await session.post("http://own.test/", {
        data: Readable.from([Buffer.from("0123456789abc")]),
        headers: { "Content-Length": length },
        onUploadProgress: (p) => up.push(p),
      });
      expect(await resp.text()).toBe("done");
      expect(dispatcher.bodies.map(String)).toEqual(["0123456789"]);
      expect(up, length).toEqual([{ loaded: 10, total: null }]);
    }
  });

  it("an HTTP/1.0 session refuses a stream, saying why", async () => {
    await using session = new ClientSession({ version: "1.0" });
    const err = await session
      .post("http://127.0.0.1:9/", { data: Readable.from(["x"]) })
      .catch((e: unknown) => e);
    expect(err).toEqual(
      new InvalidArgumentError("an HTTP/1.0 request needs a body of known length (bytes, not a stream)"),
    );
  });
});

describe("the retry of a dead keep-alive connection", () => {
  it("retries a GET whose reused connection is reset before any answer", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write(OK);
      if (conn.index === 0) {
        await conn.readHead();
        conn.reset();
      }
    });
    await using session = new ClientSession();
    expect(await (await session.get(srv.url("/1"))).text()).toBe("ok");
    expect(await (await session.get(srv.url("/2"))).text()).toBe("ok");
    expect(srv.connections).toHaveLength(2);
  });

  it("retries once: a second dead connection from the pool fails the call", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      if (conn.index < 2) {
        await sleep(30);
        await conn.write(OK);
        await conn.readHead();
        conn.socket.end();
        return;
      }
      await conn.write(OK);
    });
    await using session = new ClientSession();
    // Two requests at once leave two idle connections, both of which die on their next request.
    const both = await Promise.all([session.get(srv.url("/a")), session.get(srv.url("/b"))]);
    for (const r of both) expect(await r.text()).toBe("ok");
    expect(srv.connections).toHaveLength(2);
    const err = await session.get(srv.url("/c")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerDisconnectedError);
    expect(srv.connections).toHaveLength(2);
  });

  it("does not retry a PUT whose stream body cannot be sent again", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write(OK);
      await conn.readHead();
      conn.socket.end();
    });
    await using session = new ClientSession();
    await (await session.get(srv.url())).read();
    const err = await session.put(srv.url(), { data: Readable.from(["x"]) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerDisconnectedError);
    expect(srv.connections).toHaveLength(1);
  });

  it("retries with a dispatcher that does not say which connection it used", async () => {
    const dispatcher = new BodyReadingDispatcher(() => new undiciErrors.SocketError("other side closed"));
    dispatcher.failures = 1;
    await using session = new ClientSession({ connector: dispatcher });
    expect(await (await session.get("http://own.test/")).text()).toBe("done");
    expect(dispatcher.headers).toHaveLength(2);
    dispatcher.failures = 2;
    await expect(session.get("http://own.test/")).rejects.toBeInstanceOf(ServerDisconnectedError);
  });
});

describe("an auth's challenge", () => {
  it("is asked about a 401 only", async () => {
    const statuses: number[] = [];
    await using srv = await startHttpServer((req, res) => {
      statuses.push(req.url === "/locked" && !req.headers["x-again"] ? 401 : 200);
      res.statusCode = statuses.at(-1)!;
      res.end();
    });
    const asked: number[] = [];
    const auth: Auth = {
      encode: () => "Custom token",
      challenge: (_request, response) => {
        asked.push(response.status);
        return { headers: { "X-Again": "1" } };
      },
    };
    await using session = new ClientSession({ auth });
    expect((await session.get(srv.url("/open"))).status).toBe(200);
    expect((await session.get(srv.url("/locked"))).status).toBe(200);
    expect(asked).toEqual([401]);
    expect(statuses).toEqual([200, 401, 200]);
  });
});

describe("a cookie jar that answers with promises", () => {
  function asyncJar(fail?: Error): AbstractCookieJar & { stored: string[] } {
    const stored: string[] = [];
    return {
      stored,
      async updateCookiesFromHeaders(headers: readonly string[]) {
        await sleep(20);
        if (fail) throw fail;
        stored.push(...headers);
      },
      async filterCookies() {
        await sleep(5);
        const found = new Map<string, CookieRecord>();
        for (const h of stored) {
          const c = parseSetCookie(h);
          if (c) found.set(c.name, c);
        }
        return found;
      },
    } as AbstractCookieJar & { stored: string[] };
  }

  it("is waited for: cookies are stored before the response is handed over, and sent next time", async () => {
    await using srv = await startHttpServer((req, res) => {
      res.setHeader("set-cookie", "sid=42; Path=/");
      res.end(req.headers.cookie ?? "none");
    });
    const jar = asyncJar();
    await using session = new ClientSession({ cookieJar: jar });
    expect(await (await session.get(srv.url())).text()).toBe("none");
    expect(jar.stored).toEqual(["sid=42; Path=/"]);
    expect(await (await session.get(srv.url())).text()).toBe("sid=42");
  });

  it("fails the call when it cannot store them", async () => {
    await using srv = await startHttpServer((_req, res) => {
      res.setHeader("set-cookie", "sid=42");
      res.end("x");
    });
    const broken = new Error("jar is read-only");
    await using session = new ClientSession({ cookieJar: asyncJar(broken) });
    await expect(session.get(srv.url())).rejects.toBe(broken);
  });
});

describe("TooManyRedirects", () => {
  it("carries the last redirect's status and headers, and says how many were allowed", async () => {
    await using srv = await startHttpServer((req, res) => {
      const n = Number(req.url?.slice(1));
      res.writeHead(302, { location: `/${n + 1}`, "x-hop": String(n) }).end();
    });
    await using session = new ClientSession();
    const two = (await session
      .get(srv.url("/0"), { maxRedirects: 2 })
      .catch((e: unknown) => e)) as TooManyRedirects;
    expect(two).toBeInstanceOf(TooManyRedirects);
    expect([two.status, two.reason, two.headers?.get("x-hop")]).toEqual([
      302,
      "2 redirects (maxRedirects)",
      "1",
    ]);
    expect(two.message).toBe(`2 redirects (maxRedirects) (status 302): GET ${srv.url("/0")}`);
    const none = (await session
      .get(srv.url("/0"), { maxRedirects: 0 })
      .catch((e: unknown) => e)) as TooManyRedirects;
    expect([none.status, none.reason, none.headers?.get("x-hop")]).toEqual([
      302,
      "redirects are not allowed (maxRedirects)",
      "0",
    ]);
  });

  it("each redirect response's history is the chain up to and including it", async () => {
    await using srv = await startHttpServer((req, res) => {
      const n = Number(req.url?.slice(1));
      if (n < 2) res.writeHead(302, { location: `/${n + 1}` });
      res.end();
    });
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/0"));
    const paths = (rs: readonly { url: URL }[]) => rs.map((r) => r.url.pathname);
    expect(paths(resp.history)).toEqual(["/0", "/1"]);
    expect(paths(resp.history[0]!.history)).toEqual(["/0"]);
    expect(paths(resp.history[1]!.history)).toEqual(["/0", "/1"]);
  });
});

/**
 * A server whose `/start` redirects to `/end` with the given body, its head and `first` bytes at
 * once and the rest a moment later; `/end` answers `ok`. Each connection serves requests in turn.
 */
async function lateRedirectBody(head: string, body: Buffer, first: number) {
  return startRawServer(async (conn) => {
    for (;;) {
      const request = await conn.readHead();
      if (request.startsWith("GET /start ")) {
        await conn.write(
          Buffer.concat([
            Buffer.from(`HTTP/1.1 302 Found\r\nLocation: /end\r\n${head}\r\n`),
            body.subarray(0, first),
          ]),
        );
        await sleep(60);
        await conn.write(body.subarray(first));
      } else await conn.write(OK);
    }
  });
}

describe("the body of a redirect", () => {
  it.each([
    ["a small body", 10],
    ["a body of exactly 64 KiB", 64 * 1024],
  ])("is read when %s arrives late, so the connection carries the next hop", async (_what, size) => {
    const body = Buffer.alloc(size, 97);
    await using srv = await lateRedirectBody(`Content-Length: ${size}\r\n`, body, 4);
    await using session = new ClientSession();
    expect(await (await session.get(srv.url("/start"))).text()).toBe("ok");
    expect(srv.connections).toHaveLength(1);
  });

  it.each([
    ["longer than 64 KiB", `Content-Length: ${64 * 1024 + 1}\r\n`, Buffer.alloc(64 * 1024 + 1, 97)],
    ["of unknown length", "Transfer-Encoding: chunked\r\n", Buffer.from("5\r\nhello\r\n0\r\n\r\n")],
  ])("is dropped with its connection when %s and not all there", async (_what, head, body) => {
    await using srv = await lateRedirectBody(head, body, 4);
    await using session = new ClientSession();
    expect(await (await session.get(srv.url("/start"))).text()).toBe("ok");
    expect(srv.connections).toHaveLength(2);
  });

  it("is read up to 64 KiB decoded: a small compressed bomb is dropped, not inflated", async () => {
    const bomb = gzipSync(Buffer.alloc(1024 * 1024));
    await using srv = await lateRedirectBody(
      `Content-Encoding: gzip\r\nContent-Length: ${bomb.length}\r\n`,
      bomb,
      bomb.length - 8,
    );
    await using session = new ClientSession();
    expect(await (await session.get(srv.url("/start"))).text()).toBe("ok");
    expect(srv.connections).toHaveLength(2);
  });

  it("is read to its end when it decodes to exactly 64 KiB", async () => {
    const gz = gzipSync(Buffer.alloc(64 * 1024, 98));
    await using srv = await lateRedirectBody(
      `Content-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n`,
      gz,
      gz.length - 8,
    );
    await using session = new ClientSession();
    expect(await (await session.get(srv.url("/start"))).text()).toBe("ok");
    expect(srv.connections).toHaveLength(1);
  });
});

describe("a call that has failed", () => {
  it("sends no further hop once its total timeout ran out while a redirect body was read", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 10\r\n\r\nhalf!");
      await sleep(1000);
    });
    const hops: string[] = [];
    const record: ClientMiddleware = async (request, next) => {
      hops.push(request.url.pathname);
      return next(request);
    };
    await using session = new ClientSession({ middlewares: [record], timeout: { total: 150 } });
    const err = await session.get(srv.url("/first")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TotalTimeoutError);
    expect(hops).toEqual(["/first"]);
  });

  it("aborts the call's one signal with the first failure, even when that failure aborts the caller's", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await sleep(1000);
    });
    const user = new AbortController();
    const signals: AbortSignal[] = [];
    const link: ClientMiddleware = async (request, next) => {
      // Whoever waits on the call's signal may abort the caller's own work with it.
      signals.push(request.signal, request.signal);
      request.signal.addEventListener("abort", () => user.abort(new Error("linked")));
      return next(request);
    };
    await using session = new ClientSession({ middlewares: [link] });
    const err = await session
      .get(srv.url(), { signal: user.signal, timeout: { total: 100 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TotalTimeoutError);
    expect(user.signal.aborted).toBe(true);
    expect(signals.map((s) => s.reason)).toEqual([err, err]);
  });
});

describe("trace and channel params", () => {
  it("a URL the call refuses is reported as given, under http://invalid", async () => {
    const trace = new TraceConfig();
    const seen: string[] = [];
    trace.onRequestException.append((_s, _c, p) => {
      seen.push(`${p.url.href} ${(p.exception as Error).name}`);
    });
    await using session = new ClientSession({ traceConfigs: [trace] });
    const err = await session.get("/relative?q=1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidUrlClientError);
    expect(seen).toEqual(["http://invalid/relative?q=1 InvalidUrlClientError"]);
  });

  it("a subscriber to request-end or request-exception alone gets the call's first URL and headers", async () => {
    await using srv = await startHttpServer((req, res) => {
      if (req.url?.startsWith("/start")) res.writeHead(302, { location: "/final" }).end();
      else if (req.url === "/final") res.end("done");
      else req.socket.destroy();
    });
    const seen: string[] = [];
    const listen = (name: string) => (m: unknown) => {
      const { url, headers, method } = m as { url: URL; headers: Headers; method: string };
      seen.push(`${name} ${method} ${url.pathname}${url.search} ${headers.get("x-trace")}`);
    };
    const onEnd = listen("end");
    const onException = listen("exception");
    await using session = new ClientSession();
    subscribe(sessionChannels.requestEnd.name, onEnd);
    try {
      await (await session.get(srv.url("/start"), { params: { q: 1 }, headers: { "X-Trace": "e" } })).read();
    } finally {
      unsubscribe(sessionChannels.requestEnd.name, onEnd);
    }
    subscribe(sessionChannels.requestException.name, onException);
    try {
      await session.get(srv.url("/drop"), { params: { q: 2 }, headers: { "X-Trace": "x" } }).catch(() => {});
    } finally {
      unsubscribe(sessionChannels.requestException.name, onException);
    }
    expect(seen).toEqual(["end GET /start?q=1 e", "exception GET /drop?q=2 x"]);
  });

  it("a subscriber to request chunks alone gets them", async () => {
    await using srv = await startHttpServer(echo);
    const chunks: string[] = [];
    const fn = (m: unknown) => chunks.push(String((m as { chunk: Buffer }).chunk));
    subscribe(sessionChannels.requestChunkSent.name, fn);
    try {
      await using session = new ClientSession();
      await (await session.post(srv.url(), { data: "piece" })).read();
    } finally {
      unsubscribe(sessionChannels.requestChunkSent.name, fn);
    }
    expect(chunks).toEqual(["piece"]);
  });
});
