import type { Pool, PoolWaiter } from "./pool.js";
import type { PoolKey } from "./pool-key.js";
import type { PooledConnection } from "./pooled-connection.js";

/** Concurrent requests on one HTTP/2 connection (Node's http2 servers allow 100 by default). */
export const MAX_STREAMS = 100;

/** A request that may run as a stream of a shared HTTP/2 connection. */
export interface SharingWaiter extends PoolWaiter {
  /** True once the request got a connection or gave up. */
  readonly done: boolean;
}

/**
 * HTTP/2 connection sharing. An HTTP/2 connection counts once against the pool's limits and
 * carries up to {@link MAX_STREAMS} requests at once; while a connection that may turn out to
 * speak HTTP/2 is being opened, other requests for its key wait for it instead of opening
 * connections of their own (connection coalescing), and once it is open they become its streams
 * — or, if it speaks HTTP/1.1 after all, go back to the pool's queue.
 */
export class H2Sharing {
  readonly #pool: Pool;
  /** Open HTTP/2 connections per key. */
  readonly #shared = new Map<string, Set<PooledConnection>>();
  /** Requests waiting for the connection being opened for a key. */
  readonly #opening = new Map<string, SharingWaiter[]>();

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  /** An HTTP/2 connection of `key` in use, with room for one more stream, if any. */
  find(key: PoolKey): PooledConnection | undefined {
    const set = this.#shared.get(key.id);
    if (!set) return undefined;
    for (const conn of set) {
      if (!conn.alive) {
        set.delete(conn);
        continue;
      }
      if (conn.state === "acquired" && conn.streams < MAX_STREAMS) return conn;
    }
    if (set.size === 0) this.#shared.delete(key.id);
    return undefined;
  }

  /** Waits for the connection being opened for `waiter.key`; false if none is. */
  join(waiter: SharingWaiter): boolean {
    const waiting = this.#opening.get(waiter.key.id);
    if (!waiting) return false;
    waiting.push(waiter);
    return true;
  }

  /**
   * A connection that may speak HTTP/2 starts opening for `key`. Returns true when requests for
   * the key now wait for it (none was being opened already); the caller then calls
   * {@link H2Sharing.settle} once it is open or has failed.
   */
  beginOpening(key: PoolKey): boolean {
    if (this.#opening.has(key.id)) return false;
    this.#opening.set(key.id, []);
    return true;
  }

  /**
   * The connection begun with {@link H2Sharing.beginOpening} is open, or failed. An HTTP/2
   * connection takes the waiting requests as streams; otherwise they queue in the pool.
   */
  settle(conn: PooledConnection): void {
    const h2 = conn.h2 && conn.state === "acquired" && conn.alive;
    if (h2) {
      let set = this.#shared.get(conn.key.id);
      if (!set) this.#shared.set(conn.key.id, (set = new Set()));
      set.add(conn);
    }
    const waiting = this.#opening.get(conn.key.id);
    this.#opening.delete(conn.key.id);
    for (const waiter of waiting ?? []) {
      if (waiter.done) continue;
      if (h2 && conn.streams < MAX_STREAMS) waiter.grant(conn, true);
      else this.#pool.acquire(waiter);
    }
    if (h2) this.fill(conn);
  }

  /** Gives an HTTP/2 connection's free streams to requests queued in the pool for its key. */
  fill(conn: PooledConnection): void {
    if (conn.state !== "acquired") return;
    // A grant runs the caller's code (traces, handlers), which may give up a waiter taken with it.
    for (const waiter of this.#pool.takeShareable(conn.key.id, MAX_STREAMS - conn.streams)) {
      if (!waiter.done) waiter.grant(conn, true);
    }
  }
}
