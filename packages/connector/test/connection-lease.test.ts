import { once } from "node:events";
import type { AddressInfo, Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { ConnectorClosedError } from "@x/errors";
import { startHttpServer, startHttpsServer, startRawServer, testCertificates, within } from "@x/fixtures";
import { type Dispatcher, request, errors as undiciErrors } from "undici";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ConnectionInfo, type PooledConnection, TCPConnector } from "../src/index.js";
import { until } from "./helpers.js";

// A pooled connection's life: what `onConnection` shows of it, its idle timer across holders,
// how an opening is stopped, and how an idle connection is closed (abruptly, or the polite TLS
// way with `enableCleanupClosed`).

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Only setTimeout/clearTimeout are faked: sockets, TLS and promises run for real. */
const fakeTimeouts = () => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });

describe("what onConnection shows", () => {
  it("a connection is not closed while its request runs, and closed (idle) once it is back in the pool", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector();
    const during: Array<[boolean, string]> = [];
    let conn: PooledConnection | undefined;
    const onConnection = (info: ConnectionInfo) => {
      conn = info.connection;
      during.push([info.connection.closed, info.connection.state]);
    };
    const res = await request(srv.url(), {
      dispatcher: connector,
      connectorOptions: { onConnection },
    } as Parameters<typeof request>[1]);
    await res.body.text();
    expect(during).toEqual([[false, "acquired"]]);
    await until(() => conn?.state === "idle");
    expect(conn?.closed).toBe(true);
  });
});

describe("the idle timer of a raw connection", () => {
  it("runs from the last release: a connection reused meanwhile is not dropped by its earlier timer", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"), { keepAliveTimeout: 60_000 });
    await using connector = new TCPConnector({ keepaliveTimeout: 10_000 });
    const first = await connector.connect({ url: srv.url() });
    const socket = first.transport!;
    fakeTimeouts();
    first.release();
    vi.advanceTimersByTime(5_000);
    const second = await connector.connect({ url: srv.url() });
    expect(second.transport).toBe(socket);
    second.release();
    // 11 s after the first release, 6 s after the second: still idle, still open.
    vi.advanceTimersByTime(6_000);
    expect(socket.destroyed).toBe(false);
    expect(connector.stats.idle).toBe(1);
    // 10 s after the second release it expires.
    vi.advanceTimersByTime(4_000);
    expect(socket.destroyed).toBe(true);
    expect(connector.stats.idle).toBe(0);
  });

  it("counts keepaliveTimeout from the release, not from when the connection was taken", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"), { keepAliveTimeout: 60_000 });
    await using connector = new TCPConnector({ keepaliveTimeout: 15_000 });
    const start = Date.now();
    const clock = vi.spyOn(Date, "now").mockReturnValue(start);
    const held = await connector.connect({ url: srv.url() });
    const socket = held.transport;
    // Held for longer than keepaliveTimeout, then given back: it is fresh in the pool.
    clock.mockReturnValue(start + 20_000);
    held.release();
    const again = await connector.connect({ url: srv.url() });
    expect(again.transport).toBe(socket);
    again.close();
    expect(srv.stats.accepted).toBe(1);
  });
});

describe("an opening in progress", () => {
  it("is stopped by destroy(): the request fails at once with ClientDestroyedError", async () => {
    // Accepts TCP, never answers the TLS handshake.
    await using srv = await startRawServer(() => {});
    const connector = new TCPConnector({ connectTimeout: 10_000 });
    const failure = request(`https://127.0.0.1:${srv.port}/`, { dispatcher: connector }).then(
      () => "answered",
      (err: unknown) => err,
    );
    const raw = connector.connect({ url: `https://127.0.0.1:${srv.port}/` }).catch((err: unknown) => err);
    await until(() => srv.connections.length === 2);
    await connector.destroy();
    expect(await within(failure, 1000)).toBeInstanceOf(undiciErrors.ClientDestroyedError);
    expect(await within(raw, 1000)).toBeInstanceOf(ConnectorClosedError);
    await until(() => srv.connections.every((c) => c.ended), 1000);
  });
});

describe("closing an idle connection", () => {
  it("aborts a plain socket at once, enableCleanupClosed or not", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector({ enableCleanupClosed: true, keepaliveTimeout: 1_000 });
    const conn = await connector.connect({ url: srv.url() });
    const socket = conn.transport!;
    fakeTimeouts();
    conn.release();
    vi.advanceTimersByTime(1_000);
    expect(socket.destroyed).toBe(true);
    expect(connector.stats.idle).toBe(0);
  });

  it("with enableCleanupClosed, ends a raw TLS socket politely and lets the peer finish closing", async () => {
    await using srv = await startHttpsServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector({
      enableCleanupClosed: true,
      keepaliveTimeout: 1_000,
      ssl: { ca: srv.ca },
    });
    const conn = await connector.connect({ url: srv.url() });
    const socket = conn.transport as TLSSocket;
    fakeTimeouts();
    conn.release();
    vi.advanceTimersByTime(1_000);
    // close_notify sent, the socket still open until the peer closes its side.
    expect(connector.stats.idle).toBe(0);
    expect(socket.writableEnded).toBe(true);
    expect(socket.destroyed).toBe(false);
    // One timer stands ready to abort it if the peer never finishes closing.
    expect(vi.getTimerCount()).toBe(1);
    // The holder's late close() (in a `finally`, say) neither cuts that short nor starts over.
    conn.close();
    expect(socket.destroyed).toBe(false);
    expect(vi.getTimerCount()).toBe(1);
    await once(socket, "close");
    // Nothing is left to abort it later.
    expect(vi.getTimerCount()).toBe(0);
  });

  it("with enableCleanupClosed, aborts a TLS socket whose peer does not finish closing within 2 s", async () => {
    const certs = await testCertificates();
    const server = createTlsServer({ key: certs.server.key, cert: certs.server.cert, allowHalfOpen: true });
    const peers: Socket[] = [];
    // Resolves once the peer has read the client's close_notify and FIN (it never answers them).
    const peerEnded = new Promise<void>((resolve) => {
      server.on("secureConnection", (s: Socket) => {
        peers.push(s);
        s.on("error", () => {});
        s.once("end", () => resolve());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await using connector = new TCPConnector({
        enableCleanupClosed: true,
        keepaliveTimeout: 1_000,
        ssl: { ca: certs.ca },
      });
      const conn = await connector.connect({ url: `https://127.0.0.1:${port}/` });
      const socket = conn.transport as TLSSocket;
      fakeTimeouts();
      conn.release();
      vi.advanceTimersByTime(1_000);
      expect(socket.writableEnded).toBe(true);
      await peerEnded;
      vi.advanceTimersByTime(1_999);
      expect(socket.destroyed).toBe(false);
      vi.advanceTimersByTime(1);
      expect(socket.destroyed).toBe(true);
    } finally {
      for (const s of peers) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("with enableCleanupClosed, aborts at once a TLS connection an HTTP client owns", async () => {
    await using secure = await startHttpsServer((_req, res) => res.end("secure"));
    await using plain = await startHttpServer((_req, res) => res.end("plain"));
    await using connector = new TCPConnector({ enableCleanupClosed: true, limit: 1, ssl: { ca: secure.ca } });
    let socket: Socket | null = null;
    const onConnection = (info: ConnectionInfo) => {
      socket = info.connection.transport;
    };
    const res = await request(secure.url(), {
      dispatcher: connector,
      connectorOptions: { onConnection },
    } as Parameters<typeof request>[1]);
    expect(await res.body.text()).toBe("secure");
    await until(() => connector.stats.idle === 1);
    expect(socket).not.toBeNull();
    // limit 1: the request to another origin makes room by closing the idle TLS connection.
    const next = request(plain.url(), { dispatcher: connector as Dispatcher });
    expect((socket as unknown as Socket).destroyed).toBe(true);
    expect(await (await next).body.text()).toBe("plain");
  });
});
