import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { InvalidArgumentError } from "@x/errors";
import {
  Cookie,
  domainMatch,
  MemoryCookieStore,
  pathMatch,
  type SerializedCookieJar,
  CookieJar as ToughCookieJar,
} from "tough-cookie";
import type { AbstractCookieJar, CookieInput, CookieRecord } from "./abstract-cookie-jar.js";
import { toSetCookieHeaders } from "./cookie-input.js";
import {
  fixExpiry,
  hostOf,
  isExpired,
  isPublicSuffix,
  isSecureUrl,
  parseHeader,
  type SecureOrigins,
  secureOrigins,
  timeOf,
  toRecord,
  toUrl,
} from "./cookie-rules.js";

/** Options of {@link CookieJar}. */
export interface CookieJarOptions {
  /** Store cookies from, and send them to, IP-address hosts. Default `false` (aiohttp's `unsafe`). */
  unsafe?: boolean;
  /** Quote values with characters outside the cookie-octet set, as Python does. Default `true`. */
  quoteCookie?: boolean;
  /**
   * Origins treated as secure: Secure cookies are stored from and sent to them. One origin
   * (`"http://localhost:8080"` or a `URL`) or a list of them. Default none.
   */
  treatAsSecureOrigin?: SecureOrigins;
  /** Most cookies kept per domain; the least recently used go first. Default 50. */
  maxCookiesPerDomain?: number;
  /** Most cookies kept in all. Default 3000. */
  maxCookies?: number;
  /** Largest cookie accepted, name plus value, in characters. Default 4096. */
  maxCookieSize?: number;
  /** Longest `Cookie` header `filterCookies` fills, in characters; cookies past it are not sent. Default 8192. */
  maxHeaderSize?: number;
}

const FORMAT = "@x/cookies";
const VERSION = 1;

function checkLimit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidArgumentError(`${name} must be a positive integer`);
  return value;
}

/**
 * An RFC 6265 cookie store with aiohttp's rules (aiohttp's `CookieJar`), on tough-cookie and the
 * public suffix list:
 * - cookies from and to IP-address hosts only with `unsafe: true`;
 * - cookies given without a response URL are *shared*: sent to every host;
 * - host-only versus domain cookies, default paths, Max-Age over Expires, expired cookies dropped;
 * - Secure cookies only over https/wss or `treatAsSecureOrigin`, and an insecure response cannot
 *   overwrite one; `__Host-` and `__Secure-` prefixes enforced;
 * - public suffixes (any case, trailing dot included) refused as cookie domains;
 * - caps on cookies per domain, in total, per cookie and on the `Cookie` header.
 *
 * @example
 * const jar = new CookieJar();
 * jar.updateCookies(["sid=abc; Path=/; HttpOnly"], "https://example.com/login");
 * jar.filterCookies("https://example.com/account").get("sid")?.value; // "abc"
 */
export class CookieJar implements AbstractCookieJar {
  #tough: ToughCookieJar;
  /** False once a cookie may have been stored in #tough; lets filterCookies skip an empty store. */
  #toughEmpty = true;
  #shared = new Map<string, Cookie>();
  readonly #unsafe: boolean;
  readonly #quote: boolean;
  readonly #secureOrigins: ReadonlySet<string>;
  readonly #maxPerDomain: number;
  readonly #maxCookies: number;
  readonly #maxCookieSize: number;
  readonly #maxHeaderSize: number;

  constructor(options: CookieJarOptions = {}) {
    this.#unsafe = options.unsafe ?? false;
    this.#quote = options.quoteCookie ?? true;
    this.#secureOrigins = secureOrigins(options.treatAsSecureOrigin);
    this.#maxPerDomain = checkLimit("maxCookiesPerDomain", options.maxCookiesPerDomain, 50);
    this.#maxCookies = checkLimit("maxCookies", options.maxCookies, 3000);
    this.#maxCookieSize = checkLimit("maxCookieSize", options.maxCookieSize, 4096);
    this.#maxHeaderSize = checkLimit("maxHeaderSize", options.maxHeaderSize, 8192);
    this.#tough = this.#newTough();
  }

  /** True when IP-address hosts may store and receive cookies. */
  get unsafe(): boolean {
    return this.#unsafe;
  }

  /** True when values are quoted for the `Cookie` header as Python does. */
  get quoteCookie(): boolean {
    return this.#quote;
  }

  get size(): number {
    this.#expireShared();
    return this.#shared.size + this.#all().length;
  }

  *[Symbol.iterator](): Iterator<CookieRecord> {
    this.#expireShared();
    for (const c of this.#shared.values()) yield toRecord(c, true, this.#quote);
    for (const c of this.#all()) yield toRecord(c, false, this.#quote);
  }

  /**
   * Stores the cookies that `Set-Cookie` header values received from `responseUrl` set or delete;
   * without `responseUrl`, shared cookies (sent to every host). Values that are not cookies or
   * break the rules are skipped.
   * @throws {InvalidArgumentError} if `headers` is not a list of strings or `responseUrl` not an absolute URL.
   */
  updateCookiesFromHeaders(headers: readonly string[], responseUrl?: URL | string): void {
    if (!Array.isArray(headers) || headers.some((h) => typeof h !== "string")) {
      throw new InvalidArgumentError("headers must be an array of Set-Cookie strings");
    }
    const url = responseUrl === undefined ? undefined : toUrl(responseUrl, "responseUrl");
    if (url && !this.#unsafe && isIP(hostOf(url)) !== 0) return;
    const now = Date.now();
    for (const header of headers) {
      const cookie = parseHeader(header);
      if (!cookie || cookie.key.length + cookie.value.length > this.#maxCookieSize) continue;
      fixExpiry(cookie, now);
      if (url) this.#setFrom(cookie, url);
      else this.#setShared(cookie);
    }
  }

  /**
   * Stores cookies given in any shape `CookieInput` allows — a record, `[name, value]` pairs,
   * `Set-Cookie` values — as received from `responseUrl`, or shared without it (aiohttp's
   * `update_cookies`). Records and pairs are all checked before any is stored.
   * @throws {InvalidArgumentError} for an invalid record or pair (see `toSetCookieHeaders`) or URL.
   */
  updateCookies(cookies: CookieInput, responseUrl?: URL | string): void {
    this.updateCookiesFromHeaders(toSetCookieHeaders(cookies), responseUrl);
  }

  filterCookies(requestUrl: URL | string): Map<string, CookieRecord> {
    const url = toUrl(requestUrl, "requestUrl");
    const out = new Map<string, CookieRecord>();
    let headerSize = 0;
    const add = (cookie: Cookie, shared: boolean) => {
      if (out.has(cookie.key)) return;
      const record = toRecord(cookie, shared, this.#quote);
      const size = record.name.length + record.value.length + (out.size > 0 ? 3 : 1);
      if (headerSize + size > this.#maxHeaderSize) return;
      headerSize += size;
      out.set(record.name, record);
    };
    if (!this.#toughEmpty && (this.#unsafe || isIP(hostOf(url)) === 0)) {
      const secure = this.#isSecure(url);
      const found = this.#tough.getCookiesSync(this.#toughUrl(url), { http: true, sort: true });
      // Of two cookies of a name with paths of one length, the more specific domain wins (aiohttp
      // lets it overwrite the other); tough-cookie's order keeps the older first.
      found.sort((a, b) => b.path!.length - a.path!.length || b.domain!.length - a.domain!.length);
      // tough-cookie counts loopback http as secure (RFC 6265bis); aiohttp does not, nor do we.
      for (const c of found) if (secure || !c.secure) add(c, false);
    }
    // Shared cookies last: a cookie of the request's domain wins over a shared one of its name, as
    // in aiohttp, where the domain's cookies overwrite the shared ones.
    this.#expireShared();
    for (const c of this.#shared.values()) add(c, true);
    return out;
  }

  clear(predicate?: (cookie: CookieRecord) => boolean): void {
    this.#expireShared();
    if (!predicate) {
      this.#shared.clear();
      this.#tough.removeAllCookiesSync();
      this.#toughEmpty = true;
      return;
    }
    for (const [name, c] of this.#shared)
      if (predicate(toRecord(c, true, this.#quote))) this.#shared.delete(name);
    for (const c of this.#all()) if (predicate(toRecord(c, false, this.#quote))) this.#remove(c);
  }

  clearDomain(domain: string): void {
    const target = domain.toLowerCase().replace(/^\./, "").replace(/\.$/, "");
    this.clear((c) => c.domain !== "" && (c.domain === target || c.domain.endsWith(`.${target}`)));
  }

  /**
   * Writes every cookie, attributes and host-only flags included, to `path` as JSON — through a
   * temporary file and a rename, so a crash never leaves half a file.
   */
  async save(path: string): Promise<void> {
    this.#expireShared();
    this.#all();
    const data = JSON.stringify({
      format: FORMAT,
      version: VERSION,
      jar: this.#tough.serializeSync(),
      shared: [...this.#shared.values()].map((c) => c.toJSON()),
    });
    const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await writeFile(tmp, data, { mode: 0o600 });
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Replaces the jar's cookies with those saved at `path` by {@link CookieJar.save}.
   * @throws {InvalidArgumentError} if the file is not valid JSON or not a saved `@x/cookies` jar;
   * the jar is then left as it was.
   */
  async load(path: string): Promise<void> {
    const text = await readFile(path, "utf8");
    const fail = (why: string, cause?: unknown) =>
      new InvalidArgumentError(`${path} is not a saved @x/cookies jar: ${why}`, { cause });
    let data: { format?: unknown; version?: unknown; jar?: unknown; shared?: unknown };
    try {
      data = JSON.parse(text) as typeof data;
    } catch (err) {
      throw fail("not valid JSON", err);
    }
    if (typeof data !== "object" || data === null || data.format !== FORMAT) throw fail("unknown format");
    if (data.version !== VERSION) throw fail(`unsupported version ${String(data.version)}`);
    const serialized = data.jar as SerializedCookieJar | undefined;
    if (typeof serialized !== "object" || serialized === null || !Array.isArray(serialized.cookies)) {
      throw fail("no cookie list");
    }
    for (const c of serialized.cookies as unknown[]) {
      const cookie = c as Record<string, unknown>;
      if (
        typeof cookie !== "object" ||
        cookie === null ||
        typeof cookie.key !== "string" ||
        typeof cookie.domain !== "string"
      ) {
        throw fail("a cookie entry is malformed");
      }
    }
    if (!Array.isArray(data.shared)) throw fail("no shared cookie list");
    const shared = new Map<string, Cookie>();
    for (const entry of data.shared as unknown[]) {
      // tough-cookie makes a nameless cookie of anything: check the entry itself.
      const named =
        typeof entry === "object" && entry !== null && typeof (entry as { key?: unknown }).key === "string";
      if (!named) throw fail("a shared cookie entry is malformed");
      const cookie = Cookie.fromJSON(entry)!;
      fixExpiry(cookie, timeOf(cookie.creation) ?? Date.now());
      shared.set(cookie.key, cookie);
    }
    let tough: ToughCookieJar;
    try {
      tough = ToughCookieJar.deserializeSync(
        { ...serialized, rejectPublicSuffixes: true, prefixSecurity: "silent" },
        new MemoryCookieStore(),
      );
    } catch (err) {
      throw fail("the cookie list does not load", err);
    }
    this.#tough = tough;
    this.#toughEmpty = serialized.cookies.length === 0;
    this.#shared = shared;
    // Files written before Max-Age was fixed at store time still count it from the last access.
    for (const c of this.#all(false))
      fixExpiry(c, timeOf(c.lastAccessed) ?? timeOf(c.creation) ?? Date.now());
    this.#expireShared();
    this.#enforceTotal();
  }

  // ── internals ───────────────────────────────────────────────────────

  #newTough(): ToughCookieJar {
    return new ToughCookieJar(new MemoryCookieStore(), {
      rejectPublicSuffixes: true,
      prefixSecurity: "silent",
      allowSpecialUseDomain: true,
    });
  }

  /**
   * The URL tough-cookie sees: it decides "secure" from the scheme alone, so origins treated as
   * secure are presented as https (scheme and port play no part in cookie matching otherwise).
   */
  #toughUrl(url: URL): string {
    return `${this.#isSecure(url) ? "https" : "http"}://${url.host}${url.pathname}`;
  }

  #isSecure(url: URL): boolean {
    return isSecureUrl(url, this.#secureOrigins);
  }

  /** Every stored (not shared) cookie; expired ones are removed on the way unless `expire` is false. */
  #all(expire = true): Cookie[] {
    let all: Cookie[] = [];
    void this.#tough.store.getAllCookies((err, cookies) => {
      if (!err && cookies) all = cookies;
    });
    if (!expire) return all;
    const now = Date.now();
    const live: Cookie[] = [];
    for (const c of all) {
      if (isExpired(c, now)) this.#remove(c);
      else live.push(c);
    }
    return live;
  }

  #remove(c: Cookie): void {
    void this.#tough.store.removeCookie(c.domain!, c.path!, c.key, () => {});
  }

  #setShared(cookie: Cookie): void {
    if (cookie.domain) {
      // A cookie with a Domain but no response URL belongs to that domain.
      if (isPublicSuffix(cookie.domain)) return;
      const domain = cookie.domain.replace(/\.$/, "");
      const host = isIP(domain) === 6 ? `[${domain}]` : domain;
      this.#setFrom(cookie, new URL(`https://${host}${cookie.path?.startsWith("/") ? cookie.path : "/"}`));
      return;
    }
    cookie.path = "/";
    if (isExpired(cookie, Date.now())) {
      this.#shared.delete(cookie.key);
      return;
    }
    this.#shared.set(cookie.key, cookie);
  }

  #setFrom(cookie: Cookie, url: URL): void {
    if (cookie.domain?.endsWith(".")) {
      // aiohttp makes a Domain with a trailing dot host-only — unless it names a public suffix,
      // which is refused outright.
      if (isPublicSuffix(cookie.domain)) return;
      cookie.domain = null;
    }
    if (!this.#isSecure(url) && (cookie.secure || this.#hasSecureTwin(cookie, hostOf(url), url.pathname)))
      return;
    const stored = this.#tough.setCookieSync(cookie, this.#toughUrl(url), { http: true, ignoreError: true });
    if (stored) this.#toughEmpty = false;
    if (stored?.domain) this.#enforceDomain(stored.domain);
    this.#enforceTotal();
  }

  /** RFC 6265bis 5.7: an insecure response may not shadow a Secure cookie of the same name. */
  #hasSecureTwin(cookie: Cookie, host: string, requestPath: string): boolean {
    const domain = cookie.domain ?? host;
    const path = cookie.path ?? requestPath;
    return this.#all().some(
      (c) =>
        c.key === cookie.key &&
        c.secure &&
        c.domain !== null &&
        (domainMatch(c.domain, domain) || domainMatch(domain, c.domain)) &&
        pathMatch(path, c.path ?? "/"),
    );
  }

  #enforceDomain(domain: string): void {
    const mine = this.#all().filter((c) => c.domain === domain);
    if (mine.length <= this.#maxPerDomain) return;
    this.#evict(mine, mine.length - this.#maxPerDomain);
  }

  #enforceTotal(): void {
    const all = this.#all();
    if (all.length <= this.#maxCookies) return;
    this.#evict(all, all.length - this.#maxCookies);
  }

  /**
   * Drops the `count` least recently used of `cookies`. Expired cookies are gone already: every
   * caller takes its list from #all().
   */
  #evict(cookies: Cookie[], count: number): void {
    const used = (c: Cookie) =>
      (c.lastAccessed instanceof Date ? c.lastAccessed.getTime() : 0) ||
      (c.creation instanceof Date ? c.creation.getTime() : 0);
    const order = cookies.sort((a, b) => used(a) - used(b));
    for (const c of order.slice(0, count)) this.#remove(c);
  }

  #expireShared(): void {
    const now = Date.now();
    for (const [name, c] of this.#shared) if (isExpired(c, now)) this.#shared.delete(name);
  }
}
