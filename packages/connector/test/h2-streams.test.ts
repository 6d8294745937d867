import type { Socket } from "node:net";
import { type Http2TestServer, startHttp2Server, startHttpServer } from "@x/fixtures";
import { upgrade } from "undici";
import { describe, expect, it } from "vitest";
import {
  type ConnectAttempt,
  type ConnectionInfo,
  type ConnectorTrace,
  type PoolKey,
  TCPConnector,
} from "../src/index.js";
import { go, recorder, until } from "./helpers.js";

/**
 * An HTTP/2 server answering `<path> s<n> <version>`, `n` numbering the connections (sessions) in
 * the order their first request arrived; paths under `/hold/` are answered when the test says so.
 */
async function h2Server(): Promise<{
  srv: Http2TestServer;
  arrived: string[];
  /** The session number each path arrived on. */
  session: Map<string, number>;
  release(path: string): void;
}> {
  const sessions = new Map<unknown, number>();
  const held = new Map<string, () => void>();
  const arrived: string[] = [];
  const session = new Map<string, number>();
  const srv = await startHttp2Server((req, res) => {
    const s = req.stream.session;
    if (!sessions.has(s)) sessions.set(s, sessions.size);
    const path = req.url;
    const n = sessions.get(s) ?? -1;
    arrived.push(path);
    session.set(path, n);
    const answer = () => res.end(`${path} s${n} ${req.httpVersion}`);
    if (path.startsWith("/hold/")) held.set(path, answer);
    else answer();
  });
  return {
    srv,
    arrived,
    session,
    release: (path) => {
      held.get(path)?.();
      held.delete(path);
    },
  };
}

/**
 * A connector with `limit: 1` whose one place a request to another server holds, so that requests
 * to the HTTP/2 server queue in the pool; `unblock()` ends that request.
 */
async function behindABlocker() {
  const h2 = await h2Server();
  const held: (() => void)[] = [];
  const other = await startHttpServer((_req, res) => held.push(() => res.end("other")));
  const connector = new TCPConnector({ allowH2: true, ssl: { ca: h2.srv.ca }, limit: 1 });
  const blocker = go(connector, other.url("/"));
  await until(() => held.length === 1);
  const unblock = async () => {
    held[0]?.();
    expect(await blocker).toBe("other");
  };
  return { ...h2, other, connector, unblock };
}

/** A TCPConnector whose https connection attempts wait for whatever `before` decides. */
class SlowOpening extends TCPConnector {
  httpsAttempts = 0;
  before: (n: number) => Promise<void> = async () => {};

  protected override async openSocket(key: PoolKey, attempt: ConnectAttempt): Promise<Socket> {
    if (key.protocol === "https:") await this.before(this.httpsAttempts++);
    return super.openSocket(key, attempt);
  }
}

function gate(): { open: () => void; opened: Promise<void> } {
  let open = (): void => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe("an HTTP/2 connection's streams", () => {
  it("an idle HTTP/2 connection is reused, counted as in use, and shared again while it is", async () => {
    const { srv, arrived, release } = await h2Server();
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca } });
    expect(await go(connector, srv.url("/first"))).toBe("/first s0 2.0");
    expect(connector.stats).toEqual({ acquired: 0, idle: 1, waiting: 0 });
    const b = recorder();
    const held = go(connector, srv.url("/hold/b"), { trace: b.trace });
    await until(() => arrived.includes("/hold/b"));
    expect(connector.stats).toEqual({ acquired: 1, idle: 0, waiting: 0 });
    // A request made while the reused connection is busy becomes one more stream of it.
    const c = recorder();
    expect(await go(connector, srv.url("/c"), { trace: c.trace })).toBe("/c s0 2.0");
    release("/hold/b");
    expect(await held).toBe("/hold/b s0 2.0");
    expect([b.events, c.events]).toEqual([["reuseconn"], ["reuseconn"]]);
    expect(srv.stats.accepted).toBe(1);
  });

  it("upgrades never take an idle HTTP/2 connection, but do reuse an idle HTTP/1.1 one", async () => {
    const answerUpgrade = (req: { httpVersion: string }, socket: { end(s: string): void }) =>
      socket.end(
        `HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x-test\r\n\r\n${req.httpVersion}`,
      );
    const readAll = async (socket: AsyncIterable<Buffer>) => {
      let text = "";
      for await (const chunk of socket) text += chunk;
      return text;
    };

    const { srv } = await h2Server();
    srv.server.on("upgrade", answerUpgrade);
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca } });
    expect(await go(connector, srv.url("/first"))).toBe("/first s0 2.0");
    const up = await upgrade(srv.url("/up"), { dispatcher: connector, protocol: "x-test" });
    expect(up.headers.upgrade).toBe("x-test");
    expect(await readAll(up.socket)).toBe("1.1");
    expect(srv.stats.accepted).toBe(2);

    await using plain = await startHttpServer((_req, res) => res.end("plain"));
    plain.server.on("upgrade", answerUpgrade);
    await using h1 = new TCPConnector();
    expect(await go(h1, plain.url("/first"))).toBe("plain");
    const again = await upgrade(plain.url("/up"), { dispatcher: h1, protocol: "x-test" });
    expect(await readAll(again.socket)).toBe("1.1");
    expect(plain.stats.accepted).toBe(1);
  });

  it("a request never becomes a stream of a connection whose socket has died", async () => {
    const { srv, arrived } = await h2Server();
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca } });
    const infos: ConnectionInfo[] = [];
    const first = go(connector, srv.url("/hold/a"), {
      onConnection: (i: ConnectionInfo) => infos.push(i),
    }).catch((e: unknown) => e);
    await until(() => arrived.includes("/hold/a"));
    // The socket dies under the running request; a request made at once opens a connection of its own.
    infos[0]?.connection.transport?.destroy(new Error("cut"));
    const next = recorder();
    expect(await go(connector, srv.url("/next"), { trace: next.trace })).toBe("/next s1 2.0");
    expect(next.events).toEqual(["create-start", "create-end"]);
    expect(await first).toBeInstanceOf(Error);
    expect(srv.stats.accepted).toBe(2);
  });

  it("requests waiting for a connection that failed after its socket opened open their own", async () => {
    const { srv } = await h2Server();
    // enableCleanupClosed closes the failed connection gracefully: its socket is still open a while.
    await using connector = new TCPConnector({
      allowH2: true,
      ssl: { ca: srv.ca },
      enableCleanupClosed: true,
    });
    const failing: ConnectorTrace = {
      onConnectionCreateEnd: () => {
        throw new Error("hook failed");
      },
    };
    const first = go(connector, srv.url("/first"), { trace: failing }).catch((e: unknown) => e);
    const waiting = [recorder(), recorder()];
    const others = waiting.map((r, i) => go(connector, srv.url(`/w${i}`), { trace: r.trace }));
    expect(((await first) as Error).message).toBe("hook failed");
    const bodies = await Promise.all(others);
    expect(bodies.map((b) => b.split(" ")[2])).toEqual(["2.0", "2.0"]);
    for (const r of waiting) expect(r.events).toEqual(["create-start", "create-end"]);
  });

  it("a request that gave up while the connection opened takes no stream of it", async () => {
    const { srv } = await h2Server();
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca } });
    const a = go(connector, srv.url("/a"));
    const ac = new AbortController();
    const b = go(connector, srv.url("/b"), {}, ac.signal).catch((e: unknown) => e);
    ac.abort(new Error("gone"));
    const c = go(connector, srv.url("/c"));
    expect(await Promise.all([a, c])).toEqual(["/a s0 2.0", "/c s0 2.0"]);
    expect(((await b) as Error).message).toBe("gone");
    // Every stream ended: the connection is idle.
    expect(connector.stats).toEqual({ acquired: 0, idle: 1, waiting: 0 });
  });

  it("without a limit, the 101st request opens a second connection; a freed stream of the first is used first", async () => {
    const { srv, arrived, session, release } = await h2Server();
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca } });
    const paths = Array.from({ length: 101 }, (_, i) => `/hold/${i}`);
    const all = paths.map((p) => go(connector, srv.url(p)));
    await until(() => arrived.length === 101);
    expect(srv.stats.accepted).toBe(2);
    const first = session.get("/hold/0");
    expect(paths.slice(0, 100).every((p) => session.get(p) === first)).toBe(true);
    expect(session.get("/hold/100")).not.toBe(first);
    // The second connection goes idle, the first has a stream free: a new request takes that stream.
    release("/hold/100");
    await all[100];
    release("/hold/0");
    await all[0];
    expect(connector.stats).toEqual({ acquired: 1, idle: 1, waiting: 0 });
    expect(await go(connector, srv.url("/x"))).toBe(`/x s${first} 2.0`);
    for (const p of paths) release(p);
    await Promise.all(all);
    expect(srv.stats.accepted).toBe(2);
  });

  it("with limit 1, requests queued in the pool become streams of the connection as soon as it opens", async () => {
    const { srv, arrived, release, unblock, ...b } = await behindABlocker();
    await using _other = b.other;
    await using connector = b.connector;
    const paths = ["/hold/1", "/hold/2", "/hold/3"];
    const queued = paths.map((p) => go(connector, srv.url(p)));
    expect(connector.stats.waiting).toBe(3);
    await unblock();
    await until(() => arrived.length === 3);
    expect(connector.stats).toEqual({ acquired: 1, idle: 0, waiting: 0 });
    for (const p of paths) release(p);
    expect(await Promise.all(queued)).toEqual(paths.map((p) => `${p} s0 2.0`));
  });

  it("a queued request aborted by another's trace as the connection takes them gets no stream, and the connection goes idle", async () => {
    const { srv, arrived, release, unblock, ...b } = await behindABlocker();
    await using _other = b.other;
    await using connector = b.connector;
    const third = new AbortController();
    const first = go(connector, srv.url("/hold/1"));
    // The second becomes a stream together with the third; its trace gives the third up right then.
    const second = go(connector, srv.url("/hold/2"), {
      trace: { onConnectionReuseconn: () => third.abort(new Error("given up")) },
    });
    const gaveUp = go(connector, srv.url("/hold/3"), {}, third.signal).catch((err: Error) => err.message);
    await unblock();
    expect(await gaveUp).toBe("given up");
    await until(() => arrived.length === 2);
    release("/hold/1");
    release("/hold/2");
    expect(await Promise.all([first, second])).toEqual(["/hold/1 s0 2.0", "/hold/2 s0 2.0"]);
    await until(() => connector.stats.idle === 1);
    expect(connector.stats).toEqual({ acquired: 0, idle: 1, waiting: 0 });
    expect(arrived).toEqual(["/hold/1", "/hold/2"]);
  });

  it("with limit 1, requests past the 100th wait in the pool, counted as waiting", async () => {
    const { srv, arrived, release } = await h2Server();
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca }, limit: 1 });
    const paths = Array.from({ length: 150 }, (_, i) => `/hold/${i}`);
    const all = paths.map((p) => go(connector, srv.url(p)));
    await until(() => arrived.length === 100);
    expect(connector.stats).toEqual({ acquired: 1, idle: 0, waiting: 50 });
    for (const p of paths.slice(0, 100)) release(p);
    await until(() => arrived.length === 150);
    for (const p of paths) release(p);
    await Promise.all(all);
    expect(srv.stats.accepted).toBe(1);
  });
});

describe("requests waiting for a connection being opened", () => {
  /**
   * limit 2, both taken by requests to another server; two requests to the HTTP/2 server queue.
   * The first gets a place and starts opening (held by the test); requests made then wait for
   * it. The second gets the other place and opens a connection too, its own.
   */
  async function twoOpenings(second: "opens" | "fails") {
    const h2 = await h2Server();
    const held: (() => void)[] = [];
    const other = await startHttpServer((_req, res) => held.push(() => res.end("other")));
    const connector = new SlowOpening({ allowH2: true, ssl: { ca: h2.srv.ca }, limit: 2 });
    const firstOpening = gate();
    const release = gate();
    const dispose = async () => {
      release.open();
      await connector.destroy();
      await other.close();
      await h2.srv.close();
    };
    connector.before = async (n) => {
      if (n === 0) {
        firstOpening.open();
        await release.opened;
      }
      if (n === 1 && second === "fails") throw new Error("refused");
    };
    try {
      const blockers = [go(connector, other.url("/1")), go(connector, other.url("/2"))];
      await until(() => held.length === 2);
      const w1 = go(connector, h2.srv.url("/w1"));
      const w2 = go(connector, h2.srv.url("/w2")).catch((e: unknown) => e);
      expect(connector.stats.waiting).toBe(2);
      held[0]?.();
      await firstOpening.opened;
      const recorders = [recorder(), recorder(), recorder()];
      const waiters = recorders.map((r, i) =>
        go(connector, h2.srv.url(`/r${i}`), { trace: r.trace, timeout: { connect: 3000 } }),
      );
      held[1]?.();
      await Promise.all(blockers);
      return {
        connector,
        w1,
        w2,
        waiters,
        recorders,
        openFirst: release.open,
        [Symbol.asyncDispose]: dispose,
      };
    } catch (err) {
      await dispose();
      throw err;
    }
  }

  it("wait for that connection, not for another one opened meanwhile", async () => {
    await using t = await twoOpenings("opens");
    expect(await t.w2).toBe("/w2 s0 2.0");
    t.openFirst();
    expect(await t.w1).toBe("/w1 s1 2.0");
    expect(await Promise.all(t.waiters)).toEqual(["/r0 s1 2.0", "/r1 s1 2.0", "/r2 s1 2.0"]);
    for (const r of t.recorders) expect(r.events).toEqual(["reuseconn"]);
  });

  it("keep waiting for it when another connection opened meanwhile fails", async () => {
    await using t = await twoOpenings("fails");
    expect(((await t.w2) as Error).message).toBe("refused");
    t.openFirst();
    expect(await t.w1).toBe("/w1 s0 2.0");
    expect(await Promise.all(t.waiters)).toEqual(["/r0 s0 2.0", "/r1 s0 2.0", "/r2 s0 2.0"]);
    for (const r of t.recorders) expect(r.events).toEqual(["reuseconn"]);
    expect(t.connector.httpsAttempts).toBe(2);
  });
});
