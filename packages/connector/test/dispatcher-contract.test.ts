import { createServer, type RequestListener } from "node:http";
import { Writable } from "node:stream";
import { closedPort, sleep, startHttpServer, startRawServer } from "@x/fixtures";
import { Agent, type Dispatcher, interceptors, RetryAgent, request } from "undici";
import { describe, expect, it } from "vitest";
import { TCPConnector } from "../src/index.js";
import { both, compare, type Failure, failure, fetchText, type Reply, type Subject } from "./compare.js";
import { TableResolver, until } from "./helpers.js";

// undici's Dispatcher contract — close/destroy, flags, argument checks, dispatch()'s return value,
// events and the errors handed to handlers — as undici's own Agent keeps it. Each test runs one
// scenario on a fresh Agent and on a fresh TCPConnector and expects both to give the result
// undici documents.

const closedError = { error: "undici.ClientClosedError", code: "UND_ERR_CLOSED" };
const destroyedError = { error: "undici.ClientDestroyedError", code: "UND_ERR_DESTROYED" };
const invalidArgument = { error: "undici.InvalidArgumentError", code: "UND_ERR_INVALID_ARG" };
const ok = { status: 200, body: "ok" };

/** A controller-style handler that collects the response, and a promise of how it ended. */
function collect(): { handler: Dispatcher.DispatchHandler; done: Promise<Reply | Failure> } {
  let settle: (outcome: Reply | Failure) => void = () => {};
  const done = new Promise<Reply | Failure>((resolve) => {
    settle = resolve;
  });
  let status = 0;
  const chunks: Buffer[] = [];
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart: () => {},
    onResponseStart: (_controller, statusCode) => {
      status = statusCode;
    },
    onResponseData: (_controller, chunk) => {
      chunks.push(chunk);
    },
    onResponseEnd: () => settle({ status, body: Buffer.concat(chunks).toString() }),
    onResponseError: (_controller, err) => settle(failure(err)),
  };
  return { handler, done };
}

/** What a synchronous call did: threw (and what), or returned (a promise, or a value). */
function attempt(call: () => unknown): { threw: Failure } | { returned: unknown } {
  try {
    const value = call();
    if (value instanceof Promise) {
      value.catch(() => {});
      return { returned: "a promise" };
    }
    return { returned: value };
  } catch (err) {
    return { threw: failure(err) };
  }
}

interface EventRecord {
  event: "connect" | "disconnect" | "connectionError";
  /** `"server"` for a URL of the server's origin; anything else as found. */
  origin: string;
  /** `targets` is an array whose first element is the dispatcher itself. */
  self: boolean;
  error?: Failure;
}

/** Records `connect`, `disconnect` and `connectionError` as the dispatcher emits them. */
function recordEvents(dispatcher: Dispatcher, serverOrigin: string): EventRecord[] {
  const events: EventRecord[] = [];
  const expected = new URL(serverOrigin).href;
  for (const event of ["connect", "disconnect", "connectionError"] as const) {
    dispatcher.on(event as "disconnect", (origin: URL, targets: readonly Dispatcher[], error?: Error) => {
      const where = origin instanceof URL ? origin.href : `not a URL: ${String(origin)}`;
      events.push({
        event,
        origin: where === expected ? "server" : where,
        self: Array.isArray(targets) && targets[0] === dispatcher,
        ...(error === undefined ? {} : { error: failure(error) }),
      });
    });
  }
  return events;
}

/** A plain HTTP server on 127.0.0.1:`port` exactly; disposing of it closes it and its sockets. */
async function listenOn(port: number, handler: RequestListener): Promise<AsyncDisposable> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    [Symbol.asyncDispose]: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe("compose()", () => {
  it("request(), stream(), pipeline(), a list and a second compose() all go through the interceptors, and the composed dispatcher still closes", async () => {
    const results = await compare(async (dispatcher) => {
      await using srv = await startHttpServer((_req, res) => res.end("ok"));
      const seen: string[] = [];
      const tag =
        (name: string): Dispatcher.DispatcherComposeInterceptor =>
        (dispatch) =>
        (opts, handler) => {
          seen.push(name);
          return dispatch(opts, handler);
        };
      const opts = { origin: srv.url(), path: "/", method: "GET" } as const;
      const a = dispatcher.compose(tag("a"));
      await (await a.request(opts)).body.text();
      const ab = a.compose(tag("b"));
      await (await ab.request(opts)).body.text();
      const chunks: Buffer[] = [];
      await a.stream(
        opts,
        () =>
          new Writable({
            write: (c: Buffer, _e, cb) => {
              chunks.push(c);
              cb();
            },
          }),
      );
      const piped: Buffer[] = [];
      for await (const c of a.pipeline(opts, ({ body }) => body).end()) piped.push(c as Buffer);
      const listed = dispatcher.compose([tag("c"), tag("d")]);
      await (await listed.request(opts)).body.text();
      await ab.close();
      return {
        seen,
        streamed: Buffer.concat(chunks).toString(),
        piped: Buffer.concat(piped).toString(),
        closed: dispatcher.closed,
      };
    });
    // The last interceptor given is the outermost: it sees the request first.
    expect(results).toEqual(
      both({ seen: ["a", "b", "a", "a", "a", "d", "c"], streamed: "ok", piped: "ok", closed: true }),
    );
  });
});

describe("close() and destroy()", () => {
  it("close() works on a composed dispatcher", async () => {
    const results = await compare(async (dispatcher) => {
      const composed = dispatcher.compose(interceptors.retry()) as Subject;
      await composed.close();
      return { closed: dispatcher.closed, destroyed: dispatcher.destroyed, viaComposed: composed.closed };
    });
    expect(results).toEqual(both({ closed: true, destroyed: true, viaComposed: true }));
  });

  it("destroy() works on a composed dispatcher", async () => {
    const results = await compare(async (dispatcher) => {
      const composed = dispatcher.compose(interceptors.retry()) as Subject;
      await composed.destroy();
      return { closed: dispatcher.closed, destroyed: dispatcher.destroyed, viaComposed: composed.destroyed };
    });
    expect(results).toEqual(both({ closed: false, destroyed: true, viaComposed: true }));
  });

  it("close() lets a request in flight finish, and refuses new ones: closed while closing, destroyed once closed", async () => {
    const results = await compare(async (dispatcher) => {
      await using srv = await startHttpServer((_req, res) => {
        res.write("first half, ");
        setTimeout(() => res.end("second half"), 100);
      });
      const res = await request(srv.url(), { dispatcher });
      const closing = dispatcher.close();
      const whileClosing = {
        closed: dispatcher.closed,
        destroyed: dispatcher.destroyed,
        dispatch: await fetchText(dispatcher, srv.url()),
      };
      const body = await res.body.text().catch(failure);
      await closing;
      const closed = {
        closed: dispatcher.closed,
        destroyed: dispatcher.destroyed,
        dispatch: await fetchText(dispatcher, srv.url()),
      };
      return { body, whileClosing, closed };
    });
    expect(results).toEqual(
      both({
        body: "first half, second half",
        whileClosing: { closed: true, destroyed: false, dispatch: closedError },
        closed: { closed: true, destroyed: true, dispatch: destroyedError },
      }),
    );
  });

  it("close() with nothing in flight: until it has finished, closed but not destroyed, and a new request is refused as closed", async () => {
    const results = await compare(async (dispatcher) => {
      await using srv = await startHttpServer((_req, res) => res.end("ok"));
      const warm = await fetchText(dispatcher, srv.url());
      const closing = dispatcher.close();
      const whileClosing = {
        closed: dispatcher.closed,
        destroyed: dispatcher.destroyed,
        dispatch: await fetchText(dispatcher, srv.url()),
      };
      await closing;
      return { warm, whileClosing, after: { closed: dispatcher.closed, destroyed: dispatcher.destroyed } };
    });
    expect(results).toEqual(
      both({
        warm: ok,
        whileClosing: { closed: true, destroyed: false, dispatch: closedError },
        after: { closed: true, destroyed: true },
      }),
    );
  });

  it("destroy() aborts a request in flight with ClientDestroyedError and refuses new ones", async () => {
    const results = await compare(async (dispatcher) => {
      await using srv = await startHttpServer((_req, res) => {
        res.write("a body that never ends");
      });
      const res = await request(srv.url(), { dispatcher });
      const destroying = dispatcher.destroy();
      const whileDestroying = {
        closed: dispatcher.closed,
        destroyed: dispatcher.destroyed,
        dispatch: await fetchText(dispatcher, srv.url()),
      };
      const body = await res.body.text().catch(failure);
      await destroying;
      return { body, whileDestroying, destroyed: [dispatcher.closed, dispatcher.destroyed] };
    });
    expect(results).toEqual(
      both({
        body: destroyedError,
        whileDestroying: { closed: false, destroyed: true, dispatch: destroyedError },
        destroyed: [false, true],
      }),
    );
  });

  it("destroy(err) fails the requests in flight with err itself", async () => {
    const results = await compare(async (dispatcher) => {
      await using srv = await startHttpServer((_req, res) => {
        res.write("a body that never ends");
      });
      const res = await request(srv.url(), { dispatcher });
      const reason = new Error("shutting down");
      await dispatcher.destroy(reason);
      const err = await res.body.text().then(
        () => undefined,
        (e: unknown) => e,
      );
      return { same: err === reason, destroyed: dispatcher.destroyed };
    });
    expect(results).toEqual(both({ same: true, destroyed: true }));
  });

  it("close() twice at once resolves both; once closed, close() rejects and destroy() resolves", async () => {
    const results = await compare(async (dispatcher) => {
      const settle = (p: Promise<void>) => p.then(() => "resolved", failure);
      const together = await Promise.all([settle(dispatcher.close()), settle(dispatcher.close())]);
      const closeAgain = await settle(dispatcher.close());
      const destroyAfter = await settle(dispatcher.destroy());
      return { together, closeAgain, destroyAfter };
    });
    expect(results).toEqual(
      both({ together: ["resolved", "resolved"], closeAgain: destroyedError, destroyAfter: "resolved" }),
    );
  });

  it("close() after destroy() rejects with ClientDestroyedError and leaves closed false", async () => {
    const results = await compare(async (dispatcher) => {
      await dispatcher.destroy();
      const close = await dispatcher.close().then(() => "resolved", failure);
      return { close, closed: dispatcher.closed, destroyed: dispatcher.destroyed };
    });
    expect(results).toEqual(both({ close: destroyedError, closed: false, destroyed: true }));
  });
});

describe("argument checks", () => {
  it("close() and destroy() refuse a callback that is not a function with InvalidArgumentError", async () => {
    const results = await compare(async (dispatcher) => {
      // Casts: these calls are wrong on purpose.
      const checks = {
        closeObject: attempt(() => dispatcher.close({} as () => void)),
        closeNumber: attempt(() => dispatcher.close(42 as unknown as () => void)),
        destroyNumberCallback: attempt(() => dispatcher.destroy(null, 42 as unknown as () => void)),
      };
      return { checks, closed: dispatcher.closed, destroyed: dispatcher.destroyed };
    });
    expect(results).toEqual(
      both({
        checks: {
          closeObject: { threw: invalidArgument },
          closeNumber: { threw: invalidArgument },
          destroyNumberCallback: { threw: invalidArgument },
        },
        closed: false,
        destroyed: false,
      }),
    );
  });

  it("dispatch() refuses bad opts and handlers with InvalidArgumentError", async () => {
    const results = await compare(async (dispatcher) => {
      const opts: Dispatcher.DispatchOptions = { origin: "http://127.0.0.1:9", path: "/", method: "GET" };
      const delivered: Failure[] = [];
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: () => {},
        onResponseError: (_controller, err) => delivered.push(failure(err)),
      };
      // Casts: these calls are wrong on purpose.
      const nullOpts = null as unknown as Dispatcher.DispatchOptions;
      const checks = {
        nullOpts: attempt(() => dispatcher.dispatch(nullOpts, handler)),
        nullHandler: attempt(() => dispatcher.dispatch(opts, null as unknown as Dispatcher.DispatchHandler)),
        nullOptsHandlerWithoutErrorCallback: attempt(() => dispatcher.dispatch(nullOpts, {})),
      };
      return { checks, delivered };
    });
    expect(results).toEqual(
      both({
        checks: {
          // A handler that can take the error gets it, and dispatch() returns false.
          nullOpts: { returned: false },
          nullHandler: { threw: invalidArgument },
          nullOptsHandlerWithoutErrorCallback: { threw: invalidArgument },
        },
        delivered: [invalidArgument],
      }),
    );
  });

  it("destroy(42) is not an argument error: 42 becomes the reason and the dispatcher is destroyed", async () => {
    const results = await compare(async (dispatcher) => {
      const call = attempt(() => dispatcher.destroy(42 as unknown as Error));
      await until(() => dispatcher.destroyed, 500).catch(() => {});
      return { call, destroyed: dispatcher.destroyed };
    });
    expect(results).toEqual(both({ call: { returned: "a promise" }, destroyed: true }));
  });
});

describe("dispatch() and 'drain'", () => {
  it("returns false once the dispatcher is saturated, emits 'drain' when it has room, then returns true", async () => {
    const results = await compare(
      async (dispatcher) => {
        await using srv = await startHttpServer((_req, res) => {
          setTimeout(() => res.end("ok"), 30);
        });
        const drains: Array<{ origin: string; self: boolean }> = [];
        dispatcher.on("drain", (origin: URL, targets?: readonly Dispatcher[]) => {
          drains.push({
            origin: origin instanceof URL && origin.href === srv.url("/") ? "server" : String(origin),
            self: targets?.[0] === dispatcher,
          });
        });
        const opts: Dispatcher.DispatchOptions = { origin: srv.origin, path: "/", method: "GET" };
        const calls = [collect(), collect(), collect()];
        const returned = calls.map((c) => dispatcher.dispatch(opts, c.handler));
        const replies = await Promise.all(calls.map((c) => c.done));
        await sleep(20);
        const last = collect();
        const afterwards = dispatcher.dispatch(opts, last.handler);
        await last.done;
        return {
          returned,
          replies,
          drained: drains.length > 0,
          drain: drains[0],
          afterwards,
        };
      },
      {
        make: {
          Agent: () => new Agent({ connections: 2 }),
          TCPConnector: () => new TCPConnector({ limit: 2 }),
        },
      },
    );
    expect(results).toEqual(
      both({
        returned: [true, false, false],
        replies: [ok, ok, ok],
        drained: true,
        drain: { origin: "server", self: true },
        afterwards: true,
      }),
    );
  });
});

describe("events", () => {
  it("'connect', then 'disconnect' with SocketError when the server closes an idle keep-alive socket", async () => {
    const results = await compare(async (dispatcher) => {
      await using srv = await startRawServer(async (conn) => {
        await conn.readHead();
        await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        await sleep(20);
        await conn.end();
      });
      const events = recordEvents(dispatcher, srv.origin);
      const reply = await fetchText(dispatcher, srv.url());
      await until(() => events.length >= 2, 1000).catch(() => {});
      return { reply, events };
    });
    expect(results).toEqual(
      both({
        reply: ok,
        events: [
          { event: "connect", origin: "server", self: true },
          {
            event: "disconnect",
            origin: "server",
            self: true,
            error: { error: "undici.SocketError", code: "UND_ERR_SOCKET" },
          },
        ],
      }),
    );
  });

  it("'disconnect' with InformationalError when the server answers Connection: close", async () => {
    const results = await compare(async (dispatcher) => {
      await using srv = await startHttpServer((_req, res) => {
        res.setHeader("connection", "close");
        res.end("ok");
      });
      const events = recordEvents(dispatcher, srv.origin);
      const reply = await fetchText(dispatcher, srv.url());
      await until(() => events.length >= 2, 1000).catch(() => {});
      return { reply, events };
    });
    expect(results).toEqual(
      both({
        reply: ok,
        events: [
          { event: "connect", origin: "server", self: true },
          {
            event: "disconnect",
            origin: "server",
            self: true,
            error: { error: "undici.InformationalError", code: "UND_ERR_INFO" },
          },
        ],
      }),
    );
  });

  for (const how of ["close", "destroy"] as const) {
    it(`'disconnect' with ClientDestroyedError for an idle socket on ${how}()`, async () => {
      const results = await compare(async (dispatcher) => {
        await using srv = await startHttpServer((_req, res) => res.end("ok"));
        const events = recordEvents(dispatcher, srv.origin);
        const reply = await fetchText(dispatcher, srv.url());
        await dispatcher[how]();
        await until(() => events.length >= 2, 1000).catch(() => {});
        return { reply, events };
      });
      expect(results).toEqual(
        both({
          reply: ok,
          events: [
            { event: "connect", origin: "server", self: true },
            { event: "disconnect", origin: "server", self: true, error: destroyedError },
          ],
        }),
      );
    });
  }

  it("'connectionError' with the system error when the connection is refused, and no 'connect'", async () => {
    const results = await compare(async (dispatcher) => {
      const origin = `http://127.0.0.1:${await closedPort()}`;
      const events = recordEvents(dispatcher, origin);
      const reply = await fetchText(dispatcher, `${origin}/`);
      await until(() => events.length >= 1, 1000).catch(() => {});
      return { reply, events };
    });
    const refused = { error: "Error", code: "ECONNREFUSED", syscall: "connect" };
    expect(results).toEqual(
      both({
        reply: refused,
        events: [{ event: "connectionError", origin: "server", self: true, error: refused }],
      }),
    );
  });
});

describe("errors handed to the handler", () => {
  it("connection refused: the system error, ECONNREFUSED from connect", async () => {
    const results = await compare(async (dispatcher) => {
      return fetchText(dispatcher, `http://127.0.0.1:${await closedPort()}/`);
    });
    expect(results).toEqual(both({ error: "Error", code: "ECONNREFUSED", syscall: "connect" }));
  });

  it("a host name the lookup cannot resolve: the lookup's ENOTFOUND error", async () => {
    const notFound = (hostname: string) =>
      Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
        code: "ENOTFOUND",
        syscall: "getaddrinfo",
        hostname,
      });
    const results = await compare((dispatcher) => fetchText(dispatcher, "http://nowhere.test:8080/"), {
      make: {
        // Each with its own way of plugging in a lookup: net's `lookup`, the connector's resolver.
        Agent: () =>
          new Agent({
            connect: { lookup: (hostname, _options, callback) => callback(notFound(hostname), "", 4) },
          }),
        TCPConnector: () => new TCPConnector({ resolver: new TableResolver({}) }),
      },
    });
    expect(results).toEqual(both({ error: "Error", code: "ENOTFOUND", syscall: "getaddrinfo" }));
  });

  it("connect timeout (a TLS handshake that never completes): ConnectTimeoutError", async () => {
    const results = await compare(
      async (dispatcher) => {
        // Accepts the TCP connection, then never says a word.
        await using srv = await startRawServer(() => {});
        return await fetchText(dispatcher, `https://127.0.0.1:${srv.port}/`);
      },
      {
        parallel: true,
        make: {
          Agent: () => new Agent({ connect: { timeout: 100 } }),
          TCPConnector: () => new TCPConnector({ connectTimeout: 100 }),
        },
      },
    );
    expect(results).toEqual(both({ error: "undici.ConnectTimeoutError", code: "UND_ERR_CONNECT_TIMEOUT" }));
  });

  it("headersTimeout elapsed: HeadersTimeoutError", async () => {
    const results = await compare(
      async (dispatcher) => {
        await using srv = await startRawServer(async (conn) => {
          await conn.readHead();
        });
        return await fetchText(dispatcher, srv.url(), { headersTimeout: 100 });
      },
      { parallel: true },
    );
    expect(results).toEqual(both({ error: "undici.HeadersTimeoutError", code: "UND_ERR_HEADERS_TIMEOUT" }));
  });

  it("bodyTimeout elapsed: BodyTimeoutError from the body", async () => {
    const results = await compare(
      async (dispatcher) => {
        await using srv = await startRawServer(async (conn) => {
          await conn.readHead();
          await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        });
        return await fetchText(dispatcher, srv.url(), { bodyTimeout: 100 });
      },
      { parallel: true },
    );
    expect(results).toEqual(both({ error: "undici.BodyTimeoutError", code: "UND_ERR_BODY_TIMEOUT" }));
  });

  it("the server closes or resets the connection before or during the response", async () => {
    const results = await compare(async (dispatcher) => {
      await using srv = await startRawServer(async (conn) => {
        const head = await conn.readHead();
        if (head.startsWith("GET /mid-body ")) {
          await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
          await conn.end();
        } else if (head.startsWith("GET /reset ")) conn.reset();
        else await conn.end();
      });
      return {
        closedBeforeResponse: await fetchText(dispatcher, srv.url("/before")),
        closedMidBody: await fetchText(dispatcher, srv.url("/mid-body")),
        resetBeforeResponse: await fetchText(dispatcher, srv.url("/reset")),
      };
    });
    const socketError = { error: "undici.SocketError", code: "UND_ERR_SOCKET" };
    expect(results).toEqual(
      both({
        closedBeforeResponse: socketError,
        closedMidBody: socketError,
        resetBeforeResponse: { error: "Error", code: "ECONNRESET", syscall: "read" },
      }),
    );
  });
});

describe("RetryAgent", () => {
  it("retries a refused connection and gets the answer once the server is up", async () => {
    const results = await compare(async (dispatcher) => {
      const port = await closedPort();
      let attempts = 0;
      let server: AsyncDisposable | undefined;
      // Below the RetryAgent: counts attempts, and has the server listen on the refused port
      // before the first failure goes up, so the retry finds it.
      const listenAfterFirstFailure: Dispatcher.DispatcherComposeInterceptor =
        (dispatch) => (opts, handler) => {
          attempts++;
          return dispatch(opts, {
            onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
            onResponseStart: (controller, statusCode, headers, statusMessage) =>
              handler.onResponseStart?.(controller, statusCode, headers, statusMessage),
            onResponseData: (controller, chunk) => handler.onResponseData?.(controller, chunk),
            onResponseEnd: (controller, trailers) => handler.onResponseEnd?.(controller, trailers),
            onResponseError: (controller, err) => {
              if (server) {
                handler.onResponseError?.(controller, err);
                return;
              }
              void listenOn(port, (_req, res) => res.end("up now")).then(
                (started) => {
                  server = started;
                  handler.onResponseError?.(controller, err);
                },
                (listenErr: unknown) => handler.onResponseError?.(controller, listenErr as Error),
              );
            },
          });
        };
      try {
        const retrying = new RetryAgent(dispatcher.compose(listenAfterFirstFailure), {
          minTimeout: 1,
          maxTimeout: 10,
        });
        const reply = await fetchText(retrying, `http://127.0.0.1:${port}/`);
        return { reply, attempts };
      } finally {
        await server?.[Symbol.asyncDispose]();
      }
    });
    expect(results).toEqual(both({ reply: { status: 200, body: "up now" }, attempts: 2 }));
  });
});
