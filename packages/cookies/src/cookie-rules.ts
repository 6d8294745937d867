import { isIP } from "node:net";
import { InvalidArgumentError } from "@x/errors";
import { Cookie, getPublicSuffix } from "tough-cookie";
import type { CookieRecord } from "./abstract-cookie-jar.js";
import { quoteCookieValue } from "./quote.js";

// The small rules every jar of this package applies (CookieJar, the rule helpers in jar-rules.ts,
// per-request cookies): parsing a Set-Cookie value, expiry, public suffixes, secure origins.

/** A parsed Set-Cookie whose name or value holds these could not be sent back, so it is skipped. */
const UNSENDABLE = /[\x00-\x08\x0a-\x1f\x7f\u0100-\uffff]/;

/**
 * Parses one Set-Cookie value, or nothing when it is not a cookie, could not be sent back, or
 * names a Domain that can match no host: tough-cookie drops one leading dot (RFC 6265 §5.2.3),
 * and a Domain still starting with a dot after that (`..example.com`) is ignored, as aiohttp does.
 */
export function parseHeader(header: string): Cookie | undefined {
  const c = Cookie.parse(header);
  if (!c || UNSENDABLE.test(c.key) || UNSENDABLE.test(c.value) || c.domain?.startsWith(".")) return undefined;
  return c;
}

/**
 * @throws {InvalidArgumentError} when `value` is not an absolute URL.
 */
export function toUrl(value: URL | string, what: string): URL {
  if (value instanceof URL) return value;
  try {
    return new URL(value);
  } catch (err) {
    throw new InvalidArgumentError(`${what} must be an absolute URL, got ${JSON.stringify(value)}`, {
      cause: err,
    });
  }
}

/** The URL's host without IPv6 brackets. */
export function hostOf(url: URL): string {
  const host = url.hostname;
  return host.startsWith("[") ? host.slice(1, -1) : host;
}

/** Origins treated as secure, as `treatAsSecureOrigin` accepts them: one (a string or a URL) or a list. */
export type SecureOrigins = string | URL | Iterable<string | URL>;

/**
 * The origins `given` names.
 * @throws {InvalidArgumentError} for anything but an origin or an iterable of origins.
 */
export function secureOrigins(given: SecureOrigins | undefined): Set<string> {
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

/** True for https and wss, and for the origins treated as secure. */
export function isSecureUrl(url: URL, origins: ReadonlySet<string>): boolean {
  return url.protocol === "https:" || url.protocol === "wss:" || origins.has(url.origin);
}

/**
 * True when `domain` (a parsed cookie's: any case, a trailing dot, no leading one) is a public
 * suffix such as `com` or `co.uk`, empty, or no domain name at all: no cookie may claim it. IP
 * addresses are not suffixes.
 */
export function isPublicSuffix(domain: string): boolean {
  const bare = domain.toLowerCase().replace(/\.$/, "");
  if (isIP(bare) !== 0) return false;
  // tough-cookie 6 answers undefined (not null) for a suffix and for "", and throws for
  // special-use names such as localhost unless told they are allowed.
  return getPublicSuffix(bare, { allowSpecialUseDomain: true, ignoreError: true }) == null;
}

/**
 * Fixes a parsed cookie's expiry in time: `Max-Age` becomes an absolute `Expires` counted from
 * `now` (RFC 6265 §5.3 step 3). tough-cookie counts Max-Age from the last access instead, so a
 * cookie sent often would never expire, and one never read through it (a shared cookie) never.
 */
export function fixExpiry(cookie: Cookie, now: number): void {
  if (cookie.maxAge === null) return;
  const maxAge = cookie.maxAge;
  if (maxAge === "Infinity") cookie.expires = "Infinity";
  else if (maxAge === "-Infinity" || maxAge <= 0) cookie.expires = new Date(0);
  else cookie.expires = new Date(now + maxAge * 1000);
  cookie.maxAge = null;
}

export function timeOf(value: unknown): number | undefined {
  return value instanceof Date ? value.getTime() : undefined;
}

/** True when the cookie's expiry has passed. */
export function isExpired(cookie: Cookie, now: number): boolean {
  return (cookie.expiryTime() ?? Number.POSITIVE_INFINITY) <= now;
}

/** A SameSite value as a record reports it: `strict`, `lax`, `none`, or `undefined` for any other. */
export function sameSiteOf(value: unknown): CookieRecord["sameSite"] {
  const v = typeof value === "string" ? value.toLowerCase() : undefined;
  return v === "strict" || v === "lax" || v === "none" ? v : undefined;
}

/** A tough-cookie cookie as a record; the value quoted for the header when `quote` asks for it. */
export function toRecord(c: Cookie, shared: boolean, quote: boolean): CookieRecord {
  const expires = c.isPersistent() ? c.expiryDate() : undefined;
  const time = expires?.getTime();
  return {
    name: c.key,
    value: quote ? quoteCookieValue(c.value) : c.value,
    domain: shared ? "" : (c.domain ?? ""),
    path: c.path!,
    // fixExpiry made Max-Age absolute; a date too far off to hold (NaN) never expires.
    expires: Number.isFinite(time) ? expires! : null,
    secure: c.secure,
    httpOnly: c.httpOnly,
    sameSite: sameSiteOf(c.sameSite),
    hostOnly: shared ? false : (c.hostOnly ?? false),
  };
}
