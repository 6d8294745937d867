import type { Socket } from "node:net";
import { startHttp2Server, startHttpServer, startRawServer } from "@x/fixtures";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import {
  type ConnectAttempt,
  type ConnectorTrace,
  connectorChannels,
  type PooledConnection,
  type PoolKey,
  TCPConnector,
} from "../src/index.js";
import { go, recorder, TableResolver, until } from "./helpers.js";

function gate(): { open: () => void; opened: Promise<void> } {
  let open = (): void => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

/**
 * A TCPConnector whose connection attempts first wait for `before(n)` (n counting attempts);
 * with `ignoreAbort`, an attempt goes on to open its socket even once its signal aborted.
 */
class SlowOpening extends TCPConnector {
  readonly attempts: ConnectAttempt[] = [];
  before: (n: number) => Promise<void> = async () => {};
  ignoreAbort = false;

  protected override async openSocket(key: PoolKey, attempt: ConnectAttempt): Promise<Socket> {
    await this.before(this.attempts.push(attempt) - 1);
    const signal = this.ignoreAbort ? new AbortController().signal : attempt.signal;
    return super.openSocket(key, { ...attempt, signal });
  }
}

/** Runs `fn` for every connection-create-end message of `connector` until the returned stop is called. */
function onCreated(connector: object, fn: (conn: PooledConnection) => void): () => void {
  const listener = (msg: unknown) => {
    const m = msg as { connector: object; connection: PooledConnection };
    if (m.connector === connector) fn(m.connection);
  };
  connectorChannels.connectionCreateEnd.subscribe(listener);
  return () => connectorChannels.connectionCreateEnd.unsubscribe(listener);
}

describe("opening connections", () => {
  it("with allowH2, requests to an http origin never wait for another request's connection", async () => {
    await using srv = await startHttpServer((req, res) => res.end(`ok ${req.url}`));
    await using connector = new SlowOpening({ allowH2: true });
    const first = gate();
    connector.before = async (n) => {
      if (n === 0) await first.opened;
    };
    const slow = go(connector, srv.url("/slow"));
    // The first connection is still opening: the others open theirs meanwhile.
    const others = await Promise.all([
      go(connector, srv.url("/a"), { timeout: { connect: 2000 } }),
      go(connector, srv.url("/b"), { timeout: { connect: 2000 } }),
    ]);
    expect(others).toEqual(["ok /a", "ok /b"]);
    first.open();
    expect(await slow).toBe("ok /slow");
    expect(srv.stats.accepted).toBe(3);
  });

  it("opens nothing once the connector was destroyed, even for a request it had just granted a place", async () => {
    await using srv = await startHttpServer((_req, res) => setTimeout(() => res.end("x"), 20));
    const resolver = new TableResolver({ "svc.test": ["127.0.0.1"] });
    await using connector = new TCPConnector({ resolver, limit: 1, forceClose: true });
    const url = `http://svc.test:${srv.port}/`;
    const first = go(connector, url);
    const second = recorder();
    const trace: ConnectorTrace = {
      ...second.trace,
      onConnectionQueuedEnd: () => {
        second.events.push("queued-end");
        void connector.destroy();
      },
    };
    const refused = go(connector, url, { trace }).catch((e: unknown) => e);
    expect(await first).toBe("x");
    expect(((await refused) as Error).name).toBe("ClientDestroyedError");
    // Its place was granted, then the connector was destroyed: no lookup, no socket.
    expect(second.events).toEqual(["queued-start", "queued-end", "create-start"]);
    expect(srv.stats.accepted).toBe(1);
  });

  it("an opening that finishes after the request gave up closes its socket, reporting neither end nor error", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    await using connector = new SlowOpening();
    connector.ignoreAbort = true;
    const proceed = gate();
    const started = gate();
    connector.before = async () => {
      started.open();
      await proceed.opened;
    };
    const events: string[] = [];
    connector.on("connect", () => events.push("connect"));
    connector.on("connectionError", () => events.push("connectionError"));
    const traced = recorder();
    const ac = new AbortController();
    const pending = go(connector, srv.url("/"), { trace: traced.trace }, ac.signal).catch((e: unknown) => e);
    await started.opened;
    ac.abort(new Error("gave up"));
    proceed.open();
    expect(((await pending) as Error).message).toBe("gave up");
    await until(() => connector.stats.acquired === 0);
    expect(connector.stats).toEqual({ acquired: 0, idle: 0, waiting: 0 });
    expect(events).toEqual([]);
    expect(traced.events).toEqual(["create-start"]);
    await until(() => srv.stats.accepted === 1 && srv.stats.open === 0);
  });

  it("an attempt's signal is left alone once its socket was handed over", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const connector = new SlowOpening();
    expect(await go(connector, srv.url("/"))).toBe("x");
    expect(connector.stats.idle).toBe(1);
    await connector.destroy();
    expect(connector.attempts).toHaveLength(1);
    expect(connector.attempts[0]?.signal.aborted).toBe(false);
  });

  it("a raw connection's socket reset by the server does not crash the process", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readToEnd();
    });
    await using connector = new TCPConnector();
    const held = await connector.connect({ url: srv.url() });
    const socket = held.transport as Socket;
    const closed = new Promise<boolean>((resolve) => socket.once("close", resolve));
    await until(() => srv.connections.length === 1);
    srv.connections[0]?.reset();
    expect(await closed).toBe(true);
    held.close();
  });
});

describe("the HTTP client of a connection", () => {
  it("honours maxHeaderSize, down to 1 byte", async () => {
    await using srv = await startHttpServer((_req, res) => {
      res.setHeader("x-big", "a".repeat(2000));
      res.end("big");
    });
    const overflow = (dispatcher: TCPConnector) =>
      go(dispatcher, srv.url("/")).catch((e: unknown) => (e as { code?: string }).code);
    await using small = new TCPConnector({ maxHeaderSize: 1024 });
    expect(await overflow(small)).toBe("UND_ERR_HEADERS_OVERFLOW");
    await using tiny = new TCPConnector({ maxHeaderSize: 1 });
    expect(await overflow(tiny)).toBe("UND_ERR_HEADERS_OVERFLOW");
    await using roomy = new TCPConnector({ maxHeaderSize: 4096 });
    expect(await go(roomy, srv.url("/"))).toBe("big");
  });

  it("reopens a socket that died before the client took it, offering HTTP/2 again", async () => {
    const arrived: string[] = [];
    const held = new Map<string, () => void>();
    await using srv = await startHttp2Server((req, res) => {
      arrived.push(req.url);
      held.set(req.url, () => res.end(`${req.url} ${req.httpVersion}`));
    });
    const blocked: (() => void)[] = [];
    await using other = await startHttpServer((_req, res) => blocked.push(() => res.end("other")));
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca }, limit: 1 });
    let killed = 0;
    const stop = onCreated(connector, (conn) => {
      if (conn.key.protocol === "https:" && killed++ === 0) conn.transport?.destroy();
    });
    try {
      const blocker = go(connector, other.url("/"));
      await until(() => blocked.length === 1);
      const paths = ["/1", "/2", "/3"];
      const queued = paths.map((p) => go(connector, srv.url(p)));
      blocked[0]?.();
      expect(await blocker).toBe("other");
      await until(() => arrived.length === 1);
      // The connection is no HTTP/2 connection to share while its socket was dead: the others
      // wait for it in turn.
      expect(connector.stats).toEqual({ acquired: 1, idle: 0, waiting: 2 });
      for (const p of paths) {
        await until(() => held.has(p));
        held.get(p)?.();
      }
      expect(await Promise.all(queued)).toEqual(["/1 2.0", "/2 2.0", "/3 2.0"]);
      expect(srv.stats.accepted).toBe(2);
    } finally {
      stop();
    }
  });

  it("fails the request when reopening the socket fails", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector();
    const stop = onCreated(connector, (conn) => {
      conn.transport?.destroy();
      srv.server.close();
    });
    try {
      const err = await request(srv.url("/"), {
        dispatcher: connector,
        signal: AbortSignal.timeout(3000),
      }).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe("ECONNREFUSED");
    } finally {
      stop();
    }
  });
});
