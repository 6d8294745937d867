import type { Socket } from "node:net";
import type { ConnectRequest } from "./base-connector.js";

/** A socket taken from a connector's pool: it counts against the pool's limits until given back. */
export interface PooledSocket {
  /** The connected socket (`tls.TLSSocket` for https/wss), or `null` once it is closed. */
  readonly transport: Socket | null;
  /** Closes the socket and frees its place in the pool. */
  close(): void;
  /** Gives a socket that can still carry HTTP back to the pool (otherwise closes it). */
  release(): void;
  /** Frees the place in the pool; the caller keeps the socket and must close it. */
  detach(): void;
}

/**
 * What a websocket client needs from a connector: a connected socket for a URL, through the
 * request's proxy and with its TLS settings, counted against the pool's limits. Every
 * `@x/connector` connector is one (`Connection`, what `connect()` gives, is its `PooledSocket`); any other connector can
 * be, by implementing `connectSocket`.
 */
export interface SocketSource {
  /**
   * A socket for `request.url` (http, https, ws or wss), ready for the caller to speak on (an
   * HTTP/1.1 upgrade), waiting while the pool's limits are reached.
   */
  connectSocket(request: ConnectRequest): Promise<PooledSocket>;
}

/** True when `value` can give sockets (`connectSocket`). */
export function isSocketSource(value: unknown): value is SocketSource {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { connectSocket?: unknown }).connectSocket === "function"
  );
}
