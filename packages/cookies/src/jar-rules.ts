import { isIP } from "node:net";
import { defaultPath, domainMatch, pathMatch } from "tough-cookie";
import type { CookieInput, CookieRecord } from "./abstract-cookie-jar.js";
import { toSetCookieHeaders } from "./cookie-input.js";
import {
  fixExpiry,
  hostOf,
  isPublicSuffix,
  isSecureUrl,
  parseHeader,
  type SecureOrigins,
  secureOrigins,
  toRecord,
  toUrl,
} from "./cookie-rules.js";
import { quoteCookieValue } from "./quote.js";

// RFC 6265's rules without the storage, for jars that keep cookies elsewhere (Redis, a database):
// storableCookie decides what a Set-Cookie value stores, selectCookies what a request gets.

/** The settings the rules depend on; `CookieJar`'s options of the same names. */
export interface CookieRules {
  /** Store cookies from, and send them to, IP-address hosts. Default `false`. */
  unsafe?: boolean;
  /** One origin or a list treated as secure (Secure cookies stored from and sent to them). Default none. */
  treatAsSecureOrigin?: SecureOrigins;
  /** Quote values as Python does in what `selectCookies` gives. Default `true`. */
  quoteCookie?: boolean;
}

const originsCache = new WeakMap<object, Set<string>>();
function originsOf(rules: CookieRules): Set<string> {
  let origins = originsCache.get(rules);
  if (!origins) originsCache.set(rules, (origins = secureOrigins(rules.treatAsSecureOrigin)));
  return origins;
}

/**
 * True when `url` is a secure origin for cookies: https, wss, or an origin of
 * `rules.treatAsSecureOrigin`. A jar uses it to keep an insecure response from overwriting a
 * Secure cookie it stores.
 */
export function isSecureOrigin(url: URL | string, rules: CookieRules = {}): boolean {
  return isSecureUrl(toUrl(url, "url"), originsOf(rules));
}

/**
 * What one `Set-Cookie` value received from `responseUrl` asks a jar to store, by RFC 6265's rules
 * and aiohttp's: the cookie with its domain, path and host-only flag resolved and `expires` an
 * absolute time (Max-Age counted from now). An `expires` in the past means: delete the stored
 * cookie with this name, domain and path. `undefined` when the value must be ignored (not a
 * cookie, a public suffix or foreign Domain, a Secure cookie from an insecure origin, a broken
 * `__Host-`/`__Secure-` prefix, an IP host without `unsafe`). Without `responseUrl` the cookie is
 * shared (`domain: ""`, path `/`) — unless it names a Domain, which it then belongs to.
 * The value is kept as received; `selectCookies` quotes it.
 *
 * What it cannot know, a jar checks itself: an insecure origin (`!isSecureOrigin(responseUrl)`)
 * may not overwrite or delete a stored Secure cookie of the same name, domain and path.
 */
export function storableCookie(
  header: string,
  responseUrl?: URL | string,
  rules: CookieRules = {},
): CookieRecord | undefined {
  const c = parseHeader(header);
  if (!c) return undefined;
  fixExpiry(c, Date.now());
  let url: URL;
  if (responseUrl !== undefined) {
    url = toUrl(responseUrl, "responseUrl");
    if (!rules.unsafe && isIP(hostOf(url)) !== 0) return undefined;
  } else if (c.domain) {
    if (isPublicSuffix(c.domain)) return undefined;
    const domain = c.domain.replace(/\.$/, "");
    url = new URL(`https://${isIP(domain) === 6 ? `[${domain}]` : domain}/`);
  } else {
    c.path = "/";
    return toRecord(c, true, false);
  }
  const host = hostOf(url).toLowerCase();
  const secureOrigin = isSecureUrl(url, originsOf(rules));
  if (c.secure && !secureOrigin) return undefined;
  const named = c.domain ?? undefined;
  if (named) {
    if (isPublicSuffix(named)) return undefined;
    if (named.endsWith(".")) {
      // aiohttp: a Domain ending in a dot makes the cookie host-only.
      c.domain = host;
      c.hostOnly = true;
    } else {
      if (!domainMatch(host, named)) return undefined;
      c.hostOnly = false;
    }
  } else {
    c.domain = host;
    c.hostOnly = true;
  }
  const givenPath = c.path;
  // tough-cookie drops a Path that does not start with "/".
  if (!c.path) c.path = defaultPath(url.pathname);
  if (c.key.startsWith("__Secure-") && !c.secure) return undefined;
  // RFC 6265bis: a __Host- cookie names Path=/ itself; a default path of "/" does not do.
  // A Domain with a trailing dot was dropped above (aiohttp), so it does not count here.
  const domainGiven = named !== undefined && !named.endsWith(".");
  if (c.key.startsWith("__Host-") && (!c.secure || domainGiven || givenPath !== "/")) return undefined;
  return toRecord(c, false, false);
}

/**
 * The cookies of `cookies` to send to `requestUrl`: unexpired, shared or matching its host
 * (host-only exactly, others with subdomains), its path, and Secure only over https, wss or an
 * origin treated as secure; IP hosts only with `unsafe` (shared cookies go everywhere). Name →
 * cookie, the most specific path first and only the first of each name, values quoted as Python
 * does unless `quoteCookie: false`. Cookies of equal path keep the order given: give them oldest
 * first (a replaced cookie in its old place), as RFC 6265 §5.4 and `CookieJar` send them.
 */
export function selectCookies(
  cookies: Iterable<CookieRecord>,
  requestUrl: URL | string,
  rules: CookieRules = {},
): Map<string, CookieRecord> {
  const url = toUrl(requestUrl, "requestUrl");
  const host = hostOf(url).toLowerCase();
  const ipHost = isIP(host) !== 0;
  const secure = isSecureUrl(url, originsOf(rules));
  const now = Date.now();
  const found: CookieRecord[] = [];
  for (const c of cookies) {
    if (c.expires !== null && c.expires.getTime() <= now) continue;
    if (c.domain !== "") {
      if (ipHost && !rules.unsafe) continue;
      if (c.hostOnly ? c.domain !== host : !domainMatch(host, c.domain)) continue;
      if (!pathMatch(url.pathname, c.path)) continue;
      if (c.secure && !secure) continue;
    }
    found.push(c);
  }
  // Longer paths first; of equal paths the more specific domain, shared cookies ("") last: the
  // cookie aiohttp would let overwrite the others of its name comes first.
  found.sort((a, b) => b.path.length - a.path.length || b.domain.length - a.domain.length);
  const quote = rules.quoteCookie ?? true;
  const out = new Map<string, CookieRecord>();
  for (const c of found) {
    if (out.has(c.name)) continue;
    out.set(c.name, quote ? { ...c, value: quoteCookieValue(c.value) } : c);
  }
  return out;
}

/**
 * Per-request cookies (a request's `cookies` option) as the cookies to send to `requestUrl`, to
 * merge over the jar's: the input is read as `toSetCookieHeaders` reads it, shared unless a
 * cookie names a Domain (then sent only there), expired ones dropped, a later cookie of a name
 * replacing an earlier one; IP hosts included. Values quoted unless `quoteCookie: false` — pass
 * the jar's `quoteCookie` (`jar.quoteCookie ?? true`).
 * @throws {InvalidArgumentError} as `toSetCookieHeaders` does, or for a bad `requestUrl`.
 */
export function requestCookies(
  cookies: CookieInput,
  requestUrl: URL | string,
  options: { quoteCookie?: boolean } = {},
): Map<string, CookieRecord> {
  const url = toUrl(requestUrl, "requestUrl");
  const byIdentity = new Map<string, CookieRecord>();
  for (const header of toSetCookieHeaders(cookies)) {
    const c = storableCookie(header);
    if (!c) continue;
    const identity = `${c.domain};${c.path};${c.name}`;
    // An expired cookie replaces the earlier one of its identity; selectCookies then drops it.
    byIdentity.delete(identity);
    byIdentity.set(identity, c);
  }
  return selectCookies(byIdentity.values(), url, { unsafe: true, quoteCookie: options.quoteCookie });
}
