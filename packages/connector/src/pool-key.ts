import { InvalidUrlClientError } from "@x/errors";
import type { ConnectorDispatchOptions, KeyOptions } from "./dispatch-options.js";
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

const DEFAULT_PORTS: Record<string, number> = { "http:": 80, "https:": 443, "ws:": 80, "wss:": 443 };

/** The key of a plain origin: `http://host:port` or `https://host:port` (`ws:`/`wss:` count as those). */
export function originKey(url: URL): PoolKey {
  const protocol = url.protocol === "https:" || url.protocol === "wss:" ? "https:" : "http:";
  const port = url.port ? Number(url.port) : (DEFAULT_PORTS[url.protocol] ?? 80);
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const origin = `${protocol}//${url.hostname}:${port}`;
  return { id: origin, origin, protocol, hostname, port, tls: undefined, servername: undefined };
}

/**
 * A connector's pool keys: URLs checked (http, https, ws, wss, with a host), keys made by the
 * connector's `createKey`, and — for requests without per-request TLS, server name or proxy — the
 * key of each origin text remembered, so a request to a known origin costs a lookup.
 */
export class PoolKeys {
  readonly #create: (url: URL, options: KeyOptions | undefined) => PoolKey;
  readonly #byOrigin = new Map<string, PoolKey>();
  /** The last key looked up by origin text: most dispatchers talk to one origin at a time. */
  #last: { text: string; key: PoolKey } | undefined;

  constructor(create: (url: URL, options: KeyOptions | undefined) => PoolKey) {
    this.#create = create;
  }

  /**
   * The key for a request to `origin` with these connector options; `tunnel` asks for a raw
   * connection (through a proxy: a CONNECT tunnel whatever the scheme).
   * @throws {InvalidUrlClientError} for an origin that is not an http/https/ws/wss URL with a host.
   */
  keyFor(
    origin: string | URL | undefined,
    options: ConnectorDispatchOptions | undefined,
    tunnel = false,
  ): PoolKey {
    const simple =
      !tunnel &&
      (options === undefined ||
        (options.ssl === undefined && options.serverHostname === undefined && options.proxy === undefined));
    const text = typeof origin === "string" ? origin : origin?.href;
    if (simple && text !== undefined) {
      const last = this.#last;
      if (last !== undefined && last.text === text) return last.key;
      const cached = this.#byOrigin.get(text);
      if (cached) {
        this.#last = { text, key: cached };
        return cached;
      }
    }
    let url: URL;
    try {
      url = typeof origin === "string" ? new URL(origin) : (origin as URL);
      if (!(url instanceof URL)) throw new TypeError("missing origin");
    } catch (err) {
      throw new InvalidUrlClientError(String(origin), "the request origin is not a valid URL", {
        cause: err,
      });
    }
    if (!(url.protocol in DEFAULT_PORTS)) {
      throw new InvalidUrlClientError(
        url.href,
        `unsupported scheme ${url.protocol} (expected http:, https:, ws: or wss:)`,
      );
    }
    // http, https, ws and wss are "special" schemes: WHATWG URL parsing gives them a host or fails.
    const key = this.#create(url, tunnel ? { ...options, tunnel: true } : options);
    if (simple && text !== undefined) {
      if (this.#byOrigin.size >= 1024) this.#byOrigin.clear();
      this.#byOrigin.set(text, key);
      this.#last = { text, key };
    }
    return key;
  }
}
