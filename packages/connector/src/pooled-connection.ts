import type { Socket } from "node:net";
import type { Client } from "undici";
import type { PoolKey } from "./pool-key.js";

/** The part of a connector that a {@link PooledConnection} reports back to. */
export interface ConnectionOwner {
  releaseConnection(conn: PooledConnection): void;
  detachConnection(conn: PooledConnection): void;
  closeConnection(conn: PooledConnection): void;
}

/** Where a connection is in its life. */
export type ConnectionState = "acquired" | "idle" | "detached" | "closed";

/** Counts connections going idle, over every pool: the order of {@link PooledConnection.idleSeq}. */
let idleSeq = 0;

/**
 * One connection of a connector's pool: its socket, its HTTP client and where it is in its life.
 * The same object stays in the pool for the socket's whole life, serving one holder after another
 * — so its methods are the pool's, not a holder's. What `connector.connect()` hands a caller is a
 * {@link Connection}, bound to that one use; requests dispatched through the connector report the
 * pooled connection they ran on (`onConnection`, the `diagnostics_channel` messages), to look at.
 *
 * A connection counts against `limit` and `limitPerHost` from the moment it is acquired (while it
 * is still being opened, too) until it is released, closed or detached.
 */
export class PooledConnection {
  /** The pool key the connection belongs to. */
  readonly key: PoolKey;
  readonly #owner: ConnectionOwner;
  #state: ConnectionState = "acquired";
  /** Counts the times the connection was acquired: which holder's use is the current one. */
  #lease = 0;
  #socket: Socket | undefined;
  #socketUses = 0;
  #client: Client | undefined;
  #idleSince = 0;
  #idleSeq = 0;
  #upgraded = false;
  #h2 = false;
  #streams = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #opening: AbortController | undefined;

  /** @internal */
  constructor(owner: ConnectionOwner, key: PoolKey) {
    this.#owner = owner;
    this.key = key;
  }

  /** True while the connection is not acquired (idle in the pool, closed or detached). */
  get closed(): boolean {
    return this.#state !== "acquired";
  }

  /** Where the connection is in its life. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The socket (a `tls.TLSSocket` for https), or `null` while none is open. */
  get transport(): Socket | null {
    return this.#socket && !this.#socket.destroyed ? this.#socket : null;
  }

  /**
   * @internal Closes the connection and its socket, whoever holds it; it is not reused. Does
   * nothing once closed or detached. A holder closes its {@link Connection} instead.
   */
  close(): void {
    if (this.#state === "closed" || this.#state === "detached") return;
    this.#owner.closeConnection(this);
  }

  /**
   * @internal Gives the connection back to the pool. A healthy socket is kept for reuse until
   * `keepaliveTimeout`; otherwise it is closed.
   */
  release(): void {
    this.#owner.releaseConnection(this);
  }

  /**
   * @internal Takes the socket out of the pool's hands: it stops counting against the limits, and
   * whoever asked owns the socket and must close it. Later `close()`/`release()` calls do nothing.
   */
  detach(): void {
    this.#owner.detachConnection(this);
  }

  // ── used by the connector's parts ──────────────────────────────────────

  /** @internal */
  setState(state: ConnectionState): void {
    if (state === "acquired") this.#lease++;
    this.#state = state;
    if (state !== "idle" && this.#idleTimer) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    if (state === "idle") {
      this.#idleSince = Date.now();
      this.#idleSeq = ++idleSeq;
    }
  }

  /** @internal Which acquisition of the connection is the current one (see {@link Connection}). */
  get lease(): number {
    return this.#lease;
  }

  /** @internal When the connection last became idle (ms since the epoch). */
  get idleSince(): number {
    return this.#idleSince;
  }

  /** Orders idle connections by when they went idle, exactly (idleSince has ms resolution). */
  get idleSeq(): number {
    return this.#idleSeq;
  }

  /** @internal Closes the connection when it has been idle too long (a raw socket's own timer). */
  setIdleTimer(timer: NodeJS.Timeout): void {
    this.#idleTimer = timer;
  }

  /** @internal The current socket, destroyed or not. */
  get socket(): Socket | undefined {
    return this.#socket;
  }

  /** @internal A socket was opened for this connection. */
  setSocket(socket: Socket): void {
    this.#socket = socket;
    this.#socketUses = 0;
    this.#h2 = (socket as { alpnProtocol?: string | false }).alpnProtocol === "h2";
  }

  /** @internal Counts a request on the connection's socket; true when the socket had carried one before. */
  useSocket(): boolean {
    return this.#socketUses++ > 0;
  }

  /** @internal The socket speaks HTTP/2, so requests may share the connection. */
  get h2(): boolean {
    return this.#h2;
  }

  /** @internal Requests running on the connection: 1 for HTTP/1.1, up to the stream limit for HTTP/2. */
  get streams(): number {
    return this.#streams;
  }

  /** @internal One more request runs on the connection. */
  addStream(): void {
    this.#streams++;
  }

  /** @internal A request on the connection ended; returns how many are left. */
  removeStream(): number {
    if (this.#streams > 0) this.#streams--;
    return this.#streams;
  }

  /** @internal The undici client bound to this connection's socket, if one was made. */
  get client(): Client | undefined {
    return this.#client;
  }

  /** @internal */
  setClient(client: Client | undefined): void {
    this.#client = client;
  }

  /** @internal True once the socket left HTTP through an upgrade or CONNECT. */
  get upgraded(): boolean {
    return this.#upgraded;
  }

  /**
   * @internal The socket left the HTTP client through an upgrade or CONNECT: the client is
   * forgotten (and returned, for the caller to dispose of) and the socket is the upgrader's.
   */
  markUpgraded(): Client | undefined {
    const client = this.#client;
    this.#client = undefined;
    this.#upgraded = true;
    return client;
  }

  /** @internal A socket is being opened for this connection; aborting `controller` stops it. */
  setOpening(controller: AbortController | undefined): void {
    this.#opening = controller;
  }

  /** @internal True when the socket is open and can carry a request. */
  get alive(): boolean {
    const socket = this.#socket;
    return socket !== undefined && !socket.destroyed && !socket.readableEnded && !this.#upgraded;
  }

  /**
   * @internal Closes an idle raw TLS connection the polite way — close_notify now, abort if the
   * peer has not finished closing within `boundMs` (aiohttp's `enable_cleanup_closed`). False
   * when that does not apply (no open TLS socket, or an HTTP client owns it).
   */
  closeTlsGracefully(boundMs: number): boolean {
    const socket = this.#socket;
    if (!socket || socket.destroyed || this.#client !== undefined) return false;
    if ((socket as { encrypted?: boolean }).encrypted !== true) return false;
    socket.end();
    const timer = setTimeout(() => socket.destroy(), boundMs);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
    this.setState("closed");
    return true;
  }

  /** @internal Destroys the socket and the HTTP client, if any, and stops an opening in progress. */
  destroy(err?: Error): Promise<void> {
    this.setState("closed");
    this.#opening?.abort(err);
    const socket = this.#socket;
    const client = this.#client;
    this.#client = undefined;
    // The client goes first, so a request it is running fails with `err`, not with "socket closed".
    const closing =
      client && !client.destroyed ? client.destroy(err ?? null).catch(() => {}) : Promise.resolve();
    if (socket && !socket.destroyed) socket.destroy();
    return closing;
  }
}
