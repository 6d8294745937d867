import { ClientConnectorSSLError, InvalidArgumentError, TotalTimeoutError } from "@x/errors";
import { startHttpServer, startRawServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { type ClientMiddleware, ClientSession, parseRetryAfter, retryMiddleware } from "../src/index.js";

/** Process warnings emitted while `body` runs (and the ticks right after it). */
async function warningsDuring(body: () => Promise<void>): Promise<Error[]> {
  const seen: Error[] = [];
  const onWarning = (w: Error) => seen.push(w);
  process.on("warning", onWarning);
  try {
    await body();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off("warning", onWarning);
  }
  return seen;
}

describe("what the retry middleware retries", () => {
  it("makes a single attempt with attempts: 1, and refuses 0", async () => {
    let hits = 0;
    await using srv = await startHttpServer((_req, res) => {
      hits++;
      res.writeHead(503, { "content-length": "0" }).end();
    });
    const retried: number[] = [];
    await using session = new ClientSession({
      middlewares: [
        retryMiddleware({ attempts: 1, initialDelay: 0, onRetry: (i) => retried.push(i.attempt) }),
      ],
    });
    expect((await session.get(srv.url())).status).toBe(503);
    expect(hits).toBe(1);
    expect(retried).toEqual([]);
    expect(() => retryMiddleware({ attempts: 0 })).toThrow(InvalidArgumentError);
    expect(() => retryMiddleware({ attempts: 0 })).toThrow("attempts must be a positive integer");
  });

  it("never retries a TLS handshake that fails (a plain-HTTP server on an https URL)", async () => {
    await using plain = await startHttpServer((_req, res) => res.end("plain"));
    const tried: unknown[] = [];
    await using session = new ClientSession({
      middlewares: [retryMiddleware({ initialDelay: 0, onRetry: (i) => tried.push(i.error) })],
    });
    const err = await session.get(plain.url().replace("http:", "https:")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientConnectorSSLError);
    expect(tried).toEqual([]);
    expect(plain.stats.accepted).toBe(1);
  });
});

describe("Retry-After", () => {
  it("takes delay-seconds of any number of digits, and only digits", () => {
    expect(parseRetryAfter("12")).toBe(12_000);
    expect(parseRetryAfter("120")).toBe(120_000);
    // Digits followed by something else are not seconds (nor a date).
    expect(parseRetryAfter("10 seconds")).toBeUndefined();
  });

  it("takes dates that begin or end with digits as dates", () => {
    // asctime, one of HTTP's three date formats, ends with the year.
    const asctime = "Wed Oct 21 07:28:00 2015";
    expect(parseRetryAfter(asctime, Date.parse(asctime) - 5000)).toBe(5000);
    const iso = "2015-10-21T07:28:00Z";
    expect(parseRetryAfter(iso, Date.parse(iso) - 3000)).toBe(3000);
  });
});

describe("the body of a retried response", () => {
  /**
   * The first request gets a 503 whose head comes at once and whose body (`size` bytes, or
   * chunked) only once the middleware has announced the retry; every later request gets 200 "ok".
   */
  async function retryServer(size: number | "chunked") {
    let sendBody!: () => void;
    const bodyWanted = new Promise<void>((resolve) => {
      sendBody = resolve;
    });
    let requests = 0;
    const srv = await startRawServer(async (conn) => {
      for (;;) {
        await conn.readHead();
        requests++;
        if (requests > 1) {
          await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
          continue;
        }
        const length = size === "chunked" ? 3000 : size;
        await conn.write(
          `HTTP/1.1 503 Service Unavailable\r\n${size === "chunked" ? "Transfer-Encoding: chunked" : `Content-Length: ${size}`}\r\n\r\n`,
        );
        await bodyWanted;
        const body = Buffer.alloc(length, "x");
        const framed =
          size === "chunked"
            ? Buffer.concat([Buffer.from(`${length.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n")])
            : body;
        await conn.write(framed).catch(() => {});
      }
    });
    // The body is sent only after onRetry returned: reading it means waiting for it.
    const session = new ClientSession({
      middlewares: [
        retryMiddleware({
          attempts: 2,
          initialDelay: 0,
          jitter: false,
          onRetry: () => setImmediate(sendBody),
        }),
      ],
    });
    return { srv, session };
  }

  for (const [size, connections] of [
    [1000, 1],
    [65536, 1],
    [65537, 2],
    ["chunked", 2],
  ] as const) {
    it(`${size === "chunked" ? "a chunked body of unknown length is dropped" : size <= 65536 ? `${size} bytes are read` : `${size} bytes are dropped`} before the retry (${connections} connection${connections > 1 ? "s" : ""})`, async () => {
      const { srv, session } = await retryServer(size);
      await using _srv = srv;
      await using _session = session;
      expect(await (await session.get(srv.url())).text()).toBe("ok");
      expect(srv.connections).toHaveLength(connections);
    });
  }
});

describe("the wait between attempts", () => {
  it("ends at once when the total timeout fires during it", async () => {
    await using srv = await startHttpServer((_req, res) => {
      res.writeHead(503, { "content-length": "0" }).end();
    });
    await using session = new ClientSession({
      middlewares: [retryMiddleware({ initialDelay: 3000, jitter: false })],
    });
    const started = Date.now();
    const err = await session.get(srv.url(), { timeout: { total: 200 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TotalTimeoutError);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(srv.stats.accepted).toBe(1);
  });

  it("is not even begun when the caller aborted in onRetry", async () => {
    let hits = 0;
    await using srv = await startHttpServer((_req, res) => {
      hits++;
      res.writeHead(503, { "content-length": "0" }).end();
    });
    const controller = new AbortController();
    const reason = new Error("enough");
    await using session = new ClientSession({
      middlewares: [
        retryMiddleware({ initialDelay: 3000, jitter: false, onRetry: () => controller.abort(reason) }),
      ],
    });
    const started = Date.now();
    const err = await session.get(srv.url(), { signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBe(reason);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(hits).toBe(1);
  });

  it("leaves no listener on the request's signal: eleven retries raise no MaxListenersExceededWarning", async () => {
    let hits = 0;
    await using srv = await startHttpServer((_req, res) => {
      hits++;
      if (hits <= 11) res.writeHead(503, { "content-length": "0" }).end();
      else res.end("ok");
    });
    await using session = new ClientSession({
      middlewares: [retryMiddleware({ attempts: 12, initialDelay: 0, jitter: false })],
    });
    const warnings = await warningsDuring(async () => {
      expect(await (await session.get(srv.url())).text()).toBe("ok");
    });
    expect(hits).toBe(12);
    expect(warnings.map((w) => w.name)).not.toContain("MaxListenersExceededWarning");
  });

  it("leaves no listener on the request's signal when the wait is cut short", async () => {
    await using srv = await startHttpServer((_req, res) => {
      res.writeHead(503, { "content-length": "0" }).end();
    });
    // A middleware of the caller's, outside the retries, that listens on the signal after the
    // failure: ten listeners are the most a signal takes without a leak warning.
    const lateListeners: ClientMiddleware = async (request, next) => {
      try {
        return await next(request);
      } catch (err) {
        for (let i = 0; i < 10; i++) request.signal.addEventListener("abort", () => {});
        throw err;
      }
    };
    await using session = new ClientSession({
      middlewares: [lateListeners, retryMiddleware({ initialDelay: 3000, jitter: false })],
    });
    const warnings = await warningsDuring(async () => {
      const err = await session.get(srv.url(), { timeout: { total: 100 } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TotalTimeoutError);
    });
    expect(warnings.map((w) => w.name)).not.toContain("MaxListenersExceededWarning");
  });
});
