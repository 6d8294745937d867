import { getEventListeners } from "node:events";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { TLSSocket } from "node:tls";
import {
  ConnectionTimeoutError,
  ConnectorClosedError,
  InvalidArgumentError,
  InvalidUrlClientError,
} from "@x/errors";
import { sleep, startHttpServer, startHttpsServer, startRawServer, within } from "@x/fixtures";
import { describe, expect, it, vi } from "vitest";
import { type ConnectionInfo, type PooledConnection, TCPConnector } from "../src/index.js";
import { requestText, until } from "./helpers.js";

const slow =
  (ms: number): RequestListener =>
  (req, res) =>
    setTimeout(() => res.end(`ok ${req.url}`), ms);

const get = requestText;

describe("limit and limitPerHost, counted by the server", () => {
  it("keeps 200 concurrent requests to one host within limit", async () => {
    await using srv = await startHttpServer(slow(5));
    await using connector = new TCPConnector({ limit: 10 });
    const bodies = await Promise.all(Array.from({ length: 200 }, (_, i) => get(connector, srv.url(`/${i}`))));
    expect(bodies[199]).toBe("ok /199");
    expect(srv.stats.maxOpen).toBe(10);
    expect(srv.stats.accepted).toBe(10);
  });

  it("caps each endpoint with limitPerHost and all of them with limit", async () => {
    await using a = await startHttpServer(slow(5));
    await using b = await startHttpServer(slow(5));
    await using c = await startHttpServer(slow(5));
    await using connector = new TCPConnector({ limit: 8, limitPerHost: 3 });
    const all = [a, b, c].flatMap((srv) =>
      Array.from({ length: 70 }, (_, i) => get(connector, srv.url(`/${i}`))),
    );
    await Promise.all(all);
    for (const srv of [a, b, c]) expect(srv.stats.maxOpen).toBeLessThanOrEqual(3);
    expect(a.stats.maxOpen + b.stats.maxOpen + c.stats.maxOpen).toBeGreaterThanOrEqual(8);
  });

  it("never has more than limit sockets open, closing the longest-idle one to make room", async () => {
    await using a = await startHttpServer(slow(1));
    await using b = await startHttpServer(slow(1));
    await using connector = new TCPConnector({ limit: 2 });
    await Promise.all([get(connector, a.url("/1")), get(connector, a.url("/2"))]);
    expect(connector.stats).toEqual({ acquired: 0, idle: 2, waiting: 0 });
    await get(connector, b.url("/x"));
    await until(() => a.stats.open === 1);
    expect(connector.stats.idle).toBe(2);
  });

  it("to make room, closes the connection used least recently, whichever host it belongs to", async () => {
    await using a = await startHttpServer((_req, res) => res.end("a"));
    await using b = await startHttpServer((_req, res) => res.end("b"));
    await using c = await startHttpServer((_req, res) => res.end("c"));
    await using connector = new TCPConnector({ limit: 2 });
    await get(connector, a.url("/1"));
    await get(connector, b.url("/1"));
    // a's connection was idle first, but is used again: b's is now the least recently used.
    await get(connector, a.url("/2"));
    expect(a.stats.accepted).toBe(1);
    await get(connector, c.url("/1"));
    await until(() => b.stats.open === 0);
    expect(a.stats.open).toBe(1);
    expect(connector.stats).toEqual({ acquired: 0, idle: 2, waiting: 0 });
    // Both survivors are still reused.
    await get(connector, a.url("/3"));
    await get(connector, c.url("/2"));
    expect(a.stats.accepted).toBe(1);
    expect(c.stats.accepted).toBe(1);
  });

  it("to make room, finds the least recently used connection in whichever host's list it is", async () => {
    await using a = await startHttpServer((_req, res) => res.end("a"));
    await using b = await startHttpServer((_req, res) => res.end("b"));
    await using c = await startHttpServer((_req, res) => res.end("c"));
    await using connector = new TCPConnector({ limit: 2 });
    await get(connector, a.url("/1"));
    await get(connector, b.url("/1"));
    // b's connection is used again: a's, in the first host's list, is the least recently used.
    await get(connector, b.url("/2"));
    await get(connector, c.url("/1"));
    await until(() => a.stats.open === 0);
    expect(b.stats.open).toBe(1);
    await get(connector, b.url("/3"));
    expect(b.stats.accepted).toBe(1);
  });

  it("serves more than 1,024 queued requests in order, each once", async () => {
    const order: string[] = [];
    await using srv = await startHttpServer((req, res) => {
      order.push(req.url ?? "");
      res.end(`ok ${req.url}`);
    });
    await using connector = new TCPConnector({ limit: 1 });
    const n = 1030; // the queue compacts past 1,024 served entries
    const bodies = await Promise.all(Array.from({ length: n }, (_, i) => get(connector, srv.url(`/${i}`))));
    expect(bodies).toEqual(Array.from({ length: n }, (_, i) => `ok /${i}`));
    expect(order).toEqual(Array.from({ length: n }, (_, i) => `/${i}`));
    expect(srv.stats.accepted).toBe(1);
    expect(connector.stats).toEqual({ acquired: 0, idle: 1, waiting: 0 });
  });

  it("is unlimited with limit 0", async () => {
    await using srv = await startHttpServer(slow(30));
    await using connector = new TCPConnector({ limit: 0 });
    await Promise.all(Array.from({ length: 150 }, (_, i) => get(connector, srv.url(`/${i}`))));
    expect(srv.stats.maxOpen).toBe(150);
  });

  it("with limit 0, limitPerHost alone queues and serves every request", async () => {
    await using srv = await startHttpServer(slow(5));
    await using connector = new TCPConnector({ limit: 0, limitPerHost: 2 });
    const bodies = await Promise.all(Array.from({ length: 12 }, (_, i) => get(connector, srv.url(`/${i}`))));
    expect(bodies[11]).toBe("ok /11");
    expect(srv.stats.maxOpen).toBe(2);
    expect(connector.stats).toEqual({ acquired: 0, idle: 2, waiting: 0 });
  });

  it("with limit 0 keeps every host's idle connection open for reuse", async () => {
    await using a = await startHttpServer((_req, res) => res.end("a"));
    await using b = await startHttpServer((_req, res) => res.end("b"));
    await using connector = new TCPConnector({ limit: 0 });
    for (let i = 0; i < 3; i++) {
      expect(await get(connector, a.url())).toBe("a");
      expect(await get(connector, b.url())).toBe("b");
    }
    expect(a.stats.accepted).toBe(1);
    expect(b.stats.accepted).toBe(1);
    expect(connector.stats.idle).toBe(2);
  });

  it("counts a connection that is still being opened", async () => {
    // The server accepts but answers slowly; both requests must share one slot.
    await using srv = await startHttpServer(slow(20));
    await using connector = new TCPConnector({ limit: 1 });
    const first = get(connector, srv.url("/1"));
    expect(connector.stats).toEqual({ acquired: 1, idle: 0, waiting: 0 });
    const second = get(connector, srv.url("/2"));
    expect(connector.stats.waiting).toBe(1);
    await Promise.all([first, second]);
    expect(srv.stats.accepted).toBe(1);
  });

  it("serves waiters of different hosts in arrival order", async () => {
    const order: string[] = [];
    await using a = await startHttpServer((req, res) => {
      order.push(`a${req.url}`);
      setTimeout(() => res.end("a"), req.url === "/hold" ? 50 : 0);
    });
    await using b = await startHttpServer((req, res) => {
      order.push(`b${req.url}`);
      res.end("b");
    });
    await using connector = new TCPConnector({ limit: 1 });
    const held = get(connector, a.url("/hold"));
    await until(() => order.length === 1);
    const rest = [get(connector, b.url("/1")), get(connector, a.url("/2")), get(connector, b.url("/3"))];
    await Promise.all([held, ...rest]);
    expect(order).toEqual(["a/hold", "b/1", "a/2", "b/3"]);
  });
});

describe("keep-alive", () => {
  it("reuses the idle connection, oldest first", async () => {
    const seen: number[] = [];
    await using srv = await startHttpServer((req, res) => {
      seen.push(req.socket.remotePort ?? 0);
      setTimeout(() => res.end("x"), req.url === "/slow" ? 20 : 0);
    });
    await using connector = new TCPConnector();
    await Promise.all([get(connector, srv.url("/slow")), get(connector, srv.url("/slow"))]);
    const [p1, p2] = seen;
    // Released in order p1 then p2 (or the reverse); reuse takes the one released first.
    await get(connector, srv.url("/a"));
    await get(connector, srv.url("/b"));
    expect(new Set(seen.slice(2))).toEqual(new Set([p1, p2]));
    expect(srv.stats.accepted).toBe(2);
  });

  it("closes idle connections after keepaliveTimeout and never hands one out expired", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"), { keepAliveTimeout: 60_000 });
    await using connector = new TCPConnector({ keepaliveTimeout: 100 });
    expect(connector.keepaliveTimeout).toBe(100);
    await get(connector, srv.url());
    await get(connector, srv.url());
    expect(srv.stats.accepted).toBe(1);
    await until(() => srv.stats.open === 0, 2000);
    expect(connector.stats.idle).toBe(0);
    await get(connector, srv.url());
    expect(srv.stats.accepted).toBe(2);
  });

  it("never hands out an idle connection past keepaliveTimeout, even before its timer has run", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"), { keepAliveTimeout: 60_000 });
    await using connector = new TCPConnector({ keepaliveTimeout: 30 });
    const first = await connector.connect({ url: srv.url() });
    const expired = first.transport;
    first.release();
    // Keep the event loop busy past keepaliveTimeout: the idle timer cannot run, so only the
    // pool's own look at the idle time stands between this request and the expired socket.
    const busyUntil = Date.now() + 60;
    while (Date.now() < busyUntil) {}
    const second = await connector.connect({ url: srv.url() });
    expect(second.transport).not.toBe(expired);
    expect(expired?.destroyed).toBe(true);
    second.close();
    expect(srv.stats.accepted).toBe(2);
  });

  it("never hands out an idle socket that has died, even before its close event", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector();
    const first = await connector.connect({ url: srv.url() });
    const dead = first.transport!;
    first.release();
    dead.destroy();
    const second = await connector.connect({ url: srv.url() });
    expect(second.transport).not.toBe(dead);
    expect(second.transport?.destroyed).toBe(false);
    second.close();
  });

  it("does not reuse a connection the server marked Connection: close", async () => {
    await using srv = await startHttpServer((_req, res) => {
      res.setHeader("connection", "close");
      res.end("bye");
    });
    await using connector = new TCPConnector();
    await get(connector, srv.url());
    await get(connector, srv.url());
    expect(srv.stats.accepted).toBe(2);
    expect(connector.stats.idle).toBe(0);
  });

  it("drops an idle connection that received unsolicited bytes, and the next request succeeds", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      if (conn.index === 0) {
        await sleep(20);
        await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nrogue");
      }
    });
    await using connector = new TCPConnector();
    expect(await get(connector, srv.url("/1"))).toBe("ok");
    // The server sees its first connection closed once the connector has read the stray bytes.
    await until(() => srv.connections[0]?.ended === true);
    expect(await get(connector, srv.url("/2"))).toBe("ok");
    expect(srv.connections).toHaveLength(2);
  });

  it("forceClose sends Connection: close and opens a socket per request", async () => {
    const headers: string[] = [];
    await using srv = await startHttpServer((req, res) => {
      headers.push(String(req.headers.connection));
      res.end("x");
    });
    await using connector = new TCPConnector({ forceClose: true });
    await get(connector, srv.url());
    await get(connector, srv.url());
    expect(headers).toEqual(["close", "close"]);
    expect(srv.stats.accepted).toBe(2);
    await srv.stats.idle();
  });

  it("reuses an idle connection for exactly keepaliveTimeout ms", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"), { keepAliveTimeout: 60_000 });
    await using connector = new TCPConnector({ keepaliveTimeout: 5000 });
    const start = Date.now();
    const clock = vi.spyOn(Date, "now").mockReturnValue(start);
    try {
      await get(connector, srv.url()); // idle since `start`
      clock.mockReturnValue(start + 4999);
      await get(connector, srv.url()); // reused; idle again since start + 4999
      expect(srv.stats.accepted).toBe(1);
      clock.mockReturnValue(start + 4999 + 5000);
      await get(connector, srv.url()); // idle for keepaliveTimeout: not reused
      expect(srv.stats.accepted).toBe(2);
    } finally {
      clock.mockRestore();
    }
  });

  it("a connection the server closes during a request gives its place back (limit 1)", async () => {
    let first = true;
    await using srv = await startHttpServer((req, res) => {
      if (first) {
        first = false;
        req.socket.destroy();
        return;
      }
      res.end("second");
    });
    await using connector = new TCPConnector({ limit: 1 });
    await expect(get(connector, srv.url("/1"))).rejects.toThrow();
    expect(await get(connector, srv.url("/2"))).toBe("second");
    expect(connector.stats).toEqual({ acquired: 0, idle: 1, waiting: 0 });
  });

  it("keepaliveTimeout 0 turns keep-alive off", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector({ keepaliveTimeout: 0 });
    await get(connector, srv.url());
    await get(connector, srv.url());
    expect(srv.stats.accepted).toBe(2);
    expect(connector.stats.idle).toBe(0);
  });
});

describe("waiting", () => {
  it("timeout.connect covers the wait for a free connection", async () => {
    let release = () => {};
    await using srv = await startHttpServer((req, res) => {
      release = () => res.end(`ok ${req.url}`);
    });
    await using connector = new TCPConnector({ limit: 1 });
    const held = get(connector, srv.url("/held"));
    const err = await get(connector, srv.url("/late"), {
      connectorOptions: { timeout: { connect: 50 } },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionTimeoutError);
    // It gave up while the only connection was still busy, not when it came free.
    expect(await within(held, 0)).toBe("pending");
    expect(connector.stats.waiting).toBe(0);
    release();
    expect(await held).toBe("ok /held");
  });

  it("connect(): timeout.connect names the wait and the peer; 0 or none means no limit", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector({ limit: 1 });
    const held = await connector.connect({ url: srv.url() });
    const err = await connector
      .connect({ url: srv.url(), timeout: { connect: 50 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionTimeoutError);
    expect(err).toMatchObject({
      message: `Connection timeout after 50 ms (127.0.0.1:${srv.port})`,
      host: "127.0.0.1",
      port: srv.port,
    });
    expect(connector.stats.waiting).toBe(0);
    // With `connect: 0`, and with no timeout at all, the wait has no limit: both get the socket in turn.
    const zero = connector.connect({ url: srv.url(), timeout: { connect: 0 } });
    const none = connector.connect({ url: srv.url() });
    await sleep(30);
    expect(connector.stats.waiting).toBe(2);
    held.release();
    const first = await zero;
    first.release();
    (await none).close();
  });

  it("connect(): the signal gives up the wait, and is let go of once the connection is had", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector({ limit: 1 });
    const held = await connector.connect({ url: srv.url() });
    const ac = new AbortController();
    const waiting = connector.connect({ url: srv.url(), signal: ac.signal }).catch((e: unknown) => e);
    await sleep(10);
    expect(connector.stats.waiting).toBe(1);
    ac.abort(new Error("not any more"));
    expect(((await waiting) as Error).message).toBe("not any more");
    expect(connector.stats.waiting).toBe(0);
    held.release();
    const signal = new AbortController().signal;
    const conn = await connector.connect({ url: srv.url(), signal });
    expect(getEventListeners(signal, "abort")).toHaveLength(0);
    conn.close();
  });

  it("connect(): a finished wait leaves no timer behind", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const warm = await connector.connect({ url: srv.url() });
    warm.close();
    await sleep(10);
    const before = timers();
    const conn = await connector.connect({ url: srv.url(), timeout: { connect: 600_000 } });
    conn.close();
    await sleep(10);
    expect(timers()).toBe(before);
  });

  it("an aborted waiter leaves the queue at once", async () => {
    await using srv = await startHttpServer(slow(100));
    await using connector = new TCPConnector({ limit: 1 });
    const held = get(connector, srv.url("/held"));
    const ac = new AbortController();
    const waiting = get(connector, srv.url("/w"), { signal: ac.signal }).catch((e: unknown) => e);
    expect(connector.stats.waiting).toBe(1);
    ac.abort(new Error("changed my mind"));
    expect(((await waiting) as Error).message).toBe("changed my mind");
    expect(connector.stats.waiting).toBe(0);
    await held;
    expect(srv.stats.accepted).toBe(1);
  });

  it("destroy() rejects waiters and running requests and closes every socket", async () => {
    await using srv = await startHttpServer(slow(10_000));
    const connector = new TCPConnector({ limit: 2 });
    const results = Array.from({ length: 5 }, (_, i) =>
      get(connector, srv.url(`/${i}`)).catch((e: unknown) => e),
    );
    await until(() => srv.stats.open === 2);
    await connector.destroy();
    for (const r of await Promise.all(results)) expect(r).toBeInstanceOf(ConnectorClosedError);
    await srv.stats.idle();
    expect(connector.stats).toEqual({ acquired: 0, idle: 0, waiting: 0 });
    await expect(connector.connect({ url: srv.url() })).rejects.toBeInstanceOf(ConnectorClosedError);
  });
});

describe("connect() and Connection", () => {
  it("gives a raw socket that can speak HTTP, and pools it on release", async () => {
    await using srv = await startHttpServer((req, res) => res.end(`raw ${req.url}`));
    await using connector = new TCPConnector();
    const conn = await connector.connect({ url: srv.url() });
    const socket = conn.transport!;
    const reply = new Promise<string>((resolve) => socket.once("data", (d: Buffer) => resolve(d.toString())));
    socket.write(`GET /manual HTTP/1.1\r\nHost: ${srv.host}\r\n\r\n`);
    expect(await reply).toContain("raw /manual");
    conn.release();
    expect(conn.closed).toBe(true);
    expect(connector.stats.idle).toBe(1);
    const again = await connector.connect({ url: srv.url() });
    expect(again.transport).toBe(socket);
    again.close();
    await srv.stats.idle();
  });

  it("counts connect() connections against limit until released", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector({ limit: 1 });
    const conn = await connector.connect({ url: srv.url() });
    const socket = conn.transport;
    const queued = connector.connect({ url: srv.url() });
    await sleep(20);
    expect(connector.stats.waiting).toBe(1);
    conn.release();
    const second = await queued;
    expect(second.transport).toBe(socket);
    second.close();
  });

  it("connect() passes over idle connections an HTTP client owns, taking a raw one from the middle", async () => {
    await using srv = await startHttpServer((req, res) => res.end(`ok ${req.url}`));
    await using connector = new TCPConnector();
    const used: PooledConnection[] = [];
    const onConnection = (i: ConnectionInfo) => used.push(i.connection);
    const http = (path: string) =>
      requestText(connector, srv.url(path), { connectorOptions: { onConnection } } as never);
    // Two HTTP connections and a raw one given back; /3 then takes the oldest HTTP one, so the
    // idle list is, oldest first: HTTP, raw, HTTP.
    const held = await connector.connect({ url: srv.url() });
    const rawSocket = held.transport;
    await Promise.all([http("/1"), http("/2")]);
    held.release();
    await http("/3");
    expect(connector.stats.idle).toBe(3);
    // connect() wants a socket no HTTP client reads: the raw one, wherever it is in the list.
    const raw = await connector.connect({ url: srv.url() });
    expect(raw.transport).toBe(rawSocket);
    expect(connector.stats).toEqual({ acquired: 1, idle: 2, waiting: 0 });
    // The HTTP connections stay idle and are reused, oldest first; the raw one is not handed out twice.
    await http("/4");
    // The idle list was [http, raw, http (just used for /3)]: /4 takes the first.
    expect(used[3]).not.toBe(used[2]);
    expect([used[0], used[1]]).toContain(used[3]);
    await Promise.all([http("/5"), http("/6")]);
    expect(srv.stats.accepted).toBe(3);
    expect(raw.transport).toBe(rawSocket);
    raw.close();
  });

  it("a Connection let go is spent: a late close() cannot touch the socket's next holder", async () => {
    await using srv = await startHttpServer((req, res) => res.end(`raw ${req.url}`));
    await using connector = new TCPConnector({ limit: 1 });
    const a = await connector.connect({ url: srv.url() });
    const socket = a.transport;
    const queued = connector.connect({ url: srv.url() });
    // release() hands the socket to the waiting connect() at once; a's close() in a `finally`
    // right after must not close it under the new holder.
    a.release();
    a.close();
    a.detach();
    a.release();
    expect(a.closed).toBe(true);
    expect(a.transport).toBeNull();
    const b = await queued;
    expect(b).not.toBe(a);
    expect(b.closed).toBe(false);
    expect(b.transport).toBe(socket);
    expect(connector.stats).toEqual({ acquired: 1, idle: 0, waiting: 0 });
    const reply = new Promise<string>((resolve) => socket?.once("data", (d: Buffer) => resolve(String(d))));
    b.transport?.write(`GET /second HTTP/1.1\r\nHost: ${srv.host}\r\n\r\n`);
    expect(await reply).toContain("raw /second");
    // Idle in the pool, then taken by a third holder: b's late calls do nothing either.
    b.release();
    expect(b.transport).toBeNull();
    const c = await connector.connect({ url: srv.url() });
    b.close();
    b.detach();
    expect(c.transport).toBe(socket);
    expect(connector.stats).toEqual({ acquired: 1, idle: 0, waiting: 0 });
    c.close();
    expect(c.transport).toBeNull();
    expect(socket?.destroyed).toBe(true);
    expect(connector.stats).toEqual({ acquired: 0, idle: 0, waiting: 0 });
  });

  it("detach() hands the socket over for good", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const connector = new TCPConnector({ limit: 1 });
    const conn = await connector.connect({ url: srv.url() });
    const socket = conn.transport as Socket;
    conn.detach();
    conn.release();
    conn.close();
    expect(conn.transport).toBe(socket);
    expect(conn.closed).toBe(true);
    expect(socket.destroyed).toBe(false);
    expect(connector.stats.acquired).toBe(0);
    await connector.close();
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });

  it("refuses URLs it cannot connect to, saying why", async () => {
    await using connector = new TCPConnector();
    const refused = (url: unknown) => connector.connect({ url: url as string }).catch((e: unknown) => e);
    const ftp = await refused("ftp://example.test/");
    expect(ftp).toBeInstanceOf(InvalidUrlClientError);
    expect(ftp).toMatchObject({
      url: "ftp://example.test/",
      description: "unsupported scheme ftp: (expected http:, https:, ws: or wss:)",
    });
    for (const bad of ["not a url", undefined]) {
      const err = await refused(bad);
      expect(err).toBeInstanceOf(InvalidUrlClientError);
      expect(err).toMatchObject({ url: String(bad), description: "the request origin is not a valid URL" });
      expect((err as Error).cause).toBeInstanceOf(TypeError);
      expect(((err as Error).cause as Error).message).toBe(
        bad === undefined ? "missing origin" : "Invalid URL",
      );
    }
    expect(connector.stats.acquired).toBe(0);
  });

  it("opens ws: URLs as plain TCP and wss: URLs with TLS", async () => {
    await using plain = await startHttpServer((_req, res) => res.end("x"));
    await using secure = await startHttpsServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector({ ssl: { ca: secure.ca } });
    const ws = await connector.connect({ url: plain.url("/").replace("http:", "ws:") });
    expect(ws.transport).not.toBeInstanceOf(TLSSocket);
    expect(ws.key.origin).toBe(`http://127.0.0.1:${plain.port}`);
    ws.close();
    const wss = await connector.connect({ url: secure.url("/").replace("https:", "wss:") });
    expect(wss.transport).toBeInstanceOf(TLSSocket);
    expect((wss.transport as TLSSocket).authorized).toBe(true);
    expect(wss.key.origin).toBe(`https://127.0.0.1:${secure.port}`);
    wss.close();
  });
});

describe("options", () => {
  it("has aiohttp's defaults", async () => {
    await using connector = new TCPConnector();
    expect(connector.limit).toBe(100);
    expect(connector.limitPerHost).toBe(0);
    expect(connector.forceClose).toBe(false);
    expect(connector.keepaliveTimeout).toBe(15_000);
    expect(connector.closed).toBe(false);
    expect(connector.verifySsl).toBe(true);
    expect(connector.family).toBe(0);
    expect(connector.dnsCache).toBe(true);
  });

  it.each([
    [{ limit: -1 }, /limit/],
    [{ limit: 1.5 }, /limit/],
    [{ limitPerHost: -2 }, /limitPerHost/],
    [{ keepaliveTimeout: -1 }, /keepaliveTimeout/],
    [{ forceClose: true, keepaliveTimeout: 100 }, /forceClose/],
    [{ family: 5 }, /family/],
    [{ localAddr: "not-an-ip" }, /localAddr/],
    [{ ttlDnsCache: -5 }, /ttlDnsCache/],
    [{ connectTimeout: Number.NaN }, /connectTimeout/],
  ])("refuses %o", (options, message) => {
    expect(() => new TCPConnector(options as never)).toThrow(InvalidArgumentError);
    expect(() => new TCPConnector(options as never)).toThrow(message);
  });

  it("binds outgoing sockets to localAddr", async () => {
    let remote = "";
    const server = createServer((req, res) => {
      remote = req.socket.remoteAddress ?? "";
      res.end("x");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    await using connector = new TCPConnector({ localAddr: { host: "127.0.0.2" } });
    await get(connector, `http://127.0.0.1:${port}/`);
    expect(remote).toBe("127.0.0.2");
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
});
