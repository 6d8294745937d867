import { lookup } from "node:dns";
import { Resolver as DnsResolver } from "node:dns/promises";

/** An IP family filter: 0 for any, 4 or 6. */
export type AddressFamily = 0 | 4 | 6;

/** One address a host name resolved to (aiohttp's `ResolveResult`). */
export interface ResolvedHost {
  /** The name that was resolved. */
  readonly hostname: string;
  /** The IP address to connect to. */
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/**
 * The resolver interface a connector uses (aiohttp's `AbstractResolver`). Implement it to plug in
 * service discovery, a fixed host map, or a DNS-over-HTTPS client.
 */
export interface AbstractResolver {
  /**
   * Resolves `host` to the addresses to try, in order.
   * @throws any error; the connector reports it as `ClientConnectorDNSError`.
   */
  resolve(host: string, port: number, family: AddressFamily): Promise<ResolvedHost[]>;
  /** Releases resources; called when the connector that owns the resolver closes. */
  close(): Promise<void>;
}

/**
 * Resolves with `dns.lookup()` — the operating system's resolver (hosts file, nsswitch) run on
 * libuv's thread pool. aiohttp's `ThreadedResolver`; the default.
 */
export class ThreadedResolver implements AbstractResolver {
  resolve(host: string, port: number, family: AddressFamily = 0): Promise<ResolvedHost[]> {
    return new Promise((resolve, reject) => {
      lookup(host, { all: true, family, hints: 0 }, (err, addresses) => {
        if (err) {
          reject(err);
          return;
        }
        resolve(
          addresses.map((a) => ({ hostname: host, host: a.address, port, family: a.family === 6 ? 6 : 4 })),
        );
      });
    });
  }

  async close(): Promise<void> {}
}

/** Options of {@link AsyncResolver}. */
export interface AsyncResolverOptions {
  /** DNS servers to ask, as `"ip"` or `"ip:port"` strings; default: the system's. */
  servers?: string[];
  /** Per-query timeout in ms; default: c-ares' own (5000). */
  timeout?: number;
  /** Attempts per server; default 4. */
  tries?: number;
}

/**
 * Resolves with `dns.Resolver` (c-ares): real DNS queries, no thread pool, no hosts file.
 * aiohttp's `AsyncResolver`. With family 0, A and AAAA are asked together and IPv4 comes first.
 */
export class AsyncResolver implements AbstractResolver {
  readonly #resolver: DnsResolver;

  constructor(options: AsyncResolverOptions = {}) {
    // dns.Resolver takes an undefined timeout or tries as not given.
    this.#resolver = new DnsResolver({ timeout: options.timeout, tries: options.tries });
    if (options.servers) this.#resolver.setServers(options.servers);
  }

  async resolve(host: string, port: number, family: AddressFamily = 0): Promise<ResolvedHost[]> {
    const v4 = family === 6 ? Promise.resolve([]) : this.#resolver.resolve4(host);
    const v6 = family === 4 ? Promise.resolve([]) : this.#resolver.resolve6(host);
    const [a, aaaa] = await Promise.allSettled([v4, v6]);
    const out: ResolvedHost[] = [];
    if (a.status === "fulfilled")
      for (const ip of a.value) out.push({ hostname: host, host: ip, port, family: 4 });
    if (aaaa.status === "fulfilled")
      for (const ip of aaaa.value) out.push({ hostname: host, host: ip, port, family: 6 });
    if (out.length === 0) {
      const failure =
        a.status === "rejected" ? a.reason : aaaa.status === "rejected" ? aaaa.reason : undefined;
      throw (
        failure ??
        Object.assign(new Error(`DNS lookup of ${host} returned no addresses`), { code: "ENODATA" })
      );
    }
    return out;
  }

  async close(): Promise<void> {
    this.#resolver.cancel();
  }
}

/** aiohttp's `DefaultResolver`: the {@link ThreadedResolver}. */
export const DefaultResolver = ThreadedResolver;
