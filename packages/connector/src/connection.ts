import type { Socket } from "node:net";
import type { Client } from "undici";
import type { PoolKey } from "./pool-key.js";
import type { ConnectorTrace } from "./trace.js";

/** @internal What the connector needs to open a socket on behalf of a request. */
export interface OpenContext {
  readonly trace: ConnectorTrace | undefined;
  /** Per-attempt timeout in ms; `null` for none, `undefined` for the connector's default. */
  readonly sockConnect: number | null | undefined;
}

/** The part of a connector that a {@link Connection} reports back to. */
export interface ConnectionOwner {
  releaseConnection(conn: Connection): void;
  detachConnection(conn: Connection): void;
  closeConnection(conn: Connection): void;
}

/** Where a connection is in its life. */
export type ConnectionState = "acquired" | "idle" | "detached" | "closed";

/**
 * One connection of a connector's pool (aiohttp's `Connection`). Obtained from
 * `connector.connect()` — or, for requests dispatched through the connector, reported per
 * request — never constructed by users.
 *
 * A connection counts against `limit` and `limitPerHost` from the moment it is acquired (while it
 * is still being opened, too) until it is released, closed or detached.
 */
export class Connection {
  /** The pool key the connection belongs to. */
  readonly key: PoolKey;
  readonly #owner: ConnectionOwner;
  #state: ConnectionState = "acquired";
  #socket: Socket | undefined;
  #socketUses = 0;
  #client: Client | undefined;
  #idleSince = 0;
  #upgraded = false;
  #idleTimer: NodeJS.Timeout | undefined;
  /** @internal Aborts the socket being opened for this connection, if one is. */
  connecting: AbortController | undefined;
  /** @internal Trace and timeout of the request that will open this connection's next socket. */
  openContext: OpenContext | undefined;
  /** @internal Requests running on this connection: 1 for HTTP/1.1, up to the stream limit for HTTP/2. */
  streams = 0;
  /** @internal The socket speaks HTTP/2, so requests may share it. */
  h2 = false;

  /** @internal */
  constructor(owner: ConnectionOwner, key: PoolKey) {
    this.#owner = owner;
    this.key = key;
  }

  /** True once the connection was released, closed or detached: the holder may no longer use it. */
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

  /** Closes the connection and its socket; it is not reused. Does nothing after `detach()`. */
  close(): void {
    if (this.#state === "closed" || this.#state === "detached") return;
    this.#owner.closeConnection(this);
  }

  /**
   * Gives the connection back to the pool. A healthy socket is kept for reuse until
   * `keepaliveTimeout`; otherwise it is closed.
   */
  release(): void {
    if (this.#state !== "acquired") return;
    this.#owner.releaseConnection(this);
  }

  /**
   * Takes the socket out of the pool's hands: it stops counting against the limits, and the
   * caller owns the socket and must close it. Later `close()`/`release()` calls do nothing.
   */
  detach(): void {
    if (this.#state !== "acquired") return;
    this.#owner.detachConnection(this);
  }

  // ── used by the connector ────────────────────────────────────────────

  /** @internal */
  setState(state: ConnectionState): void {
    this.#state = state;
    if (state !== "idle" && this.#idleTimer) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    if (state === "idle") this.#idleSince = Date.now();
  }

  /** @internal */
  get idleSince(): number {
    return this.#idleSince;
  }

  /** @internal */
  setIdleTimer(timer: NodeJS.Timeout): void {
    this.#idleTimer = timer;
  }

  /** @internal The current socket, destroyed or not. */
  get socket(): Socket | undefined {
    return this.#socket;
  }

  /** @internal */
  setSocket(socket: Socket): void {
    this.#socket = socket;
    this.#socketUses = 0;
    this.h2 = (socket as { alpnProtocol?: string | false }).alpnProtocol === "h2";
  }

  /** @internal Counts a request on `socket`; true when the socket had carried one before. */
  useSocket(socket: Socket): boolean {
    if (socket !== this.#socket) return false;
    return this.#socketUses++ > 0;
  }

  /** @internal */
  get client(): Client | undefined {
    return this.#client;
  }

  /** @internal */
  setClient(client: Client | undefined): void {
    this.#client = client;
  }

  /** @internal */
  get upgraded(): boolean {
    return this.#upgraded;
  }

  /** @internal The socket left the HTTP client through an upgrade or CONNECT. */
  markUpgraded(socket: Socket): void {
    this.#upgraded = true;
    this.#socket = socket;
  }

  /** @internal True when the socket is open and can carry a request. */
  get alive(): boolean {
    const socket = this.#socket;
    return socket !== undefined && !socket.destroyed && !socket.readableEnded && !this.#upgraded;
  }

  /** @internal Destroys the socket and the HTTP client, if any. */
  destroy(err?: Error): Promise<void> {
    this.setState("closed");
    this.connecting?.abort(err);
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
