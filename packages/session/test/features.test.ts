import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { openAsBlob } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { BasicAuth } from "@x/auth";
import { Fingerprint } from "@x/connector";
import {
  ClientConnectorCertificateError,
  ClientConnectorError,
  ServerFingerprintMismatch,
  TotalTimeoutError,
} from "@x/errors";
import {
  closedPort,
  type EchoReply,
  echo,
  echoHeader,
  readBody,
  startHttp2Server,
  startHttpServer,
  startHttpsServer,
  startRawServer,
} from "@x/fixtures";
import { describe, expect, it, vi } from "vitest";
import {
  type ClientMiddleware,
  ClientSession,
  type Progress,
  parseRetryAfter,
  retryMiddleware,
  TraceConfig,
} from "../src/index.js";

const json = async (r: { json(): Promise<unknown> }) => (await r.json()) as EchoReply;

describe("middlewares", () => {
  it("see whether a request is idempotent, as RFC 9110 lists the methods", async () => {
    await using srv = await startHttpServer((_req, res) => res.end());
    const seen: string[] = [];
    await using session = new ClientSession({
      middlewares: [
        async (request, next) => {
          seen.push(`${request.method}:${request.idempotent}`);
          return next(request);
        },
      ],
    });
    for (const method of [
      "GET",
      "HEAD",
      "OPTIONS",
      "TRACE",
      "PUT",
      "DELETE",
      "QUERY",
      "POST",
      "PATCH",
      "CONNECTX",
    ]) {
      await (await session.request(method, srv.url())).read();
    }
    expect(seen).toEqual([
      "GET:true",
      "HEAD:true",
      "OPTIONS:true",
      "TRACE:true",
      "PUT:true",
      "DELETE:true",
      "QUERY:true",
      "POST:false",
      "PATCH:false",
      "CONNECTX:false",
    ]);
  });

  it("run in onion order, once per redirect hop, and may change the request", async () => {
    await using srv = await startHttpServer((req, res) => {
      if (req.url === "/hop") {
        res.writeHead(302, { location: "/end" }).end();
        return;
      }
      echo(req, res);
    });
    const log: string[] = [];
    const outer: ClientMiddleware = async (req, next) => {
      log.push(`outer> ${req.url.pathname}`);
      const resp = await next(req);
      log.push(`outer< ${resp.status}`);
      return resp;
    };
    const inner: ClientMiddleware = async (req, next) => {
      log.push(`inner> ${req.url.pathname}`);
      req.headers.set("X-Added", "by-middleware");
      return next(req);
    };
    await using session = new ClientSession({ middlewares: [outer, inner] });
    const reply = await json(await session.get(srv.url("/hop")));
    expect(echoHeader(reply, "x-added")).toBe("by-middleware");
    expect(log).toEqual([
      "outer> /hop",
      "inner> /hop",
      "outer< 302",
      "outer> /end",
      "inner> /end",
      "outer< 200",
    ]);
  });

  it("req.signal aborts with the call's error: while a middleware waits on it, and when first read after the call failed", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    // A middleware waiting for the signal: the total timeout aborts it.
    let seen: unknown;
    const waits: ClientMiddleware = (req) =>
      new Promise((_resolve, reject) => {
        req.signal.addEventListener("abort", () => {
          seen = req.signal.reason;
          reject(req.signal.reason);
        });
      });
    const timedOut = await session
      .get(srv.url(), { middlewares: [waits], timeout: { total: 50 } })
      .catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(TotalTimeoutError);
    expect(seen).toBe(timedOut);

    // A middleware that looks at the signal only after the call failed finds it aborted.
    const caller = new AbortController();
    let after: AbortSignal | undefined;
    const late: ClientMiddleware = async (req, next) => {
      caller.abort(new Error("caller gave up"));
      try {
        return await next(req);
      } finally {
        after = req.signal;
      }
    };
    const failed = await session
      .get(srv.url(), { middlewares: [late], signal: caller.signal })
      .catch((e: unknown) => e);
    expect((failed as Error).message).toBe("caller gave up");
    expect(after?.aborted).toBe(true);
    expect(after?.reason).toBe(failed);
  });

  it("per-request middlewares replace the session's; [] runs none", async () => {
    await using srv = await startHttpServer(echo);
    let calls = 0;
    const count: ClientMiddleware = (req, next) => {
      calls++;
      return next(req);
    };
    await using session = new ClientSession({ middlewares: [count] });
    await (await session.get(srv.url())).read();
    await (await session.get(srv.url(), { middlewares: [] })).read();
    await (await session.get(srv.url(), { middlewares: [count, count] })).read();
    expect(calls).toBe(3);
  });

  it("can answer without calling next, or call next again", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const cached = await session.get(srv.url("/cached"));
    await cached.read();
    const shortCircuit: ClientMiddleware = async () => cached;
    expect(await session.get(srv.url("/never"), { middlewares: [shortCircuit] })).toBe(cached);
    const twice: ClientMiddleware = async (req, next) => {
      (await next(req)).release();
      return next(req);
    };
    await (await session.post(srv.url("/twice"), { data: "again", middlewares: [twice] })).read();
    expect(srv.stats.accepted).toBe(1);
  });

  it("run once per retry of a stale connection", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
      if (conn.index === 0) {
        await conn.readHead();
        conn.socket.end();
      }
    });
    let calls = 0;
    await using session = new ClientSession({
      middlewares: [
        (req, next) => {
          calls++;
          return next(req);
        },
      ],
    });
    await (await session.get(srv.url("/1"))).read();
    await (await session.get(srv.url("/2"))).read();
    expect(calls).toBe(3);
  });
});

describe("the retry middleware", () => {
  it("retries retryable statuses with backoff, honouring Retry-After, and gives up after the attempts", async () => {
    let hits = 0;
    await using srv = await startHttpServer((_req, res) => {
      hits++;
      if (hits < 3) res.writeHead(503, { "retry-after": "0" }).end("busy");
      else res.end("finally");
    });
    const retries: number[] = [];
    await using session = new ClientSession({
      middlewares: [retryMiddleware({ attempts: 4, onRetry: (i) => retries.push(i.attempt) })],
    });
    expect(await (await session.get(srv.url())).text()).toBe("finally");
    expect(retries).toEqual([1, 2]);
    hits = -10;
    const last = await session.get(srv.url(), {
      middlewares: [retryMiddleware({ attempts: 2, initialDelay: 1 })],
    });
    expect(last.status).toBe(503);
    expect(srv.stats.accepted).toBe(1);
  });

  it("does not retry POST by default, nor a Retry-After past the cap", async () => {
    let hits = 0;
    await using srv = await startHttpServer((_req, res) => {
      hits++;
      res.writeHead(503, { "retry-after": "3600" }).end();
    });
    await using session = new ClientSession({ middlewares: [retryMiddleware({ initialDelay: 1 })] });
    expect((await session.post(srv.url(), { data: "x" })).status).toBe(503);
    expect(hits).toBe(1);
    expect((await session.get(srv.url())).status).toBe(503);
    expect(hits).toBe(2);
  });

  it("retries network errors, not one-shot bodies, and never past the total timeout", async () => {
    const port = await closedPort();
    const seen: unknown[] = [];
    await using session = new ClientSession({
      middlewares: [retryMiddleware({ attempts: 3, initialDelay: 1, onRetry: (i) => seen.push(i.error) })],
    });
    await expect(session.get(`http://127.0.0.1:${port}/`)).rejects.toBeInstanceOf(ClientConnectorError);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBeInstanceOf(ClientConnectorError);
    seen.length = 0;
    await expect(
      session.put(`http://127.0.0.1:${port}/`, { data: Readable.from(["once"]) }),
    ).rejects.toBeInstanceOf(ClientConnectorError);
    expect(seen).toHaveLength(0);
    await using slow = new ClientSession({
      middlewares: [retryMiddleware({ attempts: 10, initialDelay: 200, jitter: false })],
    });
    const started = Date.now();
    await expect(slow.get(`http://127.0.0.1:${port}/`, { timeout: { total: 300 } })).rejects.toBeInstanceOf(
      TotalTimeoutError,
    );
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("waits initialDelay × factor^n up to maxDelay, or a share of it with jitter, or what Retry-After says", async () => {
    await using srv = await startHttpServer((req, res) => {
      const after = new URL(req.url ?? "/", "http://x").searchParams.get("after");
      res.writeHead(503, after === null ? {} : { "retry-after": after }).end();
    });
    const delays = async (options: Parameters<typeof retryMiddleware>[0], query = "") => {
      const seen: number[] = [];
      await using session = new ClientSession({
        middlewares: [retryMiddleware({ ...options, onRetry: (i) => seen.push(i.delay) })],
      });
      expect((await session.get(srv.url(`/${query}`))).status).toBe(503);
      return seen;
    };
    const exact = { attempts: 5, initialDelay: 2, factor: 3, maxDelay: 10, jitter: false };
    expect(await delays(exact)).toEqual([2, 6, 10, 10]);
    expect(await delays({ attempts: 3, initialDelay: 1, jitter: false })).toEqual([1, 2]);
    const random = vi.spyOn(Math, "random").mockReturnValue(0.5);
    try {
      expect(await delays({ ...exact, jitter: true })).toEqual([1, 3, 5, 5]);
      expect(await delays({ attempts: 2, initialDelay: 4 })).toEqual([2]);
    } finally {
      random.mockRestore();
    }
    // Retry-After, in seconds or as a date (one in the past is now); up to maxRetryAfter and not past it.
    expect(await delays({ ...exact, attempts: 2 }, "?after=0")).toEqual([0]);
    const past = encodeURIComponent(new Date(Date.now() - 60_000).toUTCString());
    expect(await delays({ ...exact, attempts: 2 }, `?after=${past}`)).toEqual([0]);
    expect(await delays({ ...exact, attempts: 2, maxRetryAfter: 0 }, "?after=0")).toEqual([0]);
    expect(await delays({ ...exact, attempts: 2, maxRetryAfter: 999 }, "?after=1")).toEqual([]);
    expect(await delays({ ...exact, attempts: 2, respectRetryAfter: false }, "?after=3600")).toEqual([2]);
    expect(await delays({ ...exact, attempts: 2 }, "?after=soon")).toEqual([2]);
  });

  it("retries the statuses and methods it is given, and the errors retryOnError picks", async () => {
    let hits = 0;
    await using srv = await startHttpServer((_req, res) => {
      hits++;
      res.writeHead(418).end();
    });
    const fast = { initialDelay: 1, attempts: 2 };
    await using teapots = new ClientSession({
      middlewares: [retryMiddleware({ ...fast, statuses: [418], methods: ["post"] })],
    });
    expect((await teapots.post(srv.url(), { data: "x" })).status).toBe(418);
    expect(hits).toBe(2);
    hits = 0;
    expect((await teapots.get(srv.url())).status).toBe(418);
    expect(hits).toBe(1);
    hits = 0;
    await using defaults = new ClientSession({ middlewares: [retryMiddleware(fast)] });
    expect((await defaults.get(srv.url())).status).toBe(418);
    expect(hits).toBe(1);
    const port = await closedPort();
    const tried: unknown[] = [];
    await using never = new ClientSession({
      middlewares: [retryMiddleware({ ...fast, retryOnError: () => false, onRetry: (i) => tried.push(i) })],
    });
    await expect(never.get(`http://127.0.0.1:${port}/`)).rejects.toBeInstanceOf(ClientConnectorError);
    expect(tried).toEqual([]);
    // Thrown values that are not Errors reach onRetry wrapped in one.
    const wrapped: Error[] = [];
    await using odd = new ClientSession({
      middlewares: [
        retryMiddleware({
          ...fast,
          retryOnError: () => true,
          onRetry: (i) => wrapped.push(i.error as Error),
        }),
        async () => {
          throw "a string";
        },
      ],
    });
    await expect(odd.get(srv.url())).rejects.toBe("a string");
    expect(wrapped.map((e) => [e instanceof Error, e.message, e.cause])).toEqual([
      [true, "a string", "a string"],
    ]);
  });

  it("never retries TLS failures: an unknown CA, a certificate that does not match the pin", async () => {
    await using srv = await startHttpsServer((_req, res) => res.end("x"));
    const tried: unknown[] = [];
    await using session = new ClientSession({
      middlewares: [retryMiddleware({ initialDelay: 1, onRetry: (i) => tried.push(i.error) })],
    });
    await expect(session.get(srv.url())).rejects.toBeInstanceOf(ClientConnectorCertificateError);
    const wrongPin = new Fingerprint(Buffer.alloc(32, 7));
    await expect(session.get(srv.url(), { ssl: wrongPin })).rejects.toBeInstanceOf(ServerFingerprintMismatch);
    expect(tried).toEqual([]);
    expect(srv.stats.accepted).toBe(2);
  });

  it("reads a small error body so the connection is reused, and drops a large one", async () => {
    let hits = 0;
    await using srv = await startHttpServer((req, res) => {
      hits++;
      const size = req.url === "/small" ? 1000 : 100_000;
      if (hits % 2 === 1) res.writeHead(503).end(Buffer.alloc(size));
      else res.end("ok");
    });
    await using session = new ClientSession({ middlewares: [retryMiddleware({ initialDelay: 1 })] });
    expect(await (await session.get(srv.url("/small"))).text()).toBe("ok");
    expect(srv.stats.accepted).toBe(1);
    expect(await (await session.get(srv.url("/large"))).text()).toBe("ok");
    expect(srv.stats.accepted).toBe(2);
  });

  it("parses Retry-After seconds and dates", () => {
    expect(parseRetryAfter("5")).toBe(5000);
    expect(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString(), Date.now())).toBeGreaterThan(8000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(" 7 ")).toBe(7000);
    expect(
      parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", Date.parse("Wed, 21 Oct 2015 07:27:00 GMT")),
    ).toBe(60_000);
    expect(
      parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", Date.parse("Wed, 21 Oct 2015 07:29:00 GMT")),
    ).toBe(0);
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe("tracing", () => {
  it("reports the exact event sequence of a redirect over a reused connection", async () => {
    await using srv = await startHttpServer((req, res) => {
      if (req.url === "/start") res.writeHead(302, { location: "/final", "content-length": "0" }).end();
      else res.end("done");
    });
    const events: string[] = [];
    const trace = new TraceConfig({ traceConfigCtx: (ctx) => ({ tag: ctx }) });
    const record = (name: string) => (_s: unknown, ctx: object, params: Record<string, unknown>) => {
      expect((ctx as { tag: unknown }).tag).toBe("req-1");
      const url = params.url instanceof URL ? ` ${params.url.pathname}` : "";
      events.push(`${name}${url}`);
    };
    for (const [signal, name] of [
      [trace.onRequestStart, "request_start"],
      [trace.onRequestEnd, "request_end"],
      [trace.onRequestRedirect, "request_redirect"],
      [trace.onRequestHeadersSent, "request_headers_sent"],
      [trace.onResponseChunkReceived, "response_chunk_received"],
      [trace.onConnectionQueuedStart, "connection_queued_start"],
      [trace.onConnectionCreateStart, "connection_create_start"],
      [trace.onConnectionCreateEnd, "connection_create_end"],
      [trace.onConnectionReuseconn, "connection_reuseconn"],
    ] as const) {
      (signal as unknown as Array<unknown>).push(record(name));
    }
    await using warm = new ClientSession();
    await using session = new ClientSession({
      traceConfigs: [trace],
      connector: warm.connector,
      connectorOwner: false,
    });
    await (await warm.get(srv.url("/final"))).read();
    const resp = await session.get(srv.url("/start"), { traceRequestCtx: "req-1" });
    expect(await resp.text()).toBe("done");
    // Chunk events fire as data comes off the socket: the final body arrived with its headers.
    expect(events).toEqual([
      "request_start /start",
      "connection_reuseconn",
      "request_headers_sent /start",
      "request_redirect /start",
      "connection_reuseconn",
      "request_headers_sent /final",
      "response_chunk_received /final",
      "request_end /start",
    ]);
  });

  it("reports connection creation and request exceptions", async () => {
    const port = await closedPort();
    const events: string[] = [];
    const trace = new TraceConfig();
    trace.onConnectionCreateStart.append(() => {
      events.push("create_start");
    });
    trace.onRequestException.append((_s, _c, p) => {
      events.push(`exception ${(p.exception as Error).name}`);
    });
    await using session = new ClientSession({ traceConfigs: [trace] });
    await expect(session.get(`http://127.0.0.1:${port}/`)).rejects.toBeInstanceOf(ClientConnectorError);
    expect(events).toEqual(["create_start", "exception ClientConnectorError"]);
  });

  it("publishes on diagnostics_channel", async () => {
    await using srv = await startHttpServer(echo);
    const seen: string[] = [];
    const onStart = (m: unknown) => seen.push(`start ${(m as { url: URL }).url.pathname}`);
    const onEnd = (m: unknown) => seen.push(`end ${(m as { response: { status: number } }).response.status}`);
    subscribe("x:session:request-start", onStart);
    subscribe("x:session:request-end", onEnd);
    try {
      await using session = new ClientSession();
      await (await session.get(srv.url("/dc"))).read();
    } finally {
      unsubscribe("x:session:request-start", onStart);
      unsubscribe("x:session:request-end", onEnd);
    }
    expect(seen).toEqual(["start /dc", "end 200"]);
  });
});

describe("progress", () => {
  it("reports upload and download progress, with totals when known", async () => {
    await using srv = await startHttpServer(async (req, res) => {
      await readBody(req);
      res.setHeader("content-length", 256 * 1024);
      for (let i = 0; i < 4; i++) res.write(Buffer.alloc(64 * 1024, i));
      res.end();
    });
    await using session = new ClientSession();
    const up: Progress[] = [];
    const down: Progress[] = [];
    const resp = await session.post(srv.url(), {
      data: Buffer.alloc(200_000, 1),
      onUploadProgress: (p) => up.push(p),
      onDownloadProgress: (p) => down.push(p),
    });
    expect((await resp.read()).length).toBe(256 * 1024);
    expect(up.at(-1)).toEqual({ loaded: 200_000, total: 200_000 });
    expect(down.at(-1)).toEqual({ loaded: 256 * 1024, total: 256 * 1024 });
    expect(down.length).toBeGreaterThan(1);
    for (let i = 1; i < down.length; i++) expect(down[i]!.loaded).toBeGreaterThan(down[i - 1]!.loaded);
  });

  it("counts streamed uploads of unknown length", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const up: Progress[] = [];
    await (
      await session.put(srv.url(), {
        data: Readable.from([Buffer.alloc(1000), Buffer.alloc(500)]),
        onUploadProgress: (p) => up.push(p),
      })
    ).read();
    expect(up.at(-1)?.loaded).toBe(1500);
    expect(up[0]?.total).toBeNull();
  });
});

describe("multipart", () => {
  it("sends fields, in-memory files and files streamed from disk", async () => {
    const dir = await mkdtemp(join(tmpdir(), "x-multipart-"));
    const path = join(dir, "big.bin");
    await writeFile(path, Buffer.alloc(3 * 1024 * 1024, 65));
    try {
      await using srv = await startHttpServer(echo);
      await using session = new ClientSession();
      const form = new FormData();
      form.append("name", "ada");
      form.append("note", new Blob(["in memory"], { type: "text/plain" }), "note.txt");
      form.append("upload", await openAsBlob(path, { type: "application/octet-stream" }), "big.bin");
      const reply = await json(await session.post(srv.url("/upload"), { data: form }));
      expect(echoHeader(reply, "content-type")).toMatch(/^multipart\/form-data; boundary=/);
      expect(reply.body).toContain('name="name"\r\n\r\nada');
      expect(reply.body).toContain('filename="note.txt"');
      expect(reply.body).toContain('filename="big.bin"');
      expect(reply.length).toBeGreaterThan(3 * 1024 * 1024);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("HTTP/2", () => {
  it("speaks h2 to https origins with http2: true, through the same API", async () => {
    await using srv = await startHttp2Server((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({ version: req.httpVersion, path: req.url, auth: req.headers.authorization ?? null }),
      );
    });
    await using session = new ClientSession({ http2: true, auth: new BasicAuth("h2", "pw") });
    const results = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const resp = await session.get(srv.url(`/p${i}`), { ssl: { ca: srv.ca } });
        expect(resp.version).toEqual({ major: 2, minor: 0 });
        return resp.json();
      }),
    );
    expect(results[3]).toEqual({ version: "2.0", path: "/p3", auth: new BasicAuth("h2", "pw").encode() });
    expect(srv.stats.accepted).toBe(1);
  });
});
