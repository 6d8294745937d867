import { isIP } from "node:net";
import {
  type AbstractCookieJar,
  type CookieRecord,
  type CookieRules,
  isSecureOrigin,
  selectCookies,
  storableCookie,
} from "@x/cookies";
import { ClientConnectionError, ClientError, InvalidArgumentError } from "@x/errors";
import { type createClient, ErrorReply } from "redis";

/** A connected node-redis client, as `createClient(...)` makes it. */
export type RedisClient = ReturnType<typeof createClient>;

/** Options of {@link RedisCookieJar}: the client, a key prefix, and the rules of `CookieJar`. */
export interface RedisCookieJarOptions extends CookieRules {
  /**
   * A connected client. Make it with `disableOfflineQueue: true` so that the jar fails at once
   * while Redis is away instead of queueing until it returns, and give it an `error` listener.
   * The jar never closes it.
   */
  client: RedisClient;
  /** Prefix of every key the jar writes. Default `"cookies:"`. */
  prefix?: string;
}

// One atomic write for every cookie a response sets or deletes. KEYS come in pairs (the domain's
// index set, the cookie's key); ARGV in fours (op, JSON, expiry in ms since the epoch or 0,
// "1" when the response came from an insecure origin).
const STORE = `
for i = 1, #KEYS, 2 do
  local index, key = KEYS[i], KEYS[i + 1]
  local n = (i - 1) * 2
  local op, value, at, insecure = ARGV[n + 1], ARGV[n + 2], tonumber(ARGV[n + 3]), ARGV[n + 4] == '1'
  local old = redis.call('GET', key)
  old = old and cjson.decode(old)
  if insecure and old and old.secure then
    -- an insecure origin may neither overwrite nor delete a Secure cookie
  elseif op == 'del' then
    redis.call('DEL', key)
    redis.call('SREM', index, key)
  else
    if old and old.created then
      -- a replaced cookie keeps its creation time, and with it its place in the Cookie header
      local new = cjson.decode(value)
      new.created = old.created
      value = cjson.encode(new)
    end
    if at > 0 then redis.call('SET', key, value, 'PXAT', at) else redis.call('SET', key, value) end
    local added = redis.call('SADD', index, key) == 1
    local indexAt = redis.call('PEXPIRETIME', index)
    if at == 0 then
      redis.call('PERSIST', index)
    elseif (added and redis.call('SCARD', index) == 1) or (indexAt > 0 and indexAt < at) then
      -- the index lives as long as its longest-lived cookie (for ever once it held a session cookie)
      redis.call('PEXPIREAT', index, at)
    end
  end
end
return 1
`;

interface StoredCookie extends Omit<CookieRecord, "expires"> {
  readonly expires: number | null;
  /**
   * When it was first stored ({@link creationStamp}): a string that sorts in time order (a string,
   * so that the Lua script's JSON re-encoding keeps every digit).
   * Cookies of equal path go into the Cookie header oldest first (RFC 6265 §5.4), which the order
   * of a Redis set would not give.
   */
  readonly created?: string;
}

/**
 * A cookie jar on Redis: every process (or machine) whose jar uses the same Redis and prefix
 * shares one set of cookies — one logs in, all are logged in; a logout or an expiry is seen by
 * all. Each cookie is a key (`<prefix><domain><path>;<name>`, a JSON record) that expires by
 * Redis's own TTL (`PXAT`) when the cookie has an expiry; each domain has a set
 * (`<prefix>index:<domain>`) of its cookies' keys. Writes are one Lua script, so a response's
 * cookies are stored entirely or not at all. The rules (domains, paths, Secure, public suffixes,
 * prefixes, IP hosts) are `@x/cookies`'s own `storableCookie` and `selectCookies`.
 *
 * @throws {ClientConnectionError} from every method when Redis cannot be reached or the
 * connection drops, with the node-redis error as `cause`; {ClientError} when Redis answers a
 * command with an error.
 */
export class RedisCookieJar implements AbstractCookieJar {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #rules: CookieRules;

  constructor(options: RedisCookieJarOptions) {
    if (typeof options?.client?.eval !== "function")
      throw new InvalidArgumentError("RedisCookieJar needs a node-redis client as `client`");
    const { client, prefix = "cookies:", ...rules } = options;
    if (typeof prefix !== "string" || prefix === "")
      throw new InvalidArgumentError("prefix must be a non-empty string");
    this.#client = client;
    this.#prefix = prefix;
    this.#rules = rules;
    // Checks treatAsSecureOrigin now rather than at the first response.
    isSecureOrigin("https://example.com/", rules);
  }

  get quoteCookie(): boolean {
    return this.#rules.quoteCookie ?? true;
  }

  async updateCookiesFromHeaders(headers: readonly string[], responseUrl?: URL): Promise<void> {
    const keys: string[] = [];
    const args: string[] = [];
    const insecure = responseUrl !== undefined && !isSecureOrigin(responseUrl, this.#rules) ? "1" : "0";
    for (const header of headers) {
      const c = storableCookie(header, responseUrl, this.#rules);
      if (!c) continue;
      const at = c.expires?.getTime() ?? 0;
      const gone = c.expires !== null && at <= Date.now();
      const stored: StoredCookie = {
        ...c,
        expires: c.expires ? at : null,
        created: creationStamp(),
      };
      keys.push(this.#indexKey(c.domain), this.#cookieKey(c));
      args.push(gone ? "del" : "set", JSON.stringify(stored), String(gone ? 0 : at), insecure);
    }
    if (keys.length === 0) return;
    await this.#redis("storing cookies", () => this.#client.eval(STORE, { keys, arguments: args }));
  }

  async filterCookies(requestUrl: URL): Promise<Map<string, CookieRecord>> {
    const host = requestUrl.hostname.replace(/^\[|\]$/g, "").toLowerCase();
    const indexes = ["", ...domainsOf(host)].map((d) => this.#indexKey(d));
    const members = await this.#redis("reading cookies", () =>
      Promise.all(indexes.map((index) => this.#client.sMembers(index))),
    );
    const records = await this.#load(members.flat(), indexes, members);
    return selectCookies(records, requestUrl, this.#rules);
  }

  /** Removes every cookie of this jar's prefix, or those `predicate` selects. */
  async clear(predicate?: (cookie: CookieRecord) => boolean): Promise<void> {
    if (!predicate) {
      await this.#redis("clearing cookies", async () => {
        for await (const batch of this.#scan(`${globEscape(this.#prefix)}*`)) {
          if (batch.length > 0) await this.#client.unlink(batch);
        }
      });
      return;
    }
    const doomed: CookieRecord[] = [];
    for await (const c of this) if (predicate(c)) doomed.push(c);
    if (doomed.length === 0) return;
    await this.#redis("clearing cookies", async () => {
      const multi = this.#client.multi();
      for (const c of doomed)
        multi.unlink(this.#cookieKey(c)).sRem(this.#indexKey(c.domain), this.#cookieKey(c));
      await multi.exec();
    });
  }

  /** Removes the cookies of `domain` and its subdomains. */
  async clearDomain(domain: string): Promise<void> {
    const target = domain.toLowerCase().replace(/^\./, "").replace(/\.$/, "");
    if (target === "") return;
    const indexPrefix = this.#indexKey("");
    await this.#redis("clearing a domain", async () => {
      for await (const batch of this.#scan(`${globEscape(indexPrefix)}*`)) {
        for (const index of batch) {
          const d = index.slice(indexPrefix.length);
          if (d !== target && !d.endsWith(`.${target}`)) continue;
          const keys = await this.#client.sMembers(index);
          await this.#client
            .multi()
            .unlink([...keys, index])
            .exec();
        }
      }
    });
  }

  /** Every stored cookie (the keys of this jar's prefix, read in batches). */
  async *[Symbol.asyncIterator](): AsyncIterator<CookieRecord> {
    const indexPrefix = this.#indexKey("");
    const batches = this.#scan(`${globEscape(this.#prefix)}*`);
    for (;;) {
      const next = await this.#redis("listing cookies", () => batches.next());
      if (next.done) return;
      const keys = next.value.filter((k) => !k.startsWith(indexPrefix));
      yield* await this.#load(keys);
    }
  }

  // ── internals ───────────────────────────────────────────────────────

  #cookieKey(c: Pick<CookieRecord, "domain" | "path" | "name">): string {
    // A domain holds no "/", a path starts with "/" and holds no ";": the key reads back unambiguously.
    return `${this.#prefix}${c.domain}${c.path};${c.name}`;
  }

  #indexKey(domain: string): string {
    return `${this.#prefix}index:${domain}`;
  }

  async *#scan(match: string): AsyncGenerator<string[]> {
    yield* this.#client.scanIterator({ MATCH: match, COUNT: 500 });
  }

  /**
   * The records stored under `keys`. Keys that expired since their index listed them are dropped
   * from the index on the way (when the indexes they came from are given).
   */
  async #load(keys: string[], indexes?: string[], members?: string[][]): Promise<CookieRecord[]> {
    if (keys.length === 0) return [];
    const values = await this.#redis("reading cookies", () => this.#client.mGet(keys));
    const gone = new Set(keys.filter((_, i) => values[i] === null));
    if (gone.size > 0 && indexes && members) {
      await this.#redis("tidying an index", async () => {
        const multi = this.#client.multi();
        indexes.forEach((index, i) => {
          const stale = (members[i] ?? []).filter((k) => gone.has(k));
          if (stale.length > 0) multi.sRem(index, stale);
        });
        await multi.exec();
      });
    }
    const stored: StoredCookie[] = [];
    for (const value of values) if (value !== null) stored.push(JSON.parse(value) as StoredCookie);
    // Oldest first: selectCookies's sort by path and domain is stable, so equal ones keep this order.
    stored.sort((a, b) => ((a.created ?? "") < (b.created ?? "") ? -1 : a.created === b.created ? 0 : 1));
    return stored.map(({ created: _, ...c }) => ({
      ...c,
      expires: c.expires === null ? null : new Date(c.expires),
    }));
  }

  /** Runs a Redis operation, turning its failures into this toolkit's errors. */
  async #redis<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (err instanceof ErrorReply) {
        throw new ClientError(`cookie store: Redis refused ${what}: ${why}`, { cause: err });
      }
      throw new ClientConnectionError(`cookie store unavailable: Redis failed while ${what}: ${why}`, {
        cause: err,
      });
    }
  }
}

let lastMs = 0;
let inMs = 0;

/**
 * A creation time that sorts as text and grows strictly within this process, even for cookies
 * stored in the same millisecond or a clock that steps back: ms since the epoch, then a counter.
 */
function creationStamp(): string {
  const ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    inMs = 0;
  }
  return `${String(lastMs).padStart(15, "0")}:${String(inMs++).padStart(8, "0")}`;
}

/** `host` and its parent domains (`a.b.example.com`, `b.example.com`, `example.com`, `com`); an IP alone. */
function domainsOf(host: string): string[] {
  if (isIP(host) !== 0) return [host];
  const labels = host.split(".");
  return labels.map((_, i) => labels.slice(i).join("."));
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}
