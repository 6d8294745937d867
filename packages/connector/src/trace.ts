import { channel } from "node:diagnostics_channel";

/**
 * Per-request hooks for the connector's events, named after aiohttp's TraceConfig signals.
 * The session passes one per request; every hook is optional.
 */
export interface ConnectorTrace {
  /** The request must wait: `limit` or `limitPerHost` is reached. */
  onConnectionQueuedStart?(): void;
  /** The wait is over (a connection became available, or the wait failed). */
  onConnectionQueuedEnd?(): void;
  /** A new connection is being opened. */
  onConnectionCreateStart?(): void;
  /** The new connection is open (TCP, and TLS where used). */
  onConnectionCreateEnd?(): void;
  /** An idle keep-alive connection was taken from the pool. */
  onConnectionReuseconn?(): void;
  /** A DNS lookup of `host` starts. */
  onDnsResolveHostStart?(host: string): void;
  /** The DNS lookup of `host` finished. */
  onDnsResolveHostEnd?(host: string): void;
  /** `host` was answered from the DNS cache. */
  onDnsCacheHit?(host: string): void;
  /** `host` was not in the DNS cache. */
  onDnsCacheMiss?(host: string): void;
}

/**
 * `diagnostics_channel` names the connector publishes on, for APM tools. Each message is an
 * object with `connector` (the connector that sent it), and `origin`, `key`, `host`, `addresses`
 * or `connection` as relevant (the package README lists them per channel).
 */
export const connectorChannels = {
  connectionQueuedStart: channel("x:connector:connection-queued-start"),
  connectionQueuedEnd: channel("x:connector:connection-queued-end"),
  connectionCreateStart: channel("x:connector:connection-create-start"),
  connectionCreateEnd: channel("x:connector:connection-create-end"),
  connectionReuseconn: channel("x:connector:connection-reuseconn"),
  dnsResolveHostStart: channel("x:connector:dns-resolvehost-start"),
  dnsResolveHostEnd: channel("x:connector:dns-resolvehost-end"),
  dnsCacheHit: channel("x:connector:dns-cache-hit"),
  dnsCacheMiss: channel("x:connector:dns-cache-miss"),
} as const;

export type ConnectorChannelName = keyof typeof connectorChannels;

/** Publishes on a channel only when someone listens (the check is what keeps it free). */
export function publish(name: ConnectorChannelName, message: () => object): void {
  const ch = connectorChannels[name];
  // Stryker disable next-line ConditionalExpression: `true` is equivalent (publish() with no subscriber does nothing; the guard only saves building the message).
  if (ch.hasSubscribers) ch.publish(message());
}
