import { createServer as createNetServer, connect as netConnect, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { ConnectorClosedError, InvalidArgumentError, InvalidUrlClientError } from "@x/errors";
import {
  closedPort,
  sleep,
  startHttp2Server,
  startHttpServer,
  startRawServer,
  testCertificates,
} from "@x/fixtures";
import { type Dispatcher, request, errors as undiciErrors, upgrade } from "undici";
import { describe, expect, it } from "vitest";
import { TCPConnector, UnixConnector } from "../src/index.js";
import { until } from "./helpers.js";

// The BaseConnector's own API as its users see it: close()/destroy() with callbacks, `await using`,
// dispatch()'s result and 'drain', connect() in its two forms, the 'disconnect' event and the
// keep-alive and cleanup of raw connections handed out by connect().

/** Resolves with what `settle` was called with, or "not called" after `ms`. */
function callbackResult(ms = 1000): {
  cb: (err: Error | null, data: unknown) => void;
  result: Promise<unknown>;
} {
  let resolve: (value: unknown) => void = () => {};
  const result = new Promise<unknown>((r) => {
    resolve = r;
  });
  const timer = setTimeout(() => resolve("not called"), ms);
  return {
    cb: (err, data) => {
      clearTimeout(timer);
      resolve({ err, data });
    },
    result,
  };
}

/** A controller-style handler and a promise of how the request ended. */
function collect(): { handler: Dispatcher.DispatchHandler; done: Promise<{ status: number } | Error> } {
  let settle: (v: { status: number } | Error) => void = () => {};
  const done = new Promise<{ status: number } | Error>((r) => {
    settle = r;
  });
  let status = 0;
  return {
    handler: {
      onRequestStart: () => {},
      onResponseStart: (_c, statusCode) => {
        status = statusCode;
      },
      onResponseData: () => {},
      onResponseEnd: () => settle({ status }),
      onResponseError: (_c, err) => settle(err),
    },
    done,
  };
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  return "nothing thrown";
}

describe("close() and destroy() with callbacks", () => {
  it("close(cb) calls back with (null, null) once closed, and with ClientDestroyedError after destroy()", async () => {
    const connector = new TCPConnector();
    const first = callbackResult();
    expect(connector.close(first.cb)).toBeUndefined();
    expect(await first.result).toEqual({ err: null, data: null });
    expect([connector.closed, connector.destroyed]).toEqual([true, true]);

    const destroyed = new TCPConnector();
    await destroyed.destroy();
    const late = callbackResult();
    destroyed.close(late.cb);
    const { err, data } = (await late.result) as { err: Error; data: unknown };
    expect(err).toBeInstanceOf(undiciErrors.ClientDestroyedError);
    expect(data).toBeNull();
  });

  it("destroy(cb) and destroy(err, cb) call back with (null, null) once destroyed", async () => {
    const a = new TCPConnector();
    const onlyCallback = callbackResult();
    expect(a.destroy(onlyCallback.cb)).toBeUndefined();
    expect(await onlyCallback.result).toEqual({ err: null, data: null });
    expect(a.destroyed).toBe(true);

    const b = new TCPConnector();
    const withError = callbackResult();
    expect(b.destroy(null, withError.cb)).toBeUndefined();
    expect(await withError.result).toEqual({ err: null, data: null });
    expect(b.destroyed).toBe(true);
  });

  it("a callback that is not a function is refused with undici's 'invalid callback'", async () => {
    await using connector = new TCPConnector();
    for (const call of [() => connector.close(42 as never), () => connector.destroy(null, "no" as never)]) {
      const err = thrown(call);
      expect(err).toBeInstanceOf(undiciErrors.InvalidArgumentError);
      expect((err as Error).message).toBe("invalid callback");
    }
    expect([connector.closed, connector.destroyed]).toEqual([false, false]);
  });

  it("dispatch() with opts that are not an object hands the handler 'opts must be an object.'", async () => {
    await using connector = new TCPConnector();
    const { handler, done } = collect();
    expect(connector.dispatch(null as never, handler)).toBe(false);
    const err = await done;
    expect(err).toBeInstanceOf(undiciErrors.InvalidArgumentError);
    expect((err as Error).message).toBe("opts must be an object.");
    const text = collect();
    expect(connector.dispatch("http://example.test/" as never, text.handler)).toBe(false);
    expect(((await text.done) as Error).message).toBe("opts must be an object.");
  });
});

describe("await using", () => {
  it("closes and destroys: closed and destroyed are both true, and a request in flight is aborted", async () => {
    await using srv = await startHttpServer((_req, res) => {
      res.write("a body that never ends");
    });
    const connector = new TCPConnector();
    const res = await request(srv.url(), { dispatcher: connector });
    const body = res.body.text().catch((e: unknown) => e);
    await connector[Symbol.asyncDispose]();
    expect([connector.closed, connector.destroyed]).toEqual([true, true]);
    expect(await body).toBeInstanceOf(undiciErrors.ClientDestroyedError);
    // Disposing again (or after close()) is harmless.
    await connector[Symbol.asyncDispose]();
    const closedFirst = new TCPConnector();
    await closedFirst.close();
    await closedFirst[Symbol.asyncDispose]();
    expect([closedFirst.closed, closedFirst.destroyed]).toEqual([true, true]);
  });

  it("says it honours connectorOptions and expectContinue over HTTP/1.1", async () => {
    await using connector = new TCPConnector();
    expect(connector.honoursConnectorOptions).toBe(true);
    expect(connector.expectContinueHttp1).toBe(true);
  });
});

describe("dispatch() result and 'drain'", () => {
  it("a dispatcher that never returned false never emits 'drain'", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("ok"));
    await using connector = new TCPConnector({ limit: 2 });
    let drains = 0;
    connector.on("drain", () => drains++);
    const opts: Dispatcher.DispatchOptions = { origin: srv.origin, path: "/", method: "GET" };
    for (let i = 0; i < 2; i++) {
      const c = collect();
      expect(connector.dispatch(opts, c.handler)).toBe(true);
      expect(await c.done).toEqual({ status: 200 });
    }
    await sleep(20);
    expect(drains).toBe(0);
  });

  it("emits 'drain' once, when nothing waits and there is room, and again only after another false", async () => {
    await using srv = await startHttpServer((_req, res) => {
      setTimeout(() => res.end("ok"), 20);
    });
    await using connector = new TCPConnector({ limit: 2 });
    const atDrain: Array<{ waiting: number; acquired: number; origin: string; self: boolean }> = [];
    connector.on("drain", (origin: URL, targets?: readonly Dispatcher[]) => {
      const { waiting, acquired } = connector.stats;
      atDrain.push({ waiting, acquired, origin: origin.href, self: targets?.[0] === connector });
    });
    const opts: Dispatcher.DispatchOptions = { origin: srv.origin, path: "/", method: "GET" };
    const calls = [collect(), collect(), collect()];
    expect(calls.map((c) => connector.dispatch(opts, c.handler))).toEqual([true, false, false]);
    await Promise.all(calls.map((c) => c.done));
    await sleep(20);
    expect(atDrain).toHaveLength(1);
    expect(atDrain[0]?.waiting).toBe(0);
    expect(atDrain[0]?.acquired).toBeLessThan(2);
    expect(atDrain[0]).toMatchObject({ origin: `${srv.origin}/`, self: true });
    // A request that does not fill the connector returns true and brings no new 'drain'.
    const more = collect();
    expect(connector.dispatch(opts, more.handler)).toBe(true);
    await more.done;
    await sleep(20);
    expect(atDrain).toHaveLength(1);
  });

  it("answers for the request's own endpoint, as undici's Agent: true for one with room while another's wait", async () => {
    await using a = await startHttpServer((_req, res) => {
      setTimeout(() => res.end("a"), 30);
    });
    await using b = await startHttpServer((_req, res) => res.end("b"));
    await using connector = new TCPConnector({ limit: 0, limitPerHost: 2 });
    const toA: Dispatcher.DispatchOptions = { origin: a.origin, path: "/", method: "GET" };
    const toB: Dispatcher.DispatchOptions = { origin: b.origin, path: "/", method: "GET" };
    const calls = [collect(), collect(), collect(), collect()];
    const returned = [
      connector.dispatch(toA, calls[0]!.handler),
      connector.dispatch(toA, calls[1]!.handler),
      connector.dispatch(toA, calls[2]!.handler),
      // b has room for this one and one more, though a request for a waits.
      connector.dispatch(toB, calls[3]!.handler),
    ];
    expect(connector.stats).toEqual({ acquired: 3, idle: 0, waiting: 1 });
    expect(returned).toEqual([true, false, false, true]);
    await Promise.all(calls.map((c) => c.done));
  });
});

describe("what kind of connection a request gets (allowH2)", () => {
  it("an upgrade gets an HTTP/1.1 connection of its own, not a stream of the HTTP/2 one", async () => {
    await using srv = await startHttp2Server((_req, res) => res.end("h2"));
    srv.server.on("upgrade", (_req, socket: Socket) => {
      socket.end("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x-test\r\n\r\n");
    });
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca } });
    await (await request(srv.url("/"), { dispatcher: connector })).body.text();
    expect(srv.versions).toEqual(["2.0"]);
    const { socket, headers } = await upgrade(srv.url("/up"), { dispatcher: connector, protocol: "x-test" });
    expect(headers.upgrade).toBe("x-test");
    socket.destroy();
    expect(srv.stats.accepted).toBe(2);
  });

  it("upgrade: null is no upgrade: the request rides the HTTP/2 connection", async () => {
    await using srv = await startHttp2Server((_req, res) => res.end("h2"));
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca } });
    await (await request(srv.url("/"), { dispatcher: connector })).body.text();
    const c = collect();
    connector.dispatch({ origin: srv.origin, path: "/again", method: "GET", upgrade: null }, c.handler);
    expect(await c.done).toEqual({ status: 200 });
    expect(srv.versions).toEqual(["2.0", "2.0"]);
    expect(srv.stats.accepted).toBe(1);
  });

  it("undici's CONNECT (connect({ origin, path })) gets an HTTP/1.1 connection of its own", async () => {
    await using srv = await startHttp2Server((_req, res) => res.end("h2"));
    const connects: string[] = [];
    srv.server.on("connect", (req: { httpVersion: string; url?: string }, socket: Socket) => {
      connects.push(`${req.httpVersion} ${req.url}`);
      if (typeof socket.end === "function" && "remoteAddress" in socket)
        socket.end("HTTP/1.1 200 Connection Established\r\n\r\n");
    });
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca } });
    await (await request(srv.url("/"), { dispatcher: connector })).body.text();
    const data = await connector.connect({ origin: srv.origin, path: "/" });
    expect(data.statusCode).toBe(200);
    data.socket.destroy();
    expect(connects).toEqual(["1.1 /"]);
    expect(srv.stats.accepted).toBe(2);
  });

  it("an expectContinue request never rides a connection an HTTP client already owns", async () => {
    await using srv = await startRawServer(async (conn) => {
      for (;;) {
        const head = await conn.readHead().catch(() => "");
        if (!head) return;
        if (head.includes("100-continue")) {
          await conn.end("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
          return;
        }
        await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      }
    });
    await using connector = new TCPConnector();
    await (await request(srv.url("/warm"), { dispatcher: connector })).body.text();
    expect(connector.stats.idle).toBe(1);
    const res = await request(srv.url("/upload"), {
      dispatcher: connector,
      method: "POST",
      body: "the body",
      expectContinue: true,
    });
    expect(res.statusCode).toBe(417);
    await res.body.text();
    expect(srv.connections).toHaveLength(2);
    expect(srv.received().toString("latin1")).not.toContain("the body");
  });
});

describe("connect(), both forms", () => {
  it("with undici's { origin, path } it is undici's CONNECT, whatever else the object has", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    });
    await using connector = new TCPConnector();
    const data = await connector.connect({
      origin: srv.origin,
      path: "/",
      url: "http://127.0.0.1:9/",
    } as never as Dispatcher.ConnectOptions);
    expect(data.statusCode).toBe(200);
    data.socket.destroy();
    expect(srv.received().toString("latin1")).toMatch(/^CONNECT \/ HTTP\/1\.1\r\n/);
    // The callback form, too.
    const viaCallback = await new Promise<{ err: Error | null; statusCode?: number }>((resolve) => {
      connector.connect({ origin: srv.origin, path: "/" }, (err, d) => {
        d?.socket?.destroy();
        resolve({ err, statusCode: d?.statusCode });
      });
    });
    expect(viaCallback).toEqual({ err: null, statusCode: 200 });
  });

  it("undici's form is undici's with any object that has no url: { origin } alone is tried as given", async () => {
    await using connector = new TCPConnector();
    const port = await closedPort();
    const noPath = await connector
      .connect({ origin: `http://127.0.0.1:${port}` } as never)
      .catch((e: unknown) => e);
    expect(noPath).not.toBeInstanceOf(InvalidUrlClientError);
    expect(noPath).toMatchObject({ code: "ECONNREFUSED" });
    const text = await connector.connect("http://127.0.0.1:9/" as never).catch((e: unknown) => e);
    expect(text).toBeInstanceOf(undiciErrors.InvalidArgumentError);
    expect((text as Error).message).toBe("invalid opts");
  });

  it("refuses a connection once close() was called, even while requests still finish", async () => {
    await using srv = await startHttpServer((_req, res) => {
      setTimeout(() => res.end("late"), 100);
    });
    const connector = new TCPConnector();
    const inFlight = request(srv.url(), { dispatcher: connector }).then((r) => r.body.text());
    await until(() => srv.stats.accepted === 1);
    const closing = connector.close();
    expect([connector.closed, connector.destroyed]).toEqual([true, false]);
    const err = await connector.connect({ url: srv.url() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorClosedError);
    expect(await inFlight).toBe("late");
    await closing;
    expect(srv.stats.accepted).toBe(1);
  });

  it("a wait the connector's destroy() ends is ConnectorClosedError with undici's error as cause", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const connector = new TCPConnector({ limit: 1 });
    const held = await connector.connect({ url: srv.url() });
    const waiting = connector.connect({ url: srv.url() }).catch((e: unknown) => e);
    await until(() => connector.stats.waiting === 1);
    await connector.destroy();
    const err = await waiting;
    expect(err).toBeInstanceOf(ConnectorClosedError);
    expect((err as Error).cause).toBeInstanceOf(undiciErrors.ClientDestroyedError);
    held.close();
  });

  it("UnixConnector refuses a proxy, naming itself", async () => {
    await using connector = new UnixConnector("/tmp/nothing-here.sock");
    const err = await connector
      .connect({ url: "http://x/", proxy: { url: new URL("http://127.0.0.1:1") } })
      .catch((e: unknown) => e);
    expect(err).toEqual(new InvalidArgumentError("UnixConnector does not support proxies"));
  });
});

describe("raw connections from connect()", () => {
  it("'disconnect' (origin, [connector], SocketError 'other side closed') when the server closes an idle one", async () => {
    await using srv = await startRawServer(async (conn) => {
      await sleep(30);
      await conn.end();
    });
    await using connector = new TCPConnector();
    const events: Array<{ origin: string; targets: readonly unknown[]; err: Error }> = [];
    connector.on("disconnect", (origin: URL, targets: readonly Dispatcher[], err: Error) => {
      events.push({ origin: origin.href, targets, err });
    });
    const conn = await connector.connect({ url: srv.url() });
    conn.release();
    expect(connector.stats.idle).toBe(1);
    await until(() => events.length === 1);
    expect(events[0]?.origin).toBe(`${srv.origin}/`);
    expect(events[0]?.targets).toEqual([connector]);
    expect(events[0]?.err).toBeInstanceOf(undiciErrors.SocketError);
    expect(events[0]?.err.message).toBe("other side closed");
    await until(() => connector.stats.idle === 0);
    expect(connector.stats).toEqual({ acquired: 0, idle: 0, waiting: 0 });
  });

  it("one the server closes while held stays the holder's (and counted) until let go", async () => {
    await using srv = await startRawServer(async (conn) => {
      await sleep(10);
      await conn.end();
    });
    await using connector = new TCPConnector({ limit: 1 });
    let disconnects = 0;
    connector.on("disconnect", () => disconnects++);
    const conn = await connector.connect({ url: srv.url() });
    const socket = conn.transport!;
    await new Promise((r) => socket.once("close", r));
    await until(() => disconnects === 1);
    await sleep(10);
    expect(conn.closed).toBe(false);
    expect(connector.stats).toEqual({ acquired: 1, idle: 0, waiting: 0 });
    conn.release();
    expect(connector.stats).toEqual({ acquired: 0, idle: 0, waiting: 0 });
  });

  it("an idle one is closed after keepaliveTimeout", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readToEnd().catch(() => {});
    });
    await using connector = new TCPConnector({ keepaliveTimeout: 50 });
    const conn = await connector.connect({ url: srv.url() });
    const socket = conn.transport!;
    conn.release();
    expect(connector.stats.idle).toBe(1);
    await until(() => socket.destroyed, 2000);
    expect(connector.stats.idle).toBe(0);
    await srv.stats.idle();
  });
});

/**
 * A TLS 1.2 server behind a TCP relay that records what the client sent, so the test can tell a
 * close_notify alert (TLS record type 21) from a socket that was just cut.
 */
async function tlsRelay(): Promise<{
  url: string;
  ca: string;
  /** For each client connection, the TLS record types it sent, and whether it has ended. */
  records: () => Array<{ types: number[]; ended: boolean }>;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const certs = await testCertificates();
  const sockets = new Set<Socket>();
  const tlsServer = createTlsServer(
    { key: certs.server.key, cert: certs.server.cert, maxVersion: "TLSv1.2" },
    (s) => {
      s.on("error", () => {});
      s.resume();
    },
  );
  tlsServer.on("tlsClientError", () => {});
  tlsServer.on("connection", (s: Socket) => sockets.add(s));
  await new Promise<void>((r) => tlsServer.listen(0, "127.0.0.1", r));
  const backPort = (tlsServer.address() as { port: number }).port;
  const seen: Array<{ bytes: Buffer[]; ended: boolean }> = [];
  const relay: Server = createNetServer((client) => {
    sockets.add(client);
    const entry = { bytes: [] as Buffer[], ended: false };
    seen.push(entry);
    const back = netConnect(backPort, "127.0.0.1");
    sockets.add(back);
    client.on("data", (d: Buffer) => {
      entry.bytes.push(d);
      back.write(d);
    });
    client.on("end", () => {
      entry.ended = true;
      back.end();
    });
    back.on("data", (d: Buffer) => client.write(d));
    back.on("end", () => client.end());
    for (const s of [client, back]) s.on("error", () => {});
    client.on("close", () => back.destroy());
    back.on("close", () => client.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
  const port = (relay.address() as { port: number }).port;
  return {
    url: `https://127.0.0.1:${port}/`,
    ca: certs.ca,
    records: () =>
      seen.map((e) => {
        const buf = Buffer.concat(e.bytes);
        const types: number[] = [];
        for (let i = 0; i + 5 <= buf.length; i += 5 + buf.readUInt16BE(i + 3)) types.push(buf[i]!);
        return { types, ended: e.ended };
      }),
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise((r) => relay.close(r)), new Promise((r) => tlsServer.close(r))]);
    },
  };
}

describe("idle HTTP connections", () => {
  it("time out as undici's own: 'disconnect' with InformationalError 'socket idle timeout'", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"), { keepAliveTimeout: 60_000 });
    await using connector = new TCPConnector({ keepaliveTimeout: 100 });
    const errors: Error[] = [];
    connector.on("disconnect", (_origin: URL, _targets: readonly Dispatcher[], err: Error) =>
      errors.push(err),
    );
    await (await request(srv.url(), { dispatcher: connector })).body.text();
    await until(() => errors.length === 1, 2000);
    expect(errors[0]).toBeInstanceOf(undiciErrors.InformationalError);
    expect(errors[0]?.message).toBe("socket idle timeout");
    expect(connector.stats).toEqual({ acquired: 0, idle: 0, waiting: 0 });
  });
});

describe("enableCleanupClosed (idle raw TLS connections)", () => {
  const ALERT = 21;

  it("on: an idle connection timed out is closed with close_notify", async () => {
    await using relay = await tlsRelay();
    await using connector = new TCPConnector({
      ssl: { ca: relay.ca },
      keepaliveTimeout: 50,
      enableCleanupClosed: true,
    });
    const conn = await connector.connect({ url: relay.url });
    conn.release();
    await until(() => relay.records()[0]?.ended === true, 2000);
    expect(relay.records()[0]?.types.at(-1)).toBe(ALERT);
    expect(connector.stats.idle).toBe(0);
  });

  it("on, but destroy(): the socket is cut at once, without close_notify", async () => {
    await using relay = await tlsRelay();
    const connector = new TCPConnector({ ssl: { ca: relay.ca }, enableCleanupClosed: true });
    const conn = await connector.connect({ url: relay.url });
    conn.release();
    await connector.destroy();
    await until(() => relay.records()[0]?.ended === true, 2000);
    expect(relay.records()[0]?.types).not.toContain(ALERT);
  });

  it("off (the default): an idle connection timed out is cut without close_notify", async () => {
    await using relay = await tlsRelay();
    await using connector = new TCPConnector({ ssl: { ca: relay.ca }, keepaliveTimeout: 50 });
    const conn = await connector.connect({ url: relay.url });
    conn.release();
    await until(() => relay.records()[0]?.ended === true, 2000);
    expect(relay.records()[0]?.types).not.toContain(ALERT);
  });
});
