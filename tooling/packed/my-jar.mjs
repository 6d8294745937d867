// A user's own cookie jar, in about 20 lines: one map per host; Set-Cookie parsed by @x/cookies.
import { parseSetCookie } from "@x/cookies";

export class MyJar {
  #byHost = new Map();
  updateCookies(input, responseUrl) {
    const host = responseUrl ? new URL(responseUrl).hostname : "*";
    const items =
      typeof input === "string"
        ? [input]
        : Symbol.iterator in Object(input)
          ? [...input]
          : Object.entries(input);
    const map = this.#byHost.get(host) ?? new Map();
    for (const item of items) {
      const c = parseSetCookie(typeof item === "string" ? item : `${item[0]}=${item[1]}`);
      if (c) map.set(c.name, { ...c, domain: host === "*" ? "" : host });
    }
    this.#byHost.set(host, map);
  }
  filterCookies(url) {
    return new Map([...(this.#byHost.get("*") ?? []), ...(this.#byHost.get(new URL(url).hostname) ?? [])]);
  }
  clear(predicate) {
    for (const map of this.#byHost.values())
      for (const [k, c] of map) if (!predicate || predicate(c)) map.delete(k);
  }
  clearDomain(domain) {
    this.clear((c) => c.domain === domain || c.domain.endsWith(`.${domain}`));
  }
  get size() {
    return [...this.#byHost.values()].reduce((n, m) => n + m.size, 0);
  }
  *[Symbol.iterator]() {
    for (const map of this.#byHost.values()) yield* map.values();
  }
}
