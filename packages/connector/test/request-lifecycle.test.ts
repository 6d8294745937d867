import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { sleep, startHttpsServer, startRawServer, within } from "@x/fixtures";
import { type Dispatcher, errors as undiciErrors } from "undici";
import { describe, expect, it } from "vitest";
import { type ConnectorTrace, TCPConnector } from "../src/index.js";
import { until } from "./helpers.js";

// One request's life on a pooled connection, seen from its controller-style handler: abort in
// each phase, pause and resume, upgrades, raw headers and trailers, handlers that throw, and
// when the connection goes back to the pool.

type Hooks = Partial<Dispatcher.DispatchHandler> & { onResponseStarted?(): void };

/** A handler that records every callback in order, then runs the test's own hook. */
function recorder(hooks: Hooks = {}) {
  const log = {
    events: [] as string[],
    status: 0,
    body: "",
    error: undefined as Error | undefined,
    controller: undefined as Dispatcher.DispatchController | undefined,
  };
  let settle: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const handler: Hooks = {
    onRequestStart(controller, context) {
      log.controller = controller;
      log.events.push("start");
      hooks.onRequestStart?.(controller, context);
    },
    onResponseStarted() {
      log.events.push("started");
      hooks.onResponseStarted?.();
    },
    onResponseStart(controller, status, headers, text) {
      log.status = status;
      log.events.push(`head ${status}`);
      hooks.onResponseStart?.(controller, status, headers, text);
    },
    onResponseData(controller, chunk) {
      log.body += chunk.toString("latin1");
      log.events.push("data");
      hooks.onResponseData?.(controller, chunk);
    },
    onResponseEnd(controller, trailers) {
      log.events.push("end");
      settle();
      hooks.onResponseEnd?.(controller, trailers);
    },
    onResponseError(controller, err) {
      log.error = err;
      log.events.push("error");
      settle();
      hooks.onResponseError?.(controller, err);
    },
  };
  if (hooks.onRequestUpgrade) {
    handler.onRequestUpgrade = (controller, status, headers, socket) => {
      log.events.push(`upgrade ${status}`);
      settle();
      hooks.onRequestUpgrade?.(controller, status, headers, socket);
    };
  }
  return { handler: handler as Dispatcher.DispatchHandler, log, done };
}

const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/** A raw server answering every request on a connection with `reply`, keeping it open. */
function serving(reply: string) {
  return startRawServer(async (conn) => {
    for (;;) {
      await conn.readHead();
      await conn.write(reply);
    }
  });
}

function get(origin: string, extra: Partial<Dispatcher.DispatchOptions> = {}): Dispatcher.DispatchOptions {
  return { origin, path: "/", method: "GET", ...extra };
}

describe("aborting", () => {
  it("in onRequestStart: the request fails at once, takes no connection, and keeps its first reason", async () => {
    await using srv = await serving(ok);
    await using connector = new TCPConnector({ limit: 1 });
    const reason = new Error("never mind");
    const { handler, log } = recorder({ onRequestStart: (c) => c.abort(reason) });
    connector.dispatch(get(srv.origin), handler);
    // Synchronously: the handler heard of it, and nothing holds or waits for a connection.
    expect(log.events).toEqual(["start", "error"]);
    expect(log.error).toBe(reason);
    expect(connector.stats).toEqual({ acquired: 0, idle: 0, waiting: 0 });
    const controller = log.controller!;
    expect([controller.aborted, controller.reason]).toEqual([true, reason]);
    controller.abort(new Error("again"));
    expect(controller.reason).toBe(reason);
    expect(log.events).toEqual(["start", "error"]);
    // The only connection the server ever sees is the next request's.
    const next = recorder();
    connector.dispatch(get(srv.origin), next.handler);
    await next.done;
    expect(next.log.body).toBe("ok");
    expect(srv.connections).toHaveLength(1);
  });

  it("abort then throw in onRequestStart: one onResponseError, with the abort's reason", async () => {
    await using srv = await serving(ok);
    await using connector = new TCPConnector();
    const reason = new Error("aborted first");
    const { handler, log } = recorder({
      onRequestStart: (c) => {
        c.abort(reason);
        throw new Error("then threw");
      },
    });
    connector.dispatch(get(srv.origin), handler);
    await sleep(20);
    expect(log.events).toEqual(["start", "error"]);
    expect(log.error).toBe(reason);
    expect(connector.stats.acquired).toBe(0);
  });

  it("twice while the socket is being opened: the first reason wins", async () => {
    // Accepts TCP, never answers the TLS handshake: the connection stays in its opening.
    await using srv = await startRawServer(() => {});
    await using connector = new TCPConnector({ connectTimeout: 10_000 });
    const { handler, log, done } = recorder();
    connector.dispatch(get(`https://127.0.0.1:${srv.port}`), handler);
    await until(() => srv.connections.length === 1);
    const first = new Error("first");
    log.controller!.abort(first);
    log.controller!.abort(new Error("second"));
    expect(log.controller!.reason).toBe(first);
    await done;
    expect(log.events).toEqual(["start", "error"]);
    expect(log.error).toBe(first);
    expect(log.controller!.reason).toBe(first);
    expect(connector.stats).toEqual({ acquired: 0, idle: 0, waiting: 0 });
  });

  it("after the connection is open but before the request went out: nothing is sent, the place is freed", async () => {
    await using srv = await serving(ok);
    await using connector = new TCPConnector({ limit: 1 });
    const reason = new Error("too late to send");
    const { handler, log, done } = recorder();
    // undici's Client publishes this once its socket is connected, before it writes the request.
    const onConnected = () => log.controller?.abort(reason);
    subscribe("undici:client:connected", onConnected);
    try {
      connector.dispatch(get(srv.origin), handler);
      await done;
    } finally {
      unsubscribe("undici:client:connected", onConnected);
    }
    await sleep(20);
    expect(log.events).toEqual(["start", "error"]);
    expect(log.error).toBe(reason);
    expect(srv.received().length).toBe(0);
    await until(() => connector.stats.acquired === 0, 1000);
    const next = recorder();
    connector.dispatch(get(srv.origin), next.handler);
    expect(await within(next.done, 1000)).not.toBe("pending");
    expect(next.log.body).toBe("ok");
  });

  it("is ignored once the response has ended or failed", async () => {
    await using srv = await startRawServer(async (conn) => {
      for (;;) {
        const head = await conn.readHead();
        if (head.startsWith("GET /fail ")) return conn.end();
        await conn.write(ok);
      }
    });
    await using connector = new TCPConnector();
    const ended = recorder();
    connector.dispatch(get(srv.origin), ended.handler);
    await ended.done;
    ended.log.controller!.abort(new Error("after the end"));
    expect([ended.log.controller!.aborted, ended.log.controller!.reason]).toEqual([false, null]);

    const failed = recorder();
    connector.dispatch(get(srv.origin, { path: "/fail" }), failed.handler);
    await failed.done;
    expect(failed.log.error).toBeInstanceOf(undiciErrors.SocketError);
    failed.log.controller!.abort(new Error("after the failure"));
    expect([failed.log.controller!.aborted, failed.log.controller!.reason]).toEqual([false, null]);
    expect(failed.log.events).toEqual(["start", "error"]);
  });
});

describe("a handler that throws", () => {
  it("from onRequestStart: that error ends the request, and no connection is taken", async () => {
    await using srv = await serving(ok);
    await using connector = new TCPConnector({ limit: 1 });
    const thrown = new Error("bad start");
    const { handler, log } = recorder({
      onRequestStart: () => {
        throw thrown;
      },
    });
    connector.dispatch(get(srv.origin), handler);
    expect(log.events).toEqual(["start", "error"]);
    expect(log.error).toBe(thrown);
    expect(connector.stats).toEqual({ acquired: 0, idle: 0, waiting: 0 });
    // The request has ended: aborting it now changes nothing.
    log.controller!.abort(new Error("late"));
    expect([log.controller!.aborted, log.controller!.reason]).toEqual([false, null]);
    await sleep(20);
    expect(log.events).toEqual(["start", "error"]);
    expect(srv.connections).toHaveLength(0);
  });

  it("from onResponseStarted: that error ends the request before its head is delivered", async () => {
    await using srv = await serving(ok);
    await using connector = new TCPConnector();
    const thrown = new Error("bad started");
    const { handler, log, done } = recorder({
      onResponseStarted: () => {
        throw thrown;
      },
    });
    connector.dispatch(get(srv.origin), handler);
    await done;
    await sleep(20);
    expect(log.events).toEqual(["start", "started", "error"]);
    expect(log.error).toBe(thrown);
  });

  for (const where of ["onResponseStart", "onResponseData"] as const) {
    it(`from ${where} of a Connection: close response: only onResponseError follows`, async () => {
      await using srv = await serving("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
      await using connector = new TCPConnector({ limit: 1 });
      const thrown = new Error(`bad ${where}`);
      const { handler, log, done } = recorder({
        [where]: () => {
          throw thrown;
        },
      });
      connector.dispatch(get(srv.origin), handler);
      await done;
      await sleep(20);
      expect(log.events).toEqual(
        where === "onResponseStart"
          ? ["start", "started", "head 200", "error"]
          : ["start", "started", "head 200", "data", "error"],
      );
      expect(log.error).toBe(thrown);
      await until(() => connector.stats.acquired === 0, 1000);
    });
  }
});

describe("the response", () => {
  it("reports onResponseStarted before the head", async () => {
    await using srv = await serving(ok);
    await using connector = new TCPConnector();
    const { handler, log, done } = recorder();
    connector.dispatch(get(srv.origin), handler);
    await done;
    expect(log.events).toEqual(["start", "started", "head 200", "data", "end"]);
  });

  it("gives the raw head and raw trailers through the controller", async () => {
    await using srv = await serving(
      "HTTP/1.1 200 OK\r\nX-Raw: one\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
        "2\r\nok\r\n0\r\nX-Sum: 42\r\n\r\n",
    );
    await using connector = new TCPConnector();
    const seen: { before?: unknown; head?: string[]; trailers?: string[]; parsed?: unknown } = {};
    const text = (raw: unknown) => (raw as Array<Buffer | string>).map((b) => b.toString());
    const { handler, log, done } = recorder({
      onRequestStart: (c) => {
        seen.before = [c.rawHeaders, c.rawTrailers];
      },
      onResponseStart: (c) => {
        seen.head = text(c.rawHeaders);
      },
      onResponseEnd: (c, trailers) => {
        seen.trailers = text(c.rawTrailers);
        seen.parsed = trailers;
      },
    });
    connector.dispatch(get(srv.origin), handler);
    await done;
    expect(log.body).toBe("ok");
    expect(seen.before).toEqual([null, null]);
    expect(seen.head).toEqual(["X-Raw", "one", "Transfer-Encoding", "chunked", "Trailer", "X-Sum"]);
    expect(seen.trailers).toEqual(["X-Sum", "42"]);
    expect(seen.parsed).toEqual({ "x-sum": "42" });
  });

  it("paused in onRequestStart: the body waits until resume()", async () => {
    await using srv = await serving("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    await using connector = new TCPConnector();
    const states: Array<[string, boolean]> = [];
    let atHead: string[] = [];
    const { handler, log, done } = recorder({
      onRequestStart: (c) => {
        c.pause();
        states.push(["paused", c.paused]);
      },
      onResponseStart: (c) => {
        // Head and body came in one packet: a paused request gets the body only after resume().
        setImmediate(() => {
          atHead = [...log.events];
          c.resume();
          states.push(["resumed", c.paused]);
          c.resume();
          states.push(["resumed twice", c.paused]);
        });
      },
    });
    connector.dispatch(get(srv.origin), handler);
    await done;
    expect(atHead).toEqual(["start", "started", "head 200"]);
    expect(states).toEqual([
      ["paused", true],
      ["resumed", false],
      ["resumed twice", false],
    ]);
    expect(log.body).toBe("hello");
  });

  for (const header of ["", "Connection: keep-alive\r\n"]) {
    it(`on a kept-alive connection${header ? " (Connection: keep-alive)" : ""}, ends in the same turn as its last bytes`, async () => {
      await using srv = await serving(`HTTP/1.1 200 OK\r\n${header}Content-Length: 2\r\n\r\nok`);
      await using connector = new TCPConnector();
      const { handler, log, done } = recorder({
        onResponseData: () => queueMicrotask(() => log.events.push("microtask")),
      });
      connector.dispatch(get(srv.origin), handler);
      await done;
      await sleep(0);
      expect(log.events).toEqual(["start", "started", "head 200", "data", "end", "microtask"]);
      expect(connector.stats).toEqual({ acquired: 0, idle: 1, waiting: 0 });
    });
  }

  const closing: Array<
    [string, ConstructorParameters<typeof TCPConnector>[0], Partial<Dispatcher.DispatchOptions>]
  > = [
    ["a request with reset: true", {}, { reset: true }],
    ["a forceClose connector", { forceClose: true }, {}],
  ];
  for (const [what, options, extra] of closing) {
    it(`for ${what}, the connection is not reused by a request sent from onResponseEnd`, async () => {
      // The server keeps every connection open: only the client decides to close it.
      await using srv = await serving(ok);
      await using connector = new TCPConnector(options);
      const trace: string[] = [];
      const traced: ConnectorTrace = {
        onConnectionCreateStart: () => trace.push("create"),
        onConnectionReuseconn: () => trace.push("reuse"),
      };
      const second = recorder();
      const first = recorder({
        onResponseEnd: () => {
          connector.dispatch(
            { ...get(srv.origin, extra), connectorOptions: { trace: traced } } as Dispatcher.DispatchOptions,
            second.handler,
          );
        },
      });
      connector.dispatch(get(srv.origin, extra), first.handler);
      await second.done;
      expect([first.log.body, second.log.body]).toEqual(["ok", "ok"]);
      expect(trace).toEqual(["create"]);
      expect(srv.connections).toHaveLength(2);
    });
  }
});

describe("upgrades", () => {
  const switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n";

  it("a handler without onRequestUpgrade gets a SocketError, and the upgraded socket is closed", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write(switching);
    });
    await using connector = new TCPConnector();
    const { handler, log, done } = recorder();
    connector.dispatch(get(srv.origin, { upgrade: "foo" }), handler);
    expect(await within(done, 2000)).not.toBe("pending");
    expect(log.events).toEqual(["start", "started", "error"]);
    expect(log.error).toBeInstanceOf(undiciErrors.SocketError);
    expect(log.error?.message).toBe("the server upgraded a request that did not ask for it");
    await until(() => srv.connections[0]?.ended === true, 1000);
    await until(() => connector.stats.acquired === 0, 1000);
  });

  it("a throwing onRequestUpgrade gets its error back; the socket is closed; abort() afterwards is ignored", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write(switching);
    });
    await using connector = new TCPConnector();
    const thrown = new Error("cannot take it");
    const { handler, log } = recorder({
      onRequestUpgrade: () => {
        throw thrown;
      },
    });
    connector.dispatch(get(srv.origin, { upgrade: "foo" }), handler);
    await until(() => log.events.includes("error"), 2000);
    expect(log.events).toEqual(["start", "started", "upgrade 101", "error"]);
    expect(log.error).toBe(thrown);
    await until(() => srv.connections[0]?.ended === true, 1000);
    log.controller!.abort(new Error("late"));
    expect([log.controller!.aborted, log.controller!.reason]).toEqual([false, null]);
  });

  it("an upgraded request has ended: abort() afterwards is ignored and the socket stays the caller's", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write(switching);
      await conn.write("after upgrade");
    });
    await using connector = new TCPConnector();
    let socket: import("node:stream").Duplex | undefined;
    const { handler, log, done } = recorder({
      onRequestUpgrade: (_c, _status, _headers, s) => {
        socket = s;
      },
    });
    connector.dispatch(get(srv.origin, { upgrade: "foo" }), handler);
    await done;
    log.controller!.abort(new Error("late"));
    expect([log.controller!.aborted, log.controller!.reason]).toEqual([false, null]);
    expect(log.events).toEqual(["start", "started", "upgrade 101"]);
    const data = await new Promise<string>((resolve) =>
      socket!.once("data", (d: Buffer) => resolve(String(d))),
    );
    expect(data).toBe("after upgrade");
    expect(socket!.destroyed).toBe(false);
    socket!.destroy();
    await until(() => connector.stats.acquired === 0, 1000);
  });
});

describe("what goes on the wire", () => {
  it("an expectContinue request asks the server to close the connection after it", async () => {
    const heads: string[] = [];
    await using srv = await startRawServer(async (conn) => {
      heads.push(await conn.readHead());
      await conn.write(ok);
    });
    await using connector = new TCPConnector();
    const { handler, log, done } = recorder();
    connector.dispatch(get(srv.origin, { method: "POST", body: "12345", expectContinue: true }), handler);
    await done;
    expect(log.body).toBe("ok");
    expect(heads[0]).toMatch(/\r\nconnection: close\r\n/i);
    expect(heads[0]).toMatch(/\r\nExpect: 100-continue\r\n/i);
  });

  it("an https request keeps its connection whatever Host header it carries", async () => {
    await using srv = await startHttpsServer((req, res) => res.end(`host ${req.headers.host}`));
    await using connector = new TCPConnector({ ssl: { ca: srv.ca } });
    const bodies: string[] = [];
    for (const host of ["a.example", "b.example", "a.example"]) {
      const { handler, log, done } = recorder();
      connector.dispatch(get(srv.origin, { headers: { host } }), handler);
      await done;
      bodies.push(log.body);
    }
    expect(bodies).toEqual(["host a.example", "host b.example", "host a.example"]);
    expect(srv.stats.accepted).toBe(1);
  });
});

describe("through a plain-http proxy", () => {
  /** A raw "proxy" that records each request head and answers it. */
  async function proxy() {
    const heads: string[] = [];
    const srv = await startRawServer(async (conn) => {
      for (;;) {
        heads.push(await conn.readHead());
        await conn.write(ok);
      }
    });
    return { srv, heads };
  }

  async function via(
    connector: TCPConnector,
    proxyOrigin: string,
    opts: Partial<Dispatcher.DispatchOptions>,
  ): Promise<void> {
    const { handler, log, done } = recorder();
    connector.dispatch(
      {
        ...get("http://target.example:8080"),
        ...opts,
        connectorOptions: { proxy: { url: new URL(proxyOrigin) } },
      } as Dispatcher.DispatchOptions,
      handler,
    );
    await done;
    expect(log.body).toBe("ok");
  }

  const lines = (head: string) => head.split("\r\n").filter((l) => l !== "");

  it("sends the path in absolute form, and an absolute path as it is", async () => {
    const { srv, heads } = await proxy();
    await using _ = srv;
    await using connector = new TCPConnector();
    await via(connector, srv.origin, { path: "/a?b=1" });
    await via(connector, srv.origin, { path: "http://target.example:8080/already/absolute" });
    expect(heads.map((h) => lines(h)[0])).toEqual([
      "GET http://target.example:8080/a?b=1 HTTP/1.1",
      "GET http://target.example:8080/already/absolute HTTP/1.1",
    ]);
  });

  it("keeps the request's headers, whatever form they were given in", async () => {
    const { srv, heads } = await proxy();
    await using _ = srv;
    await using connector = new TCPConnector();
    await via(connector, srv.origin, { headers: ["x-flat", "1", "x-flat", "2"] });
    await via(connector, srv.origin, {
      headers: {
        "x-one": "1",
        "x-many": ["a", "b"],
        "x-none": undefined,
      } as unknown as Dispatcher.DispatchOptions["headers"],
    });
    await via(connector, srv.origin, {
      headers: new Map([["x-iter", "i"]]) as unknown as Dispatcher.DispatchOptions["headers"],
    });
    const custom = (head: string) => lines(head).filter((l) => /^x-/i.test(l));
    expect(heads.map(custom)).toEqual([
      ["x-flat: 1", "x-flat: 2"],
      ["x-one: 1", "x-many: a", "x-many: b"],
      ["x-iter: i"],
    ]);
  });

  it("with forceClose, asks for the connection to close and opens one per request", async () => {
    const { srv, heads } = await proxy();
    await using _ = srv;
    await using connector = new TCPConnector({ forceClose: true });
    await via(connector, srv.origin, { path: "/1" });
    await via(connector, srv.origin, { path: "/2" });
    expect(heads.map((h) => lines(h).find((l) => /^connection:/i.test(l)))).toEqual([
      "connection: close",
      "connection: close",
    ]);
    expect(srv.connections).toHaveLength(2);
  });
});
