import type { Socket } from "node:net";
import type { PoolKey } from "./pool-key.js";
import type { PooledConnection } from "./pooled-connection.js";
import type { PooledSocket } from "./socket-source.js";

/**
 * A connection taken with `connector.connect()` (aiohttp's `Connection`): one use of a pooled
 * connection, by one holder. It counts against `limit` and `limitPerHost` until the holder calls
 * `release()`, `close()` or `detach()`; from then on it is spent — its `transport` is `null` and
 * its methods do nothing — while the pooled connection behind it may already serve someone else.
 */
export class Connection implements PooledSocket {
  readonly #pooled: PooledConnection;
  readonly #lease: number;

  /** @internal */
  constructor(pooled: PooledConnection) {
    this.#pooled = pooled;
    this.#lease = pooled.lease;
  }

  /** The pool key of the connection (`origin`, `hostname`, `port`, TLS settings). */
  get key(): PoolKey {
    return this.#pooled.key;
  }

  /** True once this holder released, closed or detached it (or the connector closed it). */
  get closed(): boolean {
    return !this.#held || this.#pooled.state !== "acquired";
  }

  /**
   * The socket (a `tls.TLSSocket` for https): while held, and after `detach()` (the holder owns it
   * then); `null` once released or closed.
   */
  get transport(): Socket | null {
    if (!this.#held) return null;
    const state = this.#pooled.state;
    return state === "acquired" || state === "detached" ? this.#pooled.transport : null;
  }

  /** Gives the connection back to the pool; a healthy socket is kept for reuse until `keepaliveTimeout`. */
  release(): void {
    if (this.#held) this.#pooled.release();
  }

  /** Closes the connection and its socket; it is not reused. */
  close(): void {
    if (this.#held) this.#pooled.close();
  }

  /**
   * Takes the socket out of the pool: it stops counting against the limits, and the holder owns
   * the socket and must close it. Later `close()`/`release()` calls do nothing.
   */
  detach(): void {
    if (this.#held) this.#pooled.detach();
  }

  /** This holder's use is the pooled connection's current one. */
  get #held(): boolean {
    return this.#pooled.lease === this.#lease;
  }
}
