import { gzipSync } from "node:zlib";
import { closedPort, readBody, router, startHttpServer, startRawServer } from "@x/fixtures";
import { type Dispatcher, interceptors, request } from "undici";
import { describe, expect, it } from "vitest";
import { both, compare, fetchText, type RequestOptions } from "./compare.js";

// Every interceptor undici 7 ships, composed onto a TCPConnector, behaves as it does on undici's
// own Agent: each test runs one scenario on a fresh Agent and on a fresh TCPConnector and expects
// both to give the result undici documents.

/** An interceptor that records the origin of every dispatch reaching the layer below it. */
function counting(origins: string[]): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    origins.push(String(opts.origin));
    return dispatch(opts, handler);
  };
}

/** The value of header `name` in a raw request head. */
function headerOf(head: string | undefined, name: string): string | undefined {
  return new RegExp(`^${name}: *(.*)$`, "im").exec(head ?? "")?.[1];
}

describe("interceptors.retry", () => {
  const fast = { minTimeout: 1, maxTimeout: 10 };

  it("retries a 503 twice, then returns the 200", async () => {
    const results = await compare(async (dispatcher) => {
      let hits = 0;
      await using srv = await startHttpServer((_req, res) => {
        hits++;
        res.statusCode = hits <= 2 ? 503 : 200;
        res.end(hits <= 2 ? "busy" : "ok");
      });
      const reply = await fetchText(dispatcher.compose(interceptors.retry(fast)), srv.url());
      return { reply, hits };
    });
    expect(results).toEqual(both({ reply: { status: 200, body: "ok" }, hits: 3 }));
  });

  it("waits as long as Retry-After says, capped by maxTimeout", async () => {
    const results = await compare(async (dispatcher) => {
      const arrivals: number[] = [];
      await using srv = await startHttpServer((_req, res) => {
        arrivals.push(performance.now());
        if (arrivals.length === 1) {
          res.statusCode = 503;
          res.setHeader("retry-after", "1");
        }
        res.end(`answer ${arrivals.length}`);
      });
      // Without the header the retry would come after minTimeout (1 ms); with it, after
      // min(Retry-After, maxTimeout) = 200 ms.
      const retrying = dispatcher.compose(interceptors.retry({ minTimeout: 1, maxTimeout: 200 }));
      const reply = await fetchText(retrying, srv.url());
      const waited = (arrivals[1] ?? 0) - (arrivals[0] ?? 0);
      return { reply, hits: arrivals.length, waitedForRetryAfter: waited >= 190 };
    });
    expect(results).toEqual(
      both({ reply: { status: 200, body: "answer 2" }, hits: 2, waitedForRetryAfter: true }),
    );
  });

  it("retries a GET but not a POST, which is not idempotent", async () => {
    const results = await compare(async (dispatcher) => {
      const hits: Record<string, number> = {};
      await using srv = await startHttpServer((req, res) => {
        void readBody(req).then(() => {
          const method = req.method ?? "";
          const n = (hits[method] = (hits[method] ?? 0) + 1);
          res.statusCode = n === 1 ? 503 : 200;
          res.end(n === 1 ? "busy" : "ok");
        });
      });
      const retrying = dispatcher.compose(interceptors.retry(fast));
      const post = await fetchText(retrying, srv.url(), { method: "POST", body: "payload" });
      const get = await fetchText(retrying, srv.url());
      return { post, get, hits };
    });
    expect(results).toEqual(
      both({
        post: { error: "undici.RequestRetryError", code: "UND_ERR_REQ_RETRY", statusCode: 503 },
        get: { status: 200, body: "ok" },
        hits: { POST: 1, GET: 2 },
      }),
    );
  });

  it("gives up on a refused connection after maxRetries retries, reporting ECONNREFUSED", async () => {
    const results = await compare(async (dispatcher) => {
      const port = await closedPort();
      const attempts: string[] = [];
      const retrying = dispatcher.compose(counting(attempts), interceptors.retry({ ...fast, maxRetries: 3 }));
      const outcome = await fetchText(retrying, `http://127.0.0.1:${port}/`);
      return { outcome, attempts: attempts.length };
    });
    expect(results).toEqual(
      both({ outcome: { error: "Error", code: "ECONNREFUSED", syscall: "connect" }, attempts: 4 }),
    );
  });

  it("retries on a new connection when the server closes one before answering", async () => {
    const results = await compare(async (dispatcher) => {
      await using srv = await startRawServer(async (conn) => {
        await conn.readHead();
        if (conn.index === 0) conn.socket.destroy();
        else await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      });
      const reply = await fetchText(dispatcher.compose(interceptors.retry(fast)), srv.url());
      return { reply, connections: srv.connections.length };
    });
    expect(results).toEqual(both({ reply: { status: 200, body: "ok" }, connections: 2 }));
  });

  it("resumes a body cut off mid-response with a Range request", async () => {
    const results = await compare(async (dispatcher) => {
      const heads: string[] = [];
      await using srv = await startRawServer(async (conn) => {
        heads.push(await conn.readHead());
        if (conn.index === 0) {
          await conn.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\nETag: "v1"\r\n\r\nhello');
          conn.socket.destroy();
        } else {
          await conn.write(
            'HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\nContent-Range: bytes 5-9/10\r\nETag: "v1"\r\n\r\nworld',
          );
        }
      });
      const reply = await fetchText(dispatcher.compose(interceptors.retry(fast)), srv.url());
      return {
        reply,
        connections: srv.connections.length,
        range: headerOf(heads[1], "range"),
        ifMatch: headerOf(heads[1], "if-match"),
      };
    });
    expect(results).toEqual(
      both({
        reply: { status: 200, body: "helloworld" },
        connections: 2,
        range: "bytes=5-9",
        ifMatch: '"v1"',
      }),
    );
  });
});

describe("interceptors.redirect", () => {
  /** `/1` → `/2` → `/3`, each a 302; `/3` answers. */
  const chain = (paths: string[]) =>
    startHttpServer((req, res) => {
      paths.push(req.url ?? "");
      const n = Number(req.url?.slice(1));
      if (n < 3) {
        res.statusCode = 302;
        res.setHeader("location", `/${n + 1}`);
        res.end();
      } else res.end(`landed ${req.url}`);
    });

  it("follows a 302 chain and reports each hop in the context's history", async () => {
    const results = await compare(async (dispatcher) => {
      const paths: string[] = [];
      await using srv = await chain(paths);
      const res = await request(srv.url("/1"), {
        dispatcher: dispatcher.compose(interceptors.redirect({ maxRedirections: 5 })),
      });
      const history = (res.context as { history?: URL[] } | undefined)?.history?.map((u) => u.pathname);
      return { status: res.statusCode, body: await res.body.text(), paths, history };
    });
    expect(results).toEqual(
      both({ status: 200, body: "landed /3", paths: ["/1", "/2", "/3"], history: ["/1", "/2", "/3"] }),
    );
  });

  it("hands back the redirect that exceeds maxRedirections, or fails with throwOnMaxRedirect", async () => {
    const results = await compare(async (dispatcher) => {
      const paths: string[] = [];
      await using srv = await chain(paths);
      const once = dispatcher.compose(interceptors.redirect({ maxRedirections: 1 }));
      const res = await request(srv.url("/1"), { dispatcher: once });
      await res.body.dump();
      // throwOnMaxRedirect is read from the dispatch options; undici's types do not list it.
      const strict = { throwOnMaxRedirect: true } as RequestOptions;
      const thrown = await fetchText(once, srv.url("/1"), strict);
      return { status: res.statusCode, location: res.headers.location, thrown, paths };
    });
    expect(results).toEqual(
      both({ status: 302, location: "/3", thrown: { error: "Error" }, paths: ["/1", "/2", "/1", "/2"] }),
    );
  });
});

describe("interceptors.dns", () => {
  it("fails over to the other address family when the first address refuses", async () => {
    const results = await compare(async (dispatcher) => {
      await using srv = await startHttpServer((req, res) => res.end(`host ${req.headers.host}`), {
        host: "::1",
      });
      const refused = await closedPort("127.0.0.1");
      // The interceptor connects to a record's own port, when it has one, instead of the URL's.
      const records: Array<{ address: string; family: 4 | 6; ttl: number; port?: number }> = [
        { address: "127.0.0.1", family: 4, ttl: 60_000, port: refused },
        { address: "::1", family: 6, ttl: 60_000 },
      ];
      let lookups = 0;
      const tried: string[] = [];
      const resolving = dispatcher.compose(
        counting(tried),
        interceptors.dns({
          lookup: (_origin, _options, callback) => {
            lookups++;
            callback(null, records);
          },
        }),
      );
      const reply = await fetchText(resolving, `http://service.test:${srv.port}/`);
      return { reply, lookups, tried: tried.map((origin) => new URL(origin).hostname) };
    });
    expect(results).toEqual(
      both({
        reply: { status: 200, body: expect.stringMatching(/^host service\.test:\d+$/) },
        lookups: 1,
        tried: ["127.0.0.1", "[::1]"],
      }),
    );
  });
});

describe("interceptors.responseError", () => {
  it("turns 4xx and 5xx answers into ResponseError with the status and the decoded body", async () => {
    const results = await compare(async (dispatcher) => {
      await using srv = await startHttpServer(
        router({
          "/json": (_req, res) => {
            res.statusCode = 404;
            res.setHeader("content-type", "application/json");
            res.end('{"error":"nope"}');
          },
          "/text": (_req, res) => {
            res.statusCode = 503;
            res.setHeader("content-type", "text/plain");
            res.end("down");
          },
          "/ok": (_req, res) => res.end("fine"),
        }),
      );
      const strict = dispatcher.compose(interceptors.responseError());
      return {
        json: await fetchText(strict, srv.url("/json")),
        text: await fetchText(strict, srv.url("/text")),
        ok: await fetchText(strict, srv.url("/ok")),
      };
    });
    const responseError = { error: "undici.ResponseError", code: "UND_ERR_RESPONSE" };
    expect(results).toEqual(
      both({
        json: { ...responseError, statusCode: 404, body: { error: "nope" } },
        text: { ...responseError, statusCode: 503, body: "down" },
        ok: { status: 200, body: "fine" },
      }),
    );
  });
});

describe("interceptors.decompress", () => {
  it("decodes a gzip body and drops Content-Encoding", async () => {
    const results = await compare(async (dispatcher) => {
      await using srv = await startHttpServer((_req, res) => {
        res.setHeader("content-encoding", "gzip");
        res.end(gzipSync("hello, gzip"));
      });
      const res = await request(srv.url(), { dispatcher: dispatcher.compose(interceptors.decompress()) });
      return {
        status: res.statusCode,
        encoding: res.headers["content-encoding"] ?? null,
        body: await res.body.text(),
      };
    });
    expect(results).toEqual(both({ status: 200, encoding: null, body: "hello, gzip" }));
  });
});

describe("interceptors.cache", () => {
  it("serves the second GET of a max-age response from the memory store", async () => {
    const results = await compare(async (dispatcher) => {
      let hits = 0;
      await using srv = await startHttpServer((_req, res) => {
        hits++;
        res.setHeader("cache-control", "max-age=60");
        res.end(`response ${hits}`);
      });
      // A store of its own for each run.
      const cached = dispatcher.compose(interceptors.cache());
      const first = await fetchText(cached, srv.url());
      const second = await fetchText(cached, srv.url());
      return { first, second, hits };
    });
    expect(results).toEqual(
      both({
        first: { status: 200, body: "response 1" },
        second: { status: 200, body: "response 1" },
        hits: 1,
      }),
    );
  });
});

describe("interceptors.dump", () => {
  it("discards bodies up to maxSize and aborts larger ones", async () => {
    const results = await compare(async (dispatcher) => {
      await using srv = await startHttpServer(
        router({
          "/small": (_req, res) => res.end("x".repeat(100)),
          "/big": (_req, res) => res.end("x".repeat(4096)),
        }),
      );
      const dumping = dispatcher.compose(interceptors.dump({ maxSize: 1024 }));
      return {
        small: await fetchText(dumping, srv.url("/small")),
        big: await fetchText(dumping, srv.url("/big")),
      };
    });
    expect(results).toEqual(
      both({
        small: { status: 200, body: "" },
        big: { error: "undici.RequestAbortedError", code: "UND_ERR_ABORTED" },
      }),
    );
  });
});

describe("interceptors.deduplicate", () => {
  it("sends two concurrent identical GETs once and answers both", async () => {
    const results = await compare(async (dispatcher) => {
      let hits = 0;
      await using srv = await startHttpServer((_req, res) => {
        hits++;
        setTimeout(() => res.end("shared"), 50);
      });
      const deduplicating = dispatcher.compose(interceptors.deduplicate());
      const replies = await Promise.all([
        fetchText(deduplicating, srv.url()),
        fetchText(deduplicating, srv.url()),
      ]);
      return { replies, hits };
    });
    const shared = { status: 200, body: "shared" };
    expect(results).toEqual(both({ replies: [shared, shared], hits: 1 }));
  });
});

describe("a handler that throws from a callback", () => {
  type Phase = "onResponseStart" | "onResponseData" | "onResponseEnd";

  /** An interceptor whose handler throws `error` from `phase`, as undici's RetryHandler may. */
  function throwIn(phase: Phase, error: Error): Dispatcher.DispatcherComposeInterceptor {
    return (dispatch) => (opts, handler) =>
      dispatch(opts, {
        onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
        onResponseStart: (controller, statusCode, headers, statusMessage) => {
          if (phase === "onResponseStart") throw error;
          handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
        },
        onResponseData: (controller, chunk) => {
          if (phase === "onResponseData") throw error;
          handler.onResponseData?.(controller, chunk);
        },
        onResponseEnd: (controller, trailers) => {
          if (phase === "onResponseEnd") throw error;
          handler.onResponseEnd?.(controller, trailers);
        },
        onResponseError: (controller, err) => handler.onResponseError?.(controller, err),
      });
  }

  for (const phase of ["onResponseStart", "onResponseData", "onResponseEnd"] as const) {
    it(`${phase}: the error ends the request for the caller and is never uncaught`, async () => {
      const results = await compare(async (dispatcher) => {
        await using srv = await startHttpServer((_req, res) => res.end("body"));
        const planted = new Error(`thrown from ${phase}`);
        let res: Dispatcher.ResponseData;
        try {
          res = await request(srv.url(), { dispatcher: dispatcher.compose(throwIn(phase, planted)) });
        } catch (err) {
          return { failed: "request", planted: err === planted };
        }
        try {
          await res.body.text();
          return { failed: "nowhere", planted: false };
        } catch (err) {
          return { failed: "body", planted: err === planted };
        }
      });
      expect(results).toEqual(
        both({ failed: phase === "onResponseStart" ? "request" : "body", planted: true }),
      );
    });
  }
});
