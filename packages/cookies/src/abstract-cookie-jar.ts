import { InvalidArgumentError } from "@x/errors";

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
 * What users give as cookies (a session's `cookies` option, a request's `cookies`,
 * `CookieJar.updateCookies`): a record of name → value (or attributes), `[name, value]` pairs,
 * or `Set-Cookie` header values. `toSetCookieHeaders` turns any of them into header values.
 */
export type CookieInput =
  | Readonly<Record<string, string | CookieAttributes>>
  | Iterable<readonly [string, string | CookieAttributes]>
  | Iterable<string>
  | string;

/** A cookie to send: its name and its value, ready for the `Cookie` header. A `CookieRecord` is one. */
export interface SendableCookie {
  readonly name: string;
  readonly value: string;
}

/** What a jar gives for a request: name → cookie, most specific path first. */
export type CookiesToSend = ReadonlyMap<string, SendableCookie>;

/** A value, or a promise of it: a jar may answer either way, and the session awaits only a promise. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * The interface `@x/session` uses to store and send cookies (aiohttp's `AbstractCookieJar`).
 * Two methods are required; each may return a promise, so a jar can live in Redis or a database:
 * - `updateCookiesFromHeaders` stores the `Set-Cookie` values of a response (aiohttp's
 *   `update_cookies_from_headers`);
 * - `filterCookies` gives the cookies to send to a URL (aiohttp's `filter_cookies`).
 *
 * The other members are optional: the session and `testCookieJar` use them when they are there.
 * `testCookieJar` from `@x/cookies/testing` checks an implementation, sync or async.
 */
export interface AbstractCookieJar {
  /**
   * Stores the cookies that `Set-Cookie` header values received from `responseUrl` set or delete.
   * Without `responseUrl` the cookies are *shared*: sent to every host (the session's `cookies`
   * option arrives this way, through `toSetCookieHeaders`). Values that are not cookies, or that
   * break the jar's rules, are ignored, not thrown.
   */
  updateCookiesFromHeaders(headers: readonly string[], responseUrl?: URL): MaybePromise<void>;
  /** The cookies to send to `requestUrl`: name → cookie, values ready for the `Cookie` header. */
  filterCookies(requestUrl: URL): MaybePromise<CookiesToSend>;

  /** Optional. Whether values are quoted as Python does; per-request cookies follow it. Absent: `true`. */
  readonly quoteCookie?: boolean;
  /** Optional. Removes every cookie, or those `predicate` selects (and expired ones). */
  clear?(predicate?: (cookie: CookieRecord) => boolean): MaybePromise<void>;
  /** Optional. Removes the cookies of `domain` and its subdomains. */
  clearDomain?(domain: string): MaybePromise<void>;
  /** Optional, for jars that can count synchronously: how many cookies are stored. */
  readonly size?: number;
  /** Optional. Every stored cookie. */
  [Symbol.iterator]?(): Iterator<CookieRecord>;
  /** Optional, for async jars. Every stored cookie. */
  [Symbol.asyncIterator]?(): AsyncIterator<CookieRecord>;
  /** Optional. Writes the cookies to a file. */
  save?(path: string): Promise<void>;
  /** Optional. Replaces the cookies with those a file holds. */
  load?(path: string): Promise<void>;
}

/**
 * Checks that `value` has the two required methods of {@link AbstractCookieJar} (the optional
 * ones are detected where used) and returns it.
 * @throws {InvalidArgumentError} naming what is missing, e.g. for a jar written for the older,
 * five-method interface (`updateCookies`, …).
 */
export function checkCookieJar(value: unknown, what = "cookieJar"): AbstractCookieJar {
  const jar = value as Record<string, unknown> | null | undefined;
  if (typeof jar !== "object" || jar === null) {
    throw new InvalidArgumentError(`${what} must be a cookie jar (an AbstractCookieJar), got ${jar}`);
  }
  const missing = (["updateCookiesFromHeaders", "filterCookies"] as const).filter(
    (m) => typeof jar[m] !== "function",
  );
  if (missing.length > 0) {
    const old =
      typeof jar.updateCookies === "function"
        ? "; a jar with updateCookies(cookies, responseUrl) needs updateCookiesFromHeaders(headers, responseUrl)"
        : "";
    throw new InvalidArgumentError(
      `${what} must implement AbstractCookieJar: missing ${missing.join(" and ")}${old}`,
    );
  }
  return value as AbstractCookieJar;
}

/** Builds a `Cookie` header value (`a=1; b=2`) from cookies; an empty string for none. */
export function cookieHeader(cookies: CookiesToSend | Iterable<SendableCookie>): string {
  const parts: string[] = [];
  const list = isMap(cookies) ? cookies.values() : cookies;
  for (const c of list) parts.push(`${c.name}=${c.value}`);
  return parts.join("; ");
}

function isMap(value: CookiesToSend | Iterable<SendableCookie>): value is CookiesToSend {
  return value instanceof Map || typeof (value as CookiesToSend).get === "function";
}
