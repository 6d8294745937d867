import type { PooledConnection } from "./pooled-connection.js";
import type { ProxySettings } from "./proxy.js";
import type { SslOption } from "./ssl.js";
import type { ConnectorTrace } from "./trace.js";

/** Per-request timeouts the connector applies, in ms; `null` or `undefined` disables one. */
export interface ConnectorTimeouts {
  /** aiohttp's `connect`: waiting for a free connection plus opening it. */
  connect?: number | null | undefined;
  /** aiohttp's `sock_connect`: each connection attempt, TLS handshake included. Default: the connector's `connectTimeout`. */
  sockConnect?: number | null | undefined;
}

/** What a request was given, reported once it is written on a connection. */
export interface ConnectionInfo {
  readonly connection: PooledConnection;
  /** The socket had carried a request before (a keep-alive reuse). */
  readonly reused: boolean;
}

/**
 * Per-request connector settings, passed to `dispatch()` as `connectorOptions` next to undici's
 * own options. This is how `@x/session` tells the connector about per-request TLS, timeouts and
 * tracing; undici's own APIs pass it through untouched:
 * `undici.request(url, { dispatcher: connector, connectorOptions: { ssl: false } })`.
 */
export interface ConnectorDispatchOptions {
  /** TLS for this request; part of the pool key. Default: the connector's `ssl`. */
  ssl?: SslOption | undefined;
  /** TLS server name (SNI and certificate check) instead of the URL's host; part of the pool key. */
  serverHostname?: string | undefined;
  /**
   * Go through this proxy: plain-http requests in absolute form, https through a CONNECT tunnel.
   * Part of the pool key.
   */
  proxy?: ProxySettings | undefined;
  timeout?: ConnectorTimeouts | undefined;
  /** Hooks for this request's connection and DNS events. */
  trace?: ConnectorTrace | undefined;
  /** Called when the request is written on a connection (again if it is retried on a new one). */
  onConnection?: ((info: ConnectionInfo) => void) | undefined;
}

/** What `createKey` sees: the dispatch options, and whether a raw tunnel (CONNECT, websocket) is wanted. */
export interface KeyOptions extends ConnectorDispatchOptions {
  tunnel?: boolean;
}

/** undici dispatch options extended with {@link ConnectorDispatchOptions}. */
export interface ConnectorDispatchExtension {
  connectorOptions?: ConnectorDispatchOptions | undefined;
}
