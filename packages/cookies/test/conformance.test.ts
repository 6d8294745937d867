import { describe, expect, it } from "vitest";
import {
  type AbstractCookieJar,
  CookieJar,
  type CookieRecord,
  type CookieRules,
  type CookiesToSend,
  DummyCookieJar,
  isSecureOrigin,
  parseSetCookie,
  selectCookies,
  storableCookie,
} from "../src/index.js";
import { testCookieJar } from "../src/testing/index.js";

testCookieJar("CookieJar", (options) => new CookieJar(options));

testCookieJar("DummyCookieJar", () => new DummyCookieJar(), { keepsCookies: false });

/** CookieJar behind promises, as a database-backed jar answers: async methods, async iteration, no size. */
class PromisedJar implements AbstractCookieJar {
  readonly #jar: CookieJar;
  constructor(jar: CookieJar) {
    this.#jar = jar;
  }
  get quoteCookie(): boolean {
    return this.#jar.quoteCookie;
  }
  async updateCookiesFromHeaders(headers: readonly string[], responseUrl?: URL): Promise<void> {
    await Promise.resolve();
    this.#jar.updateCookiesFromHeaders(headers, responseUrl);
  }
  async filterCookies(requestUrl: URL): Promise<CookiesToSend> {
    await Promise.resolve();
    return this.#jar.filterCookies(requestUrl);
  }
  async clear(predicate?: (cookie: CookieRecord) => boolean): Promise<void> {
    this.#jar.clear(predicate);
  }
  async clearDomain(domain: string): Promise<void> {
    this.#jar.clearDomain(domain);
  }
  async *[Symbol.asyncIterator](): AsyncIterator<CookieRecord> {
    for (const c of this.#jar) yield c;
  }
}

testCookieJar(
  "an async jar (CookieJar behind promises)",
  (options) => new PromisedJar(new CookieJar(options)),
);

/**
 * A jar that keeps records in a Map and leaves every rule to storableCookie and selectCookies:
 * what a Redis or database jar does, without the database.
 */
class RulesJar implements AbstractCookieJar {
  readonly #cookies = new Map<string, CookieRecord>();
  readonly #rules: CookieRules;
  constructor(rules: CookieRules) {
    this.#rules = rules;
  }
  updateCookiesFromHeaders(headers: readonly string[], responseUrl?: URL): void {
    for (const header of headers) {
      const c = storableCookie(header, responseUrl, this.#rules);
      if (!c) continue;
      const id = `${c.domain};${c.path};${c.name}`;
      const insecure = responseUrl !== undefined && !isSecureOrigin(responseUrl, this.#rules);
      if (insecure && this.#cookies.get(id)?.secure) continue;
      // Map.set keeps a replaced cookie's place: selectCookies sends cookies in the order given.
      if (c.expires === null || c.expires.getTime() > Date.now()) this.#cookies.set(id, c);
      else this.#cookies.delete(id);
    }
  }
  filterCookies(requestUrl: URL): Map<string, CookieRecord> {
    return selectCookies(this.#cookies.values(), requestUrl, this.#rules);
  }
}

testCookieJar("a jar on storableCookie and selectCookies", (options) => new RulesJar(options));

// A user's own jar in 20 lines, asynchronous, as the README shows it: one map per host,
// Set-Cookie parsed with our helper. It claims the core and shared cookies, and passes those parts.
class TinyJar implements AbstractCookieJar {
  #byHost = new Map<string, Map<string, string>>(); // host ("" for shared) → name → value
  async updateCookiesFromHeaders(headers: readonly string[], responseUrl?: URL): Promise<void> {
    const host = responseUrl?.hostname ?? "";
    const cookies = this.#byHost.get(host) ?? new Map<string, string>();
    for (const header of headers) {
      const c = parseSetCookie(header);
      if (!c) continue;
      if (c.expires && c.expires.getTime() <= Date.now()) cookies.delete(c.name);
      else cookies.set(c.name, c.value);
    }
    this.#byHost.set(host, cookies);
  }
  async filterCookies(requestUrl: URL): Promise<CookiesToSend> {
    const out = new Map<string, { name: string; value: string }>();
    for (const host of ["", requestUrl.hostname])
      for (const [name, value] of this.#byHost.get(host) ?? []) out.set(name, { name, value });
    return out;
  }
}

testCookieJar("a user's 20-line async jar", () => new TinyJar(), { shared: true });

describe("the suite is not a rubber stamp", () => {
  it("the tiny jar really lacks path handling", async () => {
    const jar = new TinyJar();
    await jar.updateCookiesFromHeaders(["p=1; Path=/private"], new URL("http://app.example.com/"));
    // A path-aware jar would not send this to "/"; the tiny one does, which is why it does not claim `paths`.
    expect((await jar.filterCookies(new URL("http://app.example.com/"))).has("p")).toBe(true);
  });
});
