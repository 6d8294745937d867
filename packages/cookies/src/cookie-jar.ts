import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { InvalidArgumentError } from "@x/errors";
import {
  Cookie,
  domainMatch,
  getPublicSuffix,
  MemoryCookieStore,
  pathMatch,
  type SerializedCookieJar,
  CookieJar as ToughCookieJar,
} from "tough-cookie";
import type {
  AbstractCookieJar,
  CookieAttributes,
  CookieInput,
  CookieRecord,
} from "./abstract-cookie-jar.js";
import { quoteCookieValue } from "./quote.js";

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
  treatAsSecureOrigin?: string | URL | Iterable<string | URL>;
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
/** Characters a cookie name may not contain (RFC 6265 token). */
const BAD_NAME = /[\x00-\x20\x7f()<>@,;:\\"/[\]?={}\u0100-\uffff]/;
/** Characters a cookie value may not contain: controls, `;`, and anything a header cannot carry. */
const BAD_VALUE = /[\x00-\x1f\x7f;\u0100-\uffff]/;
/** A parsed Set-Cookie whose name or value holds these could not be sent back, so it is skipped. */
const UNSENDABLE = /[\x00-\x08\x0a-\x1f\x7f\u0100-\uffff]/;

/** Parses one Set-Cookie value, or nothing when it is not a cookie or could not be sent back. */
function parseHeader(header: string): Cookie | undefined {
  const c = Cookie.parse(header);
  if (!c || UNSENDABLE.test(c.key) || UNSENDABLE.test(c.value)) return undefined;
  return c;
}

function toUrl(value: URL | string, what: string): URL {
  if (value instanceof URL) return value;
  try {
    return new URL(value);
  } catch (err) {
    throw new InvalidArgumentError(`${what} must be an absolute URL, got ${JSON.stringify(value)}`, {
      cause: err,
    });
  }
}

function hostOf(url: URL): string {
  const host = url.hostname;
  return host.startsWith("[") ? host.slice(1, -1) : host;
}

/** The origins `treatAsSecureOrigin` names: one origin (a string or a URL) or an iterable of them. */
function secureOrigins(given: CookieJarOptions["treatAsSecureOrigin"]): Set<string> {
  const list = typeof given === "string" || given instanceof URL ? [given] : given;
  if (list === undefined) return new Set();
  if (typeof list !== "object" || list === null || !(Symbol.iterator in list)) {
    throw new InvalidArgumentError(
      `treatAsSecureOrigin must be an origin (a string or a URL) or a list of them, got ${typeof list}`,
    );
  }
  const origins = new Set<string>();
  for (const origin of list as Iterable<unknown>) {
    if (typeof origin !== "string" && !(origin instanceof URL)) {
      throw new InvalidArgumentError(
        `treatAsSecureOrigin entries must be strings or URLs, got ${typeof origin}`,
      );
    }
    origins.add(toUrl(origin, "treatAsSecureOrigin").origin);
  }
  return origins;
}

/**
 * True when `domain` (any case, leading or trailing dot) is a public suffix such as `com` or
 * `co.uk`, or empty: no cookie may claim it. IP addresses are not suffixes.
 */
function isPublicSuffix(domain: string): boolean {
  const bare = domain.toLowerCase().replace(/^\./, "").replace(/\.$/, "");
  if (bare === "") return true;
  if (isIP(bare) !== 0) return false;
  // tough-cookie 6 answers undefined (not null) for a suffix, and throws for special-use names
  // such as localhost unless told they are allowed.
  return getPublicSuffix(bare, { allowSpecialUseDomain: true, ignoreError: true }) == null;
}

/**
 * Fixes a parsed cookie's expiry in time: `Max-Age` becomes an absolute `Expires` counted from
 * `now` (RFC 6265 §5.3 step 3). tough-cookie counts Max-Age from the last access instead, so a
 * cookie sent often would never expire, and one never read through it (a shared cookie) never.
 */
function fixExpiry(cookie: Cookie, now: number): void {
  if (cookie.maxAge === null || cookie.maxAge === undefined) return;
  const maxAge = cookie.maxAge;
  if (maxAge === "Infinity") cookie.expires = "Infinity";
  else if (maxAge === "-Infinity" || maxAge <= 0) cookie.expires = new Date(0);
  else cookie.expires = new Date(now + maxAge * 1000);
  cookie.maxAge = null;
}

function timeOf(value: unknown): number | undefined {
  return value instanceof Date ? value.getTime() : undefined;
}

/** True when the cookie's expiry has passed. */
function isExpired(cookie: Cookie, now: number): boolean {
  return (cookie.expiryTime() ?? Number.POSITIVE_INFINITY) <= now;
}

function checkLimit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidArgumentError(`${name} must be a positive integer`);
  return value;
}

function sameSiteOf(value: unknown): CookieRecord["sameSite"] {
  const v = typeof value === "string" ? value.toLowerCase() : undefined;
  return v === "strict" || v === "lax" || v === "none" ? v : undefined;
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
    for (const c of this.#shared.values()) yield this.#record(c, true);
    for (const c of this.#all()) yield this.#record(c, false);
  }

  updateCookies(cookies: CookieInput, responseUrl?: URL | string): void {
    const url = responseUrl === undefined ? undefined : toUrl(responseUrl, "responseUrl");
    if (url && !this.#unsafe && isIP(hostOf(url)) !== 0) return;
    const now = Date.now();
    for (const cookie of this.#parse(cookies)) {
      if (cookie.key.length + cookie.value.length > this.#maxCookieSize) continue;
      fixExpiry(cookie, now);
      if (url) this.#setFrom(cookie, url);
      else this.#setShared(cookie);
    }
  }

  filterCookies(requestUrl: URL | string): Map<string, CookieRecord> {
    const url = toUrl(requestUrl, "requestUrl");
    const out = new Map<string, CookieRecord>();
    let headerSize = 0;
    const add = (cookie: Cookie, shared: boolean) => {
      if (out.has(cookie.key)) return;
      const record = this.#record(cookie, shared);
      const size = record.name.length + record.value.length + (out.size > 0 ? 3 : 1);
      if (headerSize + size > this.#maxHeaderSize) return;
      headerSize += size;
      out.set(record.name, record);
    };
    if (this.#shared.size > 0) {
      this.#expireShared();
      for (const c of this.#shared.values()) add(c, true);
    }
    if (this.#toughEmpty || (!this.#unsafe && isIP(hostOf(url)) !== 0)) return out;
    const secure = this.#isSecure(url);
    const found = this.#tough.getCookiesSync(this.#toughUrl(url), { http: true, sort: true });
    // tough-cookie counts loopback http as secure (RFC 6265bis); aiohttp does not, nor do we.
    for (const c of found) if (secure || !c.secure) add(c, false);
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
    for (const [name, c] of this.#shared) if (predicate(this.#record(c, true))) this.#shared.delete(name);
    for (const c of this.#all()) if (predicate(this.#record(c, false))) this.#remove(c);
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
      const cookie = typeof entry === "object" && entry !== null ? Cookie.fromJSON(entry) : undefined;
      if (!cookie || typeof cookie.key !== "string") throw fail("a shared cookie entry is malformed");
      fixExpiry(cookie, timeOf(cookie.creation) ?? Date.now());
      shared.set(cookie.key, cookie);
    }
    let tough: ToughCookieJar;
    try {
      tough = ToughCookieJar.deserializeSync(
        { ...serialized, rejectPublicSuffixes: true, enableLooseMode: false, prefixSecurity: "silent" },
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
      looseMode: false,
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
    return url.protocol === "https:" || url.protocol === "wss:" || this.#secureOrigins.has(url.origin);
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
    if (c.domain && c.path) void this.#tough.store.removeCookie(c.domain, c.path, c.key, () => {});
  }

  #record(c: Cookie, shared: boolean): CookieRecord {
    const expires = c.isPersistent() ? c.expiryDate() : undefined;
    return {
      name: c.key,
      value: this.#quote ? quoteCookieValue(c.value) : c.value,
      domain: shared ? "" : (c.domain ?? ""),
      path: c.path ?? "/",
      expires: expires && Number.isFinite(expires.getTime()) ? expires : null,
      secure: c.secure,
      httpOnly: c.httpOnly,
      sameSite: sameSiteOf(c.sameSite),
      hostOnly: shared ? false : (c.hostOnly ?? false),
    };
  }

  /** Turns any accepted input into cookies; bad Set-Cookie headers are skipped, bad records throw. */
  *#parse(input: CookieInput): Generator<Cookie> {
    if (typeof input === "string") {
      const c = parseHeader(input);
      if (c) yield c;
      return;
    }
    const entries: Iterable<unknown> =
      Symbol.iterator in (input as object)
        ? (input as Iterable<unknown>)
        : Object.entries(input as Record<string, string | CookieAttributes>);
    for (const entry of entries) {
      if (typeof entry === "string") {
        const c = parseHeader(entry);
        if (c) yield c;
        continue;
      }
      if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string") {
        throw new InvalidArgumentError("cookies must be a record, [name, value] pairs or Set-Cookie strings");
      }
      yield this.#fromAttributes(entry[0], entry[1] as string | CookieAttributes);
    }
  }

  #fromAttributes(name: string, given: string | CookieAttributes): Cookie {
    const attrs: CookieAttributes = typeof given === "string" ? { value: given } : given;
    if (typeof attrs !== "object" || attrs === null || typeof attrs.value !== "string") {
      throw new InvalidArgumentError(`cookie ${JSON.stringify(name)} needs a string value`);
    }
    if (name === "" || BAD_NAME.test(name))
      throw new InvalidArgumentError(`invalid cookie name ${JSON.stringify(name)}`);
    if (BAD_VALUE.test(attrs.value)) {
      throw new InvalidArgumentError(
        `cookie ${JSON.stringify(name)} has a control character or ';' in its value`,
      );
    }
    const cookie = new Cookie({ key: name, value: attrs.value });
    if (attrs.domain) cookie.domain = attrs.domain.toLowerCase();
    if (attrs.path) cookie.path = attrs.path;
    if (attrs.expires) cookie.expires = attrs.expires;
    if (attrs.maxAge !== undefined) cookie.maxAge = attrs.maxAge;
    if (attrs.secure) cookie.secure = true;
    if (attrs.httpOnly) cookie.httpOnly = true;
    if (attrs.sameSite) cookie.sameSite = attrs.sameSite;
    return cookie;
  }

  #setShared(cookie: Cookie): void {
    if (cookie.domain) {
      // A cookie with a Domain but no response URL belongs to that domain.
      if (isPublicSuffix(cookie.domain)) return;
      const domain = cookie.domain.toLowerCase().replace(/^\./, "").replace(/\.$/, "");
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
    if (stored && isExpired(stored, Date.now())) {
      // Already expired: it replaced any cookie of the same name, domain and path; now it goes too.
      this.#remove(stored);
      return;
    }
    if (stored) this.#toughEmpty = false;
    if (stored?.domain) this.#enforceDomain(stored.domain);
    this.#enforceTotal();
  }

  /** RFC 6265bis 5.7: an insecure response may not shadow a Secure cookie of the same name. */
  #hasSecureTwin(cookie: Cookie, host: string, requestPath: string): boolean {
    const domain = (cookie.domain ?? host).toLowerCase().replace(/^\./, "");
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

  /** Drops `count` cookies: expired ones first, then the least recently used. */
  #evict(cookies: Cookie[], count: number): void {
    const now = Date.now();
    const used = (c: Cookie) =>
      (c.lastAccessed instanceof Date ? c.lastAccessed.getTime() : 0) ||
      (c.creation instanceof Date ? c.creation.getTime() : 0);
    const order = [...cookies].sort((a, b) => {
      const ea = (a.expiryTime() ?? Number.POSITIVE_INFINITY) <= now ? 0 : 1;
      const eb = (b.expiryTime() ?? Number.POSITIVE_INFINITY) <= now ? 0 : 1;
      return ea - eb || used(a) - used(b);
    });
    for (const c of order.slice(0, count)) this.#remove(c);
  }

  #expireShared(): void {
    if (this.#shared.size === 0) return;
    const now = Date.now();
    for (const [name, c] of this.#shared) if (isExpired(c, now)) this.#shared.delete(name);
  }
}
