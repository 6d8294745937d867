/** One stored cookie, as a jar reports it. */
export interface CookieRecord {
  readonly name: string;
  /** The value, ready for the `Cookie` header (quoted by `CookieJar` when `quoteCookie` asks for it). */
  readonly value: string;
  /** The domain the cookie belongs to, without a leading dot; `""` for a shared cookie. */
  readonly domain: string;
  readonly path: string;
  /** When it expires; `null` for a session cookie. */
  readonly expires: Date | null;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly sameSite: "strict" | "lax" | "none" | undefined;
  /** Sent only to exactly `domain`, not its subdomains (no `Domain` attribute was given). */
  readonly hostOnly: boolean;
}

/** Attributes a caller may give when setting a cookie by name. */
export type CookieAttributes = Partial<Omit<CookieRecord, "name">> & {
  readonly value: string;
  readonly maxAge?: number;
};

/**
 * What `updateCookies` accepts: a record of name → value (or attributes), `[name, value]` pairs,
 * or `Set-Cookie` header values.
 */
export type CookieInput =
  | Readonly<Record<string, string | CookieAttributes>>
  | Iterable<readonly [string, string | CookieAttributes]>
  | Iterable<string>
  | string;

/**
 * The interface `@x/session` uses to store and send cookies (aiohttp's `AbstractCookieJar`).
 * Implement it — and nothing else — to replace the jar: a database-backed store, a per-tenant jar,
 * a jar that logs. `testCookieJar` from `@x/cookies/testing` checks an implementation.
 */
export interface AbstractCookieJar extends Iterable<CookieRecord> {
  /**
   * Stores cookies received from `responseUrl`, or shared cookies (sent to every host) when no URL
   * is given. The session passes the `Set-Cookie` header values of every response here.
   */
  updateCookies(cookies: CookieInput, responseUrl?: URL | string): void;
  /** The cookies to send to `requestUrl`, name → cookie. */
  filterCookies(requestUrl: URL | string): Map<string, CookieRecord>;
  /** Removes every cookie, or those `predicate` selects. */
  clear(predicate?: (cookie: CookieRecord) => boolean): void;
  /** Removes the cookies of `domain` and its subdomains. */
  clearDomain(domain: string): void;
  /** How many cookies are stored. */
  readonly size: number;
}

/** Builds a `Cookie` header value (`a=1; b=2`) from cookies; an empty string for none. */
export function cookieHeader(cookies: Iterable<CookieRecord> | Map<string, CookieRecord>): string {
  const parts: string[] = [];
  const list = cookies instanceof Map ? cookies.values() : cookies;
  for (const c of list) parts.push(`${c.name}=${c.value}`);
  return parts.join("; ");
}
