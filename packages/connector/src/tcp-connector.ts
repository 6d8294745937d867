import { isIP, type Socket } from "node:net";
import type { SecureContext } from "node:tls";
import {
  ClientConnectorDNSError,
  ClientConnectorError,
  ClientProxyConnectionError,
  InvalidArgumentError,
} from "@x/errors";
import { BaseConnector, type BaseConnectorOptions, type ConnectAttempt } from "./base-connector.js";
import type { KeyOptions } from "./dispatch-options.js";
import { DnsCache } from "./dns-cache.js";
import { Fingerprint } from "./fingerprint.js";
import type { PoolKey } from "./pool-key.js";
import { checkProxy, openTunnel, proxyId } from "./proxy.js";
import { type AbstractResolver, type AddressFamily, DefaultResolver, type ResolvedHost } from "./resolver.js";
import { openTcp, secureSocket } from "./socket-open.js";
import { mergeSslParams, resolveTls, type SslOption, type TlsOptions } from "./ssl.js";

/** A local address to bind outgoing sockets to (aiohttp's `local_addr` tuple). */
export interface LocalAddress {
  host: string;
  /** Default 0: any free port. */
  port?: number;
}

/** Options of {@link TCPConnector}: {@link BaseConnectorOptions} plus TCP, DNS and TLS settings. */
export interface TCPConnectorOptions extends BaseConnectorOptions {
  /**
   * TLS for https: `true` verifies against the system CAs (default), `false` skips verification,
   * a `Fingerprint` pins the certificate instead of verifying it, TLS options configure it fully.
   */
  ssl?: SslOption;
  /** Seed-era: `false` is `ssl: false`. Mixing it with `ssl` is an error. */
  verifySsl?: boolean;
  /** Seed-era: a SHA-256 pin, the same as `ssl: new Fingerprint(digest)`. Mixing it with `ssl` is an error. */
  fingerprint?: Uint8Array | string | Fingerprint;
  /** Seed-era: TLS options or a `tls.createSecureContext()` result, the same as `ssl`. Mixing it with `ssl` is an error. */
  sslContext?: TlsOptions | SecureContext;
  /** Cache DNS answers. Default `true`. */
  useDnsCache?: boolean;
  /** How long DNS answers are cached, ms; `null` = until cleared. Default 10000. */
  ttlDnsCache?: number | null;
  /** Most host names kept in the DNS cache. Default 1000. */
  dnsCacheMaxSize?: number;
  /** Address family: 0 for both (default), 4 or 6 only. */
  family?: AddressFamily;
  /** Bind outgoing sockets to this local address: an IP string, or `{ host, port }`. */
  localAddr?: string | LocalAddress;
  /** How host names are resolved. Default: a new `DefaultResolver` (`dns.lookup`), closed with the connector. */
  resolver?: AbstractResolver;
}

/**
 * The connector for TCP, with and without TLS (aiohttp's `TCPConnector`): a connection pool with
 * a DNS cache, certificate verification and pinning, and every {@link BaseConnector} behaviour.
 * It is an undici `Dispatcher`.
 *
 * @example
 * import { TCPConnector } from "@x/connector";
 * const connector = new TCPConnector({ limit: 10, ttlDnsCache: 60_000 });
 * const res = await fetch("https://example.com/", { dispatcher: connector });
 * await connector.close();
 * @throws {InvalidArgumentError} for invalid options, or old and new TLS options mixed.
 */
export class TCPConnector extends BaseConnector {
  readonly #ssl: SslOption;
  readonly #family: AddressFamily;
  readonly #local: LocalAddress | undefined;
  readonly #resolver: AbstractResolver;
  readonly #ownsResolver: boolean;
  readonly #dns: DnsCache;
  readonly #useDnsCache: boolean;

  constructor(options: TCPConnectorOptions = {}) {
    super(options);
    this.#ssl = mergeSslParams(options) ?? true;
    resolveTls(this.#ssl);
    const family = options.family ?? 0;
    if (family !== 0 && family !== 4 && family !== 6)
      throw new InvalidArgumentError("family must be 0, 4 or 6");
    this.#family = family;
    const local = options.localAddr;
    if (local !== undefined) {
      const host = typeof local === "string" ? local : local?.host;
      if (typeof host !== "string" || isIP(host) === 0) {
        throw new InvalidArgumentError(`localAddr must be an IP address, got ${JSON.stringify(host)}`);
      }
      this.#local = typeof local === "string" ? { host: local } : local;
    }
    const ttl = options.ttlDnsCache === undefined ? 10_000 : options.ttlDnsCache;
    if (ttl !== null && (typeof ttl !== "number" || !(ttl >= 0))) {
      throw new InvalidArgumentError("ttlDnsCache must be a number of milliseconds or null");
    }
    const maxSize = options.dnsCacheMaxSize ?? 1000;
    if (!Number.isInteger(maxSize) || maxSize < 1)
      throw new InvalidArgumentError("dnsCacheMaxSize must be a positive integer");
    if (options.resolver !== undefined && typeof options.resolver?.resolve !== "function") {
      throw new InvalidArgumentError("resolver must implement resolve(host, port, family)");
    }
    this.#ownsResolver = options.resolver === undefined;
    this.#resolver = options.resolver ?? new DefaultResolver();
    this.#useDnsCache = options.useDnsCache ?? true;
    this.#dns = new DnsCache(this, {
      resolver: this.#resolver,
      enabled: this.#useDnsCache,
      ttl,
      maxSize,
      family: this.#family,
    });
  }

  /** False when certificates are not verified (`ssl: false` or a fingerprint alone). */
  get verifySsl(): boolean {
    return resolveTls(this.#ssl).verify;
  }

  /** The pinned SHA-256 digest, if any. */
  get fingerprint(): Buffer | undefined {
    return resolveTls(this.#ssl).fingerprint?.fingerprint;
  }

  /** The TLS setting used for https requests that do not give their own. */
  get ssl(): SslOption {
    return this.#ssl;
  }

  /** The address family: 0, 4 or 6. */
  get family(): AddressFamily {
    return this.#family;
  }

  /** True when DNS answers are cached. */
  get dnsCache(): boolean {
    return this.#useDnsCache;
  }

  /** The cached DNS answers: `"host:port"` → addresses. */
  get cachedHosts(): ReadonlyMap<string, readonly ResolvedHost[]> {
    return this.#dns.hosts;
  }

  /** The resolver in use. */
  get resolver(): AbstractResolver {
    return this.#resolver;
  }

  /**
   * Forgets cached DNS answers: all of them, or those of one `host` and `port`.
   * @throws {InvalidArgumentError} when only one of `host` and `port` is given.
   */
  clearDnsCache(host?: string, port?: number): void {
    if ((host === undefined) !== (port === undefined)) {
      throw new InvalidArgumentError("clearDnsCache takes both host and port, or neither");
    }
    this.#dns.clear(host, port);
  }

  protected override createKey(url: URL, options: KeyOptions | undefined): PoolKey {
    // The base key: the origin (without the base's refusal of proxies, which this connector takes).
    const base = super.createKey(url, undefined);
    const requested = options?.ssl;
    const proxy = options?.proxy;
    if (proxy) checkProxy(proxy);
    const via = proxy ? `|via:${proxyId(proxy)}${options?.tunnel ? "|tunnel" : ""}` : "";
    const withProxy = { proxy, tunnel: proxy !== undefined && options?.tunnel === true };
    if (base.protocol === "http:") {
      // TLS options are ignored for a plain URL (as in aiohttp: a redirect from https to http
      // keeps working), but a pin is a promise about the peer that plain HTTP cannot keep.
      if (
        requested instanceof Fingerprint ||
        (typeof requested === "object" && requested?.fingerprint !== undefined)
      ) {
        throw new InvalidArgumentError(
          `a fingerprint was given for ${url.protocol}//${url.host}, which is not a TLS URL`,
        );
      }
      return proxy ? { ...base, ...withProxy, id: `${base.id}${via}` } : base;
    }
    const tls = resolveTls(requested ?? this.#ssl);
    const servername = options?.serverHostname;
    if (
      servername !== undefined &&
      (typeof servername !== "string" || servername === "" || /[\s/]/.test(servername))
    ) {
      throw new InvalidArgumentError(`serverHostname must be a host name, got ${JSON.stringify(servername)}`);
    }
    return {
      ...base,
      ...withProxy,
      id: `${base.origin}|${tls.id}|${servername ?? ""}${via}`,
      tls,
      servername,
    };
  }

  protected override async openSocket(key: PoolKey, attempt: ConnectAttempt): Promise<Socket> {
    const proxy = key.proxy;
    if (!proxy) return this.#direct(key, attempt);
    const { signal, timeout } = attempt;
    const proxyHost = proxy.url.hostname.replace(/^\[|\]$/g, "");
    const proxyTls = proxy.url.protocol === "https:";
    const proxyPort = Number(proxy.url.port) || (proxyTls ? 443 : 80);
    let socket: Socket;
    try {
      socket = await this.#tcp(proxyHost, proxyPort, proxyTls, attempt);
      if (proxyTls) {
        socket = await secureSocket(
          socket,
          {
            host: proxyHost,
            port: proxyPort,
            ssl: true,
            servername: isIP(proxyHost) === 0 ? proxyHost : undefined,
            sessionKey: `proxy|${proxy.url.origin}`,
          },
          resolveTls(true),
          signal,
          timeout,
          ["http/1.1"],
        );
      }
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const osError = err instanceof ClientConnectorError ? err.osError : err;
      throw new ClientProxyConnectionError({ host: proxyHost, port: proxyPort, ssl: proxyTls, osError });
    }
    if (key.tls || key.tunnel)
      socket = await openTunnel(socket, { host: key.hostname, port: key.port }, proxy, signal, timeout);
    if (!key.tls) return socket;
    const ssl = this.#sslSetting(key);
    const servername = key.servername ?? (isIP(key.hostname) === 0 ? key.hostname : undefined);
    return secureSocket(
      socket,
      { host: key.hostname, port: key.port, ssl, servername, sessionKey: key.id },
      key.tls,
      signal,
      timeout,
      attempt.alpn,
    );
  }

  /** Resolves `host` and opens a TCP connection to the first address that accepts. */
  async #tcp(host: string, port: number, ssl: boolean | object, attempt: ConnectAttempt): Promise<Socket> {
    const { signal, timeout } = attempt;
    const addresses = await this.#addresses(host, port, ssl, attempt);
    let lastError: unknown;
    for (const address of addresses) {
      signal.throwIfAborted();
      try {
        return await openTcp(
          {
            host,
            // A resolver's answer decides the port, as in aiohttp (test setups map a name to a port).
            port: address.port || port,
            ssl,
            address: address.host,
            family: address.family,
            localAddress: this.#local?.host,
            localPort: this.#local?.port,
          },
          signal,
          timeout,
        );
      } catch (err) {
        lastError = err; // after an abort, the next turn or the check below throws its reason
      }
    }
    signal.throwIfAborted();
    throw lastError;
  }

  async #addresses(
    host: string,
    port: number,
    ssl: boolean | object,
    attempt: ConnectAttempt,
  ): Promise<readonly ResolvedHost[]> {
    const literal = isIP(host);
    if (literal !== 0) return [{ hostname: host, host, port, family: literal as 4 | 6 }];
    try {
      return await raceAbort(this.#dns.resolve(host, port, attempt.trace), attempt.signal);
    } catch (err) {
      if (attempt.signal.aborted) throw attempt.signal.reason;
      throw new ClientConnectorDNSError({ host, port, ssl, osError: err });
    }
  }

  async #direct(key: PoolKey, attempt: ConnectAttempt): Promise<Socket> {
    const { signal, timeout } = attempt;
    const ssl = key.tls ? this.#sslSetting(key) : false;
    const addresses = await this.#addresses(key.hostname, key.port, ssl, attempt);
    let lastError: unknown;
    for (const address of addresses) {
      signal.throwIfAborted();
      // A resolver's answer decides the port, as in aiohttp (test setups map a name to a port).
      const target = { host: key.hostname, port: address.port || key.port, ssl };
      try {
        const socket = await openTcp(
          {
            ...target,
            address: address.host,
            family: address.family,
            localAddress: this.#local?.host,
            localPort: this.#local?.port,
          },
          signal,
          timeout,
        );
        if (!key.tls) return socket;
        const servername = key.servername ?? (isIP(key.hostname) === 0 ? key.hostname : undefined);
        return await secureSocket(
          socket,
          { ...target, servername, sessionKey: key.id },
          key.tls,
          signal,
          timeout,
          attempt.alpn,
        );
      } catch (err) {
        // Like aiohttp, a failure with one address (refused, timed out, bad certificate, pin
        // mismatch) moves on to the next; the last failure is what the caller sees (after an
        // abort: its reason, thrown by the next turn or the check below).
        lastError = err;
      }
    }
    signal.throwIfAborted();
    throw lastError;
  }

  protected override async closeResources(): Promise<void> {
    if (this.#ownsResolver) await this.#resolver.close();
  }

  #sslSetting(key: PoolKey): boolean | object {
    const tls = key.tls!;
    if (tls.id === "v") return true;
    if (tls.id === "n") return false;
    return tls.fingerprint && !tls.verify ? { fingerprint: tls.fingerprint.toString() } : tls.options;
  }
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
