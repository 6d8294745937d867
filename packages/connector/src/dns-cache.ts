import type { AbstractResolver, AddressFamily, ResolvedHost } from "./resolver.js";
import { type ConnectorTrace, publish } from "./trace.js";

interface Entry {
  addresses: ResolvedHost[];
  expires: number;
  next: number;
}

/** Options of {@link DnsCache}. */
export interface DnsCacheOptions {
  resolver: AbstractResolver;
  /** Keep answers; `false` resolves every time (concurrent lookups are still merged). */
  enabled: boolean;
  /** Time to live in ms; `null` keeps answers until cleared. */
  ttl: number | null;
  /** Most hosts kept; the least recently used is dropped. */
  maxSize: number;
  family: AddressFamily;
}

/**
 * The connector's DNS cache: answers kept for `ttl`, concurrent lookups of one host merged into
 * one, and the addresses of a host rotated on each use so connections spread over them.
 */
export class DnsCache {
  readonly #options: DnsCacheOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<ResolvedHost[]>>();
  readonly #owner: object;

  constructor(owner: object, options: DnsCacheOptions) {
    this.#owner = owner;
    this.#options = options;
  }

  /** The cached answers, `"host:port"` → addresses in their current rotation. */
  get hosts(): ReadonlyMap<string, readonly ResolvedHost[]> {
    const now = Date.now();
    const out = new Map<string, readonly ResolvedHost[]>();
    for (const [key, entry] of this.#entries) {
      if (entry.expires > now) out.set(key, Object.freeze([...entry.addresses]));
    }
    return out;
  }

  /** Forgets `host:port`'s answer, or every answer (the connector passes both or neither). */
  clear(host?: string, port?: number): void {
    if (host === undefined) {
      this.#entries.clear();
      return;
    }
    this.#entries.delete(`${host}:${port}`);
  }

  async resolve(host: string, port: number, trace: ConnectorTrace | undefined): Promise<ResolvedHost[]> {
    const key = `${host}:${port}`;
    if (this.#options.enabled) {
      const entry = this.#entries.get(key);
      if (entry && entry.expires > Date.now()) {
        trace?.onDnsCacheHit?.(host);
        publish("dnsCacheHit", () => ({ connector: this.#owner, host }));
        // Refresh its LRU position and hand out the next rotation.
        this.#entries.delete(key);
        this.#entries.set(key, entry);
        return rotate(entry);
      }
      this.#entries.delete(key); // an expired answer, if any
      trace?.onDnsCacheMiss?.(host);
      publish("dnsCacheMiss", () => ({ connector: this.#owner, host }));
    }
    let pending = this.#inflight.get(key);
    if (!pending) {
      trace?.onDnsResolveHostStart?.(host);
      publish("dnsResolveHostStart", () => ({ connector: this.#owner, host }));
      pending = this.#lookup(key, host, port);
      this.#inflight.set(key, pending);
      const done = () => {
        this.#inflight.delete(key);
      };
      pending.then(done, done);
      const addresses = await pending;
      trace?.onDnsResolveHostEnd?.(host);
      publish("dnsResolveHostEnd", () => ({ connector: this.#owner, host, addresses }));
      return this.#take(key, addresses);
    }
    return this.#take(key, await pending);
  }

  async #lookup(key: string, host: string, port: number): Promise<ResolvedHost[]> {
    const addresses = await this.#options.resolver.resolve(host, port, this.#options.family);
    if (!Array.isArray(addresses) || addresses.length === 0) {
      throw Object.assign(new Error(`DNS lookup of ${host} returned no addresses`), { code: "ENODATA" });
    }
    if (this.#options.enabled) {
      const ttl = this.#options.ttl;
      this.#entries.set(key, {
        addresses: [...addresses],
        expires: ttl === null ? Number.POSITIVE_INFINITY : Date.now() + ttl,
        next: 0,
      });
      while (this.#entries.size > this.#options.maxSize) {
        const oldest = this.#entries.keys().next().value;
        if (oldest === undefined) break;
        this.#entries.delete(oldest);
      }
    }
    return addresses;
  }

  #take(key: string, addresses: ResolvedHost[]): ResolvedHost[] {
    const entry = this.#options.enabled ? this.#entries.get(key) : undefined;
    return entry ? rotate(entry) : addresses;
  }
}

function rotate(entry: Entry): ResolvedHost[] {
  const { addresses } = entry;
  const start = entry.next % addresses.length;
  entry.next = start + 1;
  return [...addresses.slice(start), ...addresses.slice(0, start)];
}
