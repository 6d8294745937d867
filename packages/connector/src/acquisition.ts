import { ConnectionTimeoutError } from "@x/errors";
import type { Connection } from "./connection.js";
import type { ConnectionOpener } from "./connection-opener.js";
import type { H2Sharing, SharingWaiter } from "./h2-sharing.js";
import type { Pool } from "./pool.js";
import type { PoolKey } from "./pool-key.js";
import { type ConnectorTrace, publish } from "./trace.js";

/**
 * What kind of connection a request needs:
 * - `"shared"`: any connection; it may run as one stream of an HTTP/2 connection (requests);
 * - `"http1"`: a connection of its own speaking HTTP/1.1 (upgrades and CONNECT requests);
 * - `"raw"`: a socket no HTTP client has read from (aiohttp's `connect()`, `Expect: 100-continue`).
 */
export type ConnectionNeed = "shared" | "http1" | "raw";

/** The parts of a connector an acquisition uses. */
export interface AcquisitionHost {
  readonly pool: Pool;
  readonly sharing: H2Sharing;
  readonly opener: ConnectionOpener;
}

/** What to acquire, and the limits of the wait. */
export interface AcquireOptions {
  readonly key: PoolKey;
  readonly need: ConnectionNeed;
  readonly trace: ConnectorTrace | undefined;
  /** aiohttp's `timeout.connect`: the wait for a free connection plus opening it, ms; `null`/`undefined` = none. */
  readonly connectTimeout: number | null | undefined;
  /** aiohttp's `timeout.sock_connect`: each attempt, ms; `undefined` = the connector's `connectTimeout`. */
  readonly sockConnect: number | null | undefined;
}

/** Told once how an acquisition ended: with a connection (open, and `reused` or new), or an error. */
export type AcquireCallback = (err: Error | null, conn?: Connection, reused?: boolean) => void;

/**
 * One request's way to a connection, the same for requests dispatched through the connector
 * and for aiohttp's `connect()`: a stream of a shared HTTP/2 connection, an idle connection,
 * or a new one opened for it — waiting in the pool's FIFO while `limit` or `limitPerHost` is
 * reached. The `timeout.connect` timer covers the wait and the opening; `abort()` gives up in
 * whatever phase the acquisition is in; aiohttp's `connection_queued_*` and `connection_reuseconn`
 * signals are sent here.
 */
export class Acquisition implements SharingWaiter {
  readonly key: PoolKey;
  readonly shareable: boolean;
  readonly #host: AcquisitionHost;
  readonly #options: AcquireOptions;
  readonly #callback: AcquireCallback;
  #conn: Connection | undefined;
  #opening: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reused = false;
  #queued = false;
  #done = false;

  constructor(host: AcquisitionHost, options: AcquireOptions, callback: AcquireCallback) {
    this.#host = host;
    this.#options = options;
    this.#callback = callback;
    this.key = options.key;
    this.shareable = options.need === "shared";
  }

  /** True once a connection was handed over or the acquisition failed. */
  get done(): boolean {
    return this.#done;
  }

  start(): void {
    const timeout = this.#options.connectTimeout;
    if (timeout != null && timeout > 0) {
      this.#timer = setTimeout(
        () =>
          this.abort(
            new ConnectionTimeoutError(`Connection timeout after ${timeout} ms`, {
              host: this.key.hostname,
              port: this.key.port,
            }),
          ),
        timeout,
      );
    }
    const { sharing, pool } = this.#host;
    if (this.shareable) {
      const shared = sharing.find(this.key);
      if (shared) {
        this.grant(shared, true);
        return;
      }
      if (sharing.join(this)) return;
    }
    pool.acquire(this);
  }

  /** Gives up: the callback gets `reason`. A connection already handed over is not affected. */
  abort(reason: Error): void {
    if (this.#done) return;
    if (this.#opening) {
      this.#opening.abort(reason);
      return;
    }
    if (this.#host.pool.cancel(this)) this.#queuedEnd();
    this.#finish(reason);
  }

  // ── PoolWaiter ───────────────────────────────────────────────────────

  accepts(conn: Connection): boolean {
    const need = this.#options.need;
    if (need === "raw") return conn.client === undefined;
    return need === "shared" || !conn.h2;
  }

  queued(): void {
    this.#queued = true;
    this.#options.trace?.onConnectionQueuedStart?.();
    publish("connectionQueuedStart", () => ({ origin: this.key.origin, key: this.key.id }));
  }

  grant(conn: Connection, reused: boolean): void {
    this.#conn = conn;
    this.#reused = reused;
    conn.addStream();
    this.#queuedEnd();
    if (reused) {
      this.#options.trace?.onConnectionReuseconn?.();
      publish("connectionReuseconn", () => ({ origin: this.key.origin, connection: conn }));
      this.#finish(null);
      return;
    }
    this.#open(conn);
  }

  fail(err: Error): void {
    this.#queuedEnd();
    this.#finish(err);
  }

  // ── internals ────────────────────────────────────────────────────────

  #open(conn: Connection): void {
    const { sharing, opener } = this.#host;
    const coalescing = this.shareable && opener.mayBeH2(this.key) && sharing.beginOpening(this.key);
    const controller = new AbortController();
    this.#opening = controller;
    opener
      .open(conn, {
        controller,
        sockConnect: this.#options.sockConnect,
        trace: this.#options.trace,
        http1Only: !this.shareable,
      })
      .then(
        () => {
          this.#opening = undefined;
          this.#finish(null);
          if (coalescing) sharing.settle(conn);
        },
        (err: unknown) => {
          this.#opening = undefined;
          conn.removeStream();
          conn.close();
          this.#finish(err as Error);
          if (coalescing) sharing.settle(conn);
        },
      );
  }

  #finish(err: Error | null): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (err) this.#callback(err);
    else this.#callback(null, this.#conn, this.#reused);
  }

  #queuedEnd(): void {
    if (!this.#queued) return;
    this.#queued = false;
    this.#options.trace?.onConnectionQueuedEnd?.();
    publish("connectionQueuedEnd", () => ({ origin: this.key.origin, key: this.key.id }));
  }
}
