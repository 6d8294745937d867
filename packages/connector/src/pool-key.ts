import type { ProxySettings } from "./proxy.js";
import type { ResolvedTls } from "./ssl.js";

/**
 * What makes two requests able to share a connection: the origin, the TLS settings (verification,
 * CA, fingerprint, SNI) and, when proxied, the proxy's identity. Connections are never shared
 * across keys.
 */
export interface PoolKey {
  /** Unique text of everything below; equal ids share connections. */
  readonly id: string;
  /** `http://host:port` or `https://host:port`. */
  readonly origin: string;
  readonly protocol: "http:" | "https:";
  /** The host without IPv6 brackets. */
  readonly hostname: string;
  readonly port: number;
  /** TLS settings for https origins; `undefined` for plain http. */
  readonly tls: ResolvedTls | undefined;
  /** The TLS server name (SNI and certificate check) when it differs from `hostname`. */
  readonly servername: string | undefined;
  /** The proxy the connection goes through, if any. */
  readonly proxy?: ProxySettings | undefined;
  /** A raw tunnel is wanted (CONNECT even for plain http), as websockets need. */
  readonly tunnel?: boolean | undefined;
}
