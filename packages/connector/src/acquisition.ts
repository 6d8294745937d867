import { ConnectionTimeoutError } from "@x/errors";
import { Connection } from "./connection.js";
import type { ConnectionOpener } from "./connection-opener.js";
import type { H2Sharing, SharingWaiter } from "./h2-sharing.js";
import type { Pool } from "./pool.js";
import type { PoolKey } from "./pool-key.js";
import type { PooledConnection } from "./pooled-connection.js";
import { type ConnectorTrace, publish } from "./trace.js";

/**
 * What kind of connection a request needs:
 * - `"shared"`: any connection; it may run as one stream of an HTTP/2 connection (requests);
 * - `"http1"`: a connection of its own speaking HTTP/1.1 (upgrades and CONNECT requests);
 * - `"raw"`: a socket no HTTP client has read from (aiohttp's `connect()`).
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

/**
 * One request's way to a connection, the same for requests dispatched through the connector
 * (`PooledRequest` is an acquisition that then runs on its connection) and for aiohttp's
 * `connect()`: a stream of a shared HTTP/2 connection, an idle connection, or a new one opened
 * for it — waiting in the pool's FIFO while `limit` or `limitPerHost` is reached. The
 * `timeout.connect` timer covers the wait and the opening; {@link Acquisition.giveUp} stops it in
 * whatever phase it is in; aiohttp's `connection_queued_*` and `connection_reuseconn` signals are
 * sent here. {@link Acquisition.acquired} is called exactly once.
 */
export abstract class Acquisition implements SharingWaiter {
  readonly key: PoolKey;
  readonly shareable: boolean;
  readonly #host: AcquisitionHost;
  readonly #need: ConnectionNeed;
  readonly #trace: ConnectorTrace | undefined;
  readonly #connectTimeout: number | null | undefined;
  readonly #sockConnect: number | null | undefined;
  #conn: PooledConnection | undefined;
  #opening: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reused = false;
  #queued = false;
  #done = false;

  constructor(host: AcquisitionHost, options: AcquireOptions) {
    this.#host = host;
    this.key = options.key;
    this.#need = options.need;
    this.shareable = options.need === "shared";
    this.#trace = options.trace;
    this.#connectTimeout = options.connectTimeout;
    this.#sockConnect = options.sockConnect;
  }

  /** The acquisition ended: with an open connection (`reused` when it was not opened for it), or `err`. */
  protected abstract acquired(err: Error | null, conn?: PooledConnection, reused?: boolean): void;

  /** True once a connection was handed over or the acquisition failed. */
  get done(): boolean {
    return this.#done;
  }

  /** Starts waiting for a connection. */
  protected acquire(): void {
    const timeout = this.#connectTimeout;
    if (timeout != null && timeout > 0) {
      this.#timer = setTimeout(
        () =>
          this.giveUp(
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

  /** Gives up: {@link Acquisition.acquired} gets `reason`. A connection already handed over is not affected. */
  giveUp(reason: Error): void {
    // Once done (#opening is cleared by then), the pool has it no more and #finish does nothing.
    if (this.#opening) {
      this.#opening.abort(reason);
      return;
    }
    if (this.#host.pool.cancel(this)) this.#queuedEnd();
    this.#finish(reason);
  }

  // ── PoolWaiter ───────────────────────────────────────────────────────

  /** @internal */
  accepts(conn: PooledConnection): boolean {
    const need = this.#need;
    if (need === "raw") return conn.client === undefined;
    return need === "shared" || !conn.h2;
  }

  /** @internal */
  queued(): void {
    this.#queued = true;
    this.#trace?.onConnectionQueuedStart?.();
    publish("connectionQueuedStart", () => this.#message());
  }

  /** @internal */
  grant(conn: PooledConnection, reused: boolean): void {
    this.#conn = conn;
    this.#reused = reused;
    conn.addStream();
    this.#queuedEnd();
    if (reused) {
      this.#trace?.onConnectionReuseconn?.();
      publish("connectionReuseconn", () => ({ ...this.#message(), connection: conn }));
      this.#finish(null);
      return;
    }
    this.#open(conn);
  }

  /** @internal */
  fail(err: Error): void {
    this.#queuedEnd();
    this.#finish(err);
  }

  // ── internals ────────────────────────────────────────────────────────

  #open(conn: PooledConnection): void {
    const { sharing, opener } = this.#host;
    const coalescing = this.shareable && opener.mayBeH2(this.key) && sharing.beginOpening(this.key);
    const controller = new AbortController();
    this.#opening = controller;
    opener
      .open(conn, {
        controller,
        sockConnect: this.#sockConnect,
        trace: this.#trace,
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
    clearTimeout(this.#timer);
    if (err) this.acquired(err);
    else this.acquired(null, this.#conn, this.#reused);
  }

  /** A channel message's common part: which connector, and the request's origin and pool key. */
  #message(): { connector: object; origin: string; key: string } {
    return { connector: this.#host.opener.dispatcher, origin: this.key.origin, key: this.key.id };
  }

  #queuedEnd(): void {
    if (!this.#queued) return;
    this.#queued = false;
    this.#trace?.onConnectionQueuedEnd?.();
    publish("connectionQueuedEnd", () => this.#message());
  }
}

/** aiohttp's `connect()`: an acquisition for a raw connection, as a promise of the holder's {@link Connection}. */
class ConnectionAcquisition extends Acquisition {
  readonly #resolve: (conn: Connection) => void;
  readonly #reject: (err: Error) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => this.giveUp(this.#signal?.reason as Error);

  constructor(
    host: AcquisitionHost,
    options: AcquireOptions,
    signal: AbortSignal | undefined,
    resolve: (conn: Connection) => void,
    reject: (err: Error) => void,
  ) {
    super(host, options);
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
    signal?.addEventListener("abort", this.#onAbort);
    this.acquire();
  }

  protected acquired(err: Error | null, conn?: PooledConnection): void {
    this.#signal?.removeEventListener("abort", this.#onAbort);
    // A successful acquisition always has its connection.
    if (err) this.#reject(err);
    else this.#resolve(new Connection(conn!));
  }
}

/** Acquires a connection for `options.key` and resolves with it, open; `signal` gives up. */
export function acquireConnection(
  host: AcquisitionHost,
  options: AcquireOptions,
  signal: AbortSignal | undefined,
): Promise<Connection> {
  return new Promise<Connection>((resolve, reject) => {
    new ConnectionAcquisition(host, options, signal, resolve, reject);
  });
}
