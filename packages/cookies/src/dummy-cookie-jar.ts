import type { AbstractCookieJar, CookieInput, CookieRecord } from "./abstract-cookie-jar.js";

/**
 * A jar that accepts cookies and keeps none (aiohttp's `DummyCookieJar`): for crawlers and
 * clients that must not carry state from one request to the next.
 * @example new ClientSession({ cookieJar: new DummyCookieJar() })
 */
export class DummyCookieJar implements AbstractCookieJar {
  updateCookiesFromHeaders(_headers: readonly string[], _responseUrl?: URL | string): void {}

  /** Accepts cookies in any `CookieInput` shape, like `CookieJar.updateCookies`, and keeps none. */
  updateCookies(_cookies: CookieInput, _responseUrl?: URL | string): void {}

  filterCookies(_requestUrl: URL | string): Map<string, CookieRecord> {
    return new Map();
  }

  clear(_predicate?: (cookie: CookieRecord) => boolean): void {}

  clearDomain(_domain: string): void {}

  get size(): number {
    return 0;
  }

  *[Symbol.iterator](): Iterator<CookieRecord> {}
}
