import { describe, expect, it } from "vitest";
import {
  type AbstractCookieJar,
  type CookieInput,
  CookieJar,
  type CookieRecord,
  parseSetCookie,
} from "../src/index.js";
import { testCookieJar } from "../src/testing/index.js";

testCookieJar("CookieJar", (options) => new CookieJar(options));

// A user's own jar, in 20 lines: one map per host, Set-Cookie parsed with our helper. It claims
// the core and shared cookies, and passes those parts of the suite.
class TinyJar implements AbstractCookieJar {
  #byHost = new Map<string, Map<string, CookieRecord>>();
  updateCookies(input: CookieInput, responseUrl?: URL | string): void {
    const host = responseUrl ? new URL(responseUrl).hostname : "*";
    const list =
      typeof input === "string"
        ? [input]
        : Symbol.iterator in Object(input)
          ? [...(input as Iterable<unknown>)]
          : Object.entries(input);
    const map = this.#byHost.get(host) ?? new Map<string, CookieRecord>();
    for (const item of list) {
      const c =
        typeof item === "string"
          ? parseSetCookie(item)
          : parseSetCookie(`${(item as string[])[0]}=${(item as string[])[1]}`);
      if (c) map.set(c.name, { ...c, domain: host === "*" ? "" : host });
    }
    this.#byHost.set(host, map);
  }
  filterCookies(url: URL | string): Map<string, CookieRecord> {
    return new Map([...(this.#byHost.get("*") ?? []), ...(this.#byHost.get(new URL(url).hostname) ?? [])]);
  }
  clear(predicate?: (c: CookieRecord) => boolean): void {
    for (const map of this.#byHost.values())
      for (const [k, c] of map) if (!predicate || predicate(c)) map.delete(k);
  }
  clearDomain(domain: string): void {
    this.clear((c) => c.domain === domain || c.domain.endsWith(`.${domain}`));
  }
  get size(): number {
    return [...this.#byHost.values()].reduce((n, m) => n + m.size, 0);
  }
  *[Symbol.iterator](): Iterator<CookieRecord> {
    for (const map of this.#byHost.values()) yield* map.values();
  }
}

testCookieJar("a user's 20-line jar", () => new TinyJar(), { shared: true });

describe("the suite is not a rubber stamp", () => {
  it("the tiny jar really lacks path handling", () => {
    const jar = new TinyJar();
    jar.updateCookies(["p=1; Path=/private"], "http://app.example.com/");
    // A path-aware jar would not send this to "/"; the tiny one does, which is why it does not claim `paths`.
    expect(jar.filterCookies("http://app.example.com/").has("p")).toBe(true);
  });
});
