import { ConnectorClosedError } from "@x/errors";
import type { PoolKey } from "./pool-key.js";
import { type ConnectionOwner, PooledConnection } from "./pooled-connection.js";

/** A request waiting for, or being given, a connection. */
export interface PoolWaiter {
  readonly key: PoolKey;
  /** Hands over a connection; `reused` when it came from the idle pool with an open socket. */
  grant(conn: PooledConnection, reused: boolean): void;
  /** The wait failed (the pool closed). */
  fail(err: Error): void;
  /** The request had to wait; called once, before `grant` or `fail`. */
  queued?(): void;
  /** Whether an idle connection suits this waiter; default: any. */
  accepts?(conn: PooledConnection): boolean;
  /** The waiter can run as one more stream on an HTTP/2 connection of its key. */
  readonly shareable?: boolean;
  /** True once the waiter got a connection or gave up (one taken out of the queue may give up before its grant). */
  readonly done?: boolean;
}

/** Pool settings, resolved from connector options. */
export interface PoolSettings {
  /** Cap on acquired connections over all keys; 0 = none. */
  readonly limit: number;
  /** Cap on acquired connections per key; 0 = none. */
  readonly limitPerHost: number;
  /** How long an idle connection may be reused, ms; 0 = never. */
  readonly keepaliveTimeout: number;
}

/** What the pool asks of the connector that owns it. */
export interface PoolHooks {
  /** Destroys a connection's socket and HTTP client; requests running on it fail with `err`. */
  destroy(conn: PooledConnection, err?: Error): Promise<void>;
  /** A connection just became idle. */
  idle(conn: PooledConnection): void;
}

/** Past this many keys in the idle map, a key's emptied idle list is removed. */
const MAX_EMPTY_LISTS = 64;

interface Entry {
  readonly waiter: PoolWaiter;
  readonly seq: number;
  cancelled: boolean;
}

/** A FIFO of waiters for one key, with O(1) removal from the front. */
class Queue {
  items: Entry[] = [];
  head = 0;
  front(): Entry | undefined {
    while (this.head < this.items.length && this.items[this.head]!.cancelled) this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return this.items[this.head];
  }
  shift(): void {
    this.head++;
  }
}

/**
 * aiohttp's pool accounting: connections are *acquired* from the moment a request is given one
 * (while it is still being opened) until it is released; `limit` caps acquired connections over
 * all keys and `limitPerHost` per key. Requests over the caps wait in FIFO order; a released
 * connection wakes the oldest waiter whose key has room. Idle connections are reused oldest
 * first and never after `keepaliveTimeout`. When opening one more connection would put more
 * than `limit` sockets open, the least recently used idle connection is closed first, so the
 * number of open sockets never exceeds `limit`.
 */
export class Pool implements ConnectionOwner {
  readonly #settings: PoolSettings;
  readonly #hooks: PoolHooks;
  readonly #acquired = new Set<PooledConnection>();
  readonly #acquiredPerKey = new Map<string, number>();
  /**
   * Idle connections per key, oldest first. A key's list stays in the map when it empties (unless
   * the map holds many keys): one origin's requests then cost no map insertion and deletion each.
   */
  readonly #idle = new Map<string, PooledConnection[]>();
  #idleCount = 0;
  readonly #waiting = new Map<string, Queue>();
  readonly #entries = new WeakMap<PoolWaiter, Entry>();
  #waitingCount = 0;
  #seq = 0;
  #closed = false;

  constructor(settings: PoolSettings, hooks: PoolHooks) {
    this.#settings = settings;
    this.#hooks = hooks;
  }

  /** Connections handed out and not yet given back. */
  get acquiredCount(): number {
    return this.#acquired.size;
  }

  /** Idle keep-alive connections. */
  get idleCount(): number {
    return this.#idleCount;
  }

  /** Requests waiting for a connection. */
  get waitingCount(): number {
    return this.#waitingCount;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Gives `waiter` a connection now, or queues it. */
  acquire(waiter: PoolWaiter): void {
    if (this.#closed) {
      waiter.fail(new ConnectorClosedError());
      return;
    }
    // As aiohttp, per key: room for this key means none of its requests waits (the pool serves
    // waiters as soon as room appears), so waiters of other keys are no reason to queue.
    if (this.#hasRoom(waiter.key.id)) {
      this.#serve(waiter);
      return;
    }
    const entry: Entry = { waiter, seq: this.#seq++, cancelled: false };
    this.#entries.set(waiter, entry);
    let queue = this.#waiting.get(waiter.key.id);
    if (!queue) {
      queue = new Queue();
      this.#waiting.set(waiter.key.id, queue);
    }
    queue.items.push(entry);
    this.#waitingCount++;
    waiter.queued?.();
    // Nothing may be in the way after all (waiters of other keys blocked only per host).
    this.#drain();
  }

  /**
   * Takes up to `max` shareable waiters of `keyId` out of the queue, oldest first — for an
   * HTTP/2 connection that can carry them all.
   */
  takeShareable(keyId: string, max: number): PoolWaiter[] {
    const queue = this.#waiting.get(keyId);
    const out: PoolWaiter[] = [];
    if (!queue) return out;
    for (let i = queue.head; i < queue.items.length && out.length < max; i++) {
      const entry = queue.items[i]!;
      if (entry.cancelled || entry.waiter.shareable !== true) continue;
      entry.cancelled = true;
      this.#entries.delete(entry.waiter);
      this.#waitingCount--;
      out.push(entry.waiter);
    }
    return out;
  }

  /** Removes a waiter that gave up; true if it was still waiting. */
  cancel(waiter: PoolWaiter): boolean {
    const entry = this.#entries.get(waiter);
    if (!entry) return false;
    entry.cancelled = true;
    this.#entries.delete(waiter);
    this.#waitingCount--;
    return true;
  }

  releaseConnection(conn: PooledConnection): void {
    if (!this.#unacquire(conn)) return;
    if (this.#closed || this.#settings.keepaliveTimeout <= 0 || !conn.alive) {
      this.#destroy(conn);
    } else {
      conn.setState("idle");
      const list = this.#idle.get(conn.key.id);
      if (list) list.push(conn);
      else this.#idle.set(conn.key.id, [conn]);
      this.#idleCount++;
      this.#hooks.idle(conn);
    }
    this.#drain();
  }

  closeConnection(conn: PooledConnection): void {
    if (conn.state === "idle") this.#removeIdle(conn);
    else this.#unacquire(conn);
    this.#destroy(conn);
    this.#drain();
  }

  detachConnection(conn: PooledConnection): void {
    if (!this.#unacquire(conn)) return;
    conn.setState("detached");
    this.#drain();
  }

  /** An idle connection's socket closed on its own. */
  dropIdle(conn: PooledConnection): void {
    if (conn.state !== "idle") return;
    this.#removeIdle(conn);
    this.#destroy(conn);
  }

  /** Closes every connection and fails every waiter with `err`. */
  async close(err: Error): Promise<void> {
    this.#closed = true;
    for (const queue of this.#waiting.values()) {
      for (let e = queue.front(); e; e = queue.front()) {
        queue.shift();
        this.#entries.delete(e.waiter);
        e.waiter.fail(err);
      }
    }
    this.#waiting.clear();
    this.#waitingCount = 0;
    const all = [...[...this.#idle.values()].flat(), ...this.#acquired];
    this.#idle.clear();
    this.#idleCount = 0;
    this.#acquired.clear();
    this.#acquiredPerKey.clear();
    await Promise.all(all.map((conn) => this.#hooks.destroy(conn, err)));
  }

  /** True when one more connection for `keyId` fits within `limit` and `limitPerHost`. */
  hasRoom(keyId: string): boolean {
    return this.#hasRoom(keyId);
  }

  #hasRoom(keyId: string): boolean {
    const { limit, limitPerHost } = this.#settings;
    if (limit > 0 && this.#acquired.size >= limit) return false;
    return limitPerHost <= 0 || (this.#acquiredPerKey.get(keyId) ?? 0) < limitPerHost;
  }

  #serve(waiter: PoolWaiter): void {
    const key = waiter.key;
    const idle = this.#idle.get(key.id);
    if (idle?.length) {
      const now = Date.now();
      for (let i = 0; i < idle.length; ) {
        const conn = idle[i]!;
        if (!conn.alive || now - conn.idleSince >= this.#settings.keepaliveTimeout) {
          this.#removeIdle(conn, i);
          this.#destroy(conn);
          continue;
        }
        if (waiter.accepts && !waiter.accepts(conn)) {
          i++;
          continue;
        }
        this.#removeIdle(conn, i);
        this.#markAcquired(conn);
        waiter.grant(conn, true);
        return;
      }
    }
    const { limit } = this.#settings;
    if (limit > 0) {
      // Keep open sockets within `limit`: make room by closing the longest-idle connection.
      while (this.#acquired.size + this.#idleCount >= limit) {
        const oldest = this.#leastRecentlyUsed();
        if (!oldest) break;
        this.#removeIdle(oldest);
        this.#destroy(oldest);
      }
    }
    const conn = new PooledConnection(this, key);
    this.#markAcquired(conn);
    waiter.grant(conn, false);
  }

  #markAcquired(conn: PooledConnection): void {
    conn.setState("acquired");
    this.#acquired.add(conn);
    if (this.#settings.limitPerHost > 0) {
      this.#acquiredPerKey.set(conn.key.id, (this.#acquiredPerKey.get(conn.key.id) ?? 0) + 1);
    }
  }

  #unacquire(conn: PooledConnection): boolean {
    if (!this.#acquired.delete(conn)) return false;
    if (this.#settings.limitPerHost <= 0) return true;
    const n = (this.#acquiredPerKey.get(conn.key.id) ?? 1) - 1;
    if (n <= 0) this.#acquiredPerKey.delete(conn.key.id);
    else this.#acquiredPerKey.set(conn.key.id, n);
    return true;
  }

  /** Takes `conn` out of the idle lists (`at`: its index in its key's list, when known). */
  #removeIdle(conn: PooledConnection, at?: number): void {
    const list = this.#idle.get(conn.key.id);
    if (!list) return;
    const i = at ?? list.indexOf(conn);
    if (i < 0) return;
    if (i === 0) list.shift();
    else list.splice(i, 1);
    this.#idleCount--;
    if (list.length === 0 && this.#idle.size > MAX_EMPTY_LISTS) this.#idle.delete(conn.key.id);
  }

  /** The idle connection, over every key, that went idle first. */
  #leastRecentlyUsed(): PooledConnection | undefined {
    let oldest: PooledConnection | undefined;
    for (const list of this.#idle.values()) {
      const first = list[0];
      if (first && (!oldest || first.idleSeq < oldest.idleSeq)) oldest = first;
    }
    return oldest;
  }

  #destroy(conn: PooledConnection): void {
    conn.setState("closed");
    void this.#hooks.destroy(conn);
  }

  /** Serves waiters, oldest first among the keys that have room. */
  #drain(): void {
    while (this.#waitingCount) {
      const { limit } = this.#settings;
      if (limit > 0 && this.#acquired.size >= limit) return;
      let best: Entry | undefined;
      let bestQueue: Queue | undefined;
      for (const [keyId, queue] of this.#waiting) {
        const front = queue.front();
        if (!front) {
          this.#waiting.delete(keyId);
          continue;
        }
        if (!this.#hasRoom(keyId)) continue;
        if (!best || front.seq < best.seq) {
          best = front;
          bestQueue = queue;
        }
      }
      if (!best || !bestQueue) return;
      bestQueue.shift();
      this.#entries.delete(best.waiter);
      this.#waitingCount--;
      this.#serve(best.waiter);
    }
  }
}
