import fc from "fast-check";
import { domainMatch, pathMatch } from "tough-cookie";
import { describe, expect, it } from "vitest";
import {
  type AbstractCookieJar,
  CookieJar,
  type CookieRecord,
  type CookieRules,
  isSecureOrigin,
  selectCookies,
  storableCookie,
} from "../src/index.js";

// CookieJar decides on tough-cookie; storableCookie and selectCookies decide without a store, for
// jars that keep cookies elsewhere. The two must agree on what is sent where.

class RulesJar implements AbstractCookieJar {
  readonly #cookies = new Map<string, CookieRecord>();
  constructor(readonly rules: CookieRules) {}
  updateCookiesFromHeaders(headers: readonly string[], responseUrl?: URL): void {
    for (const header of headers) {
      const c = storableCookie(header, responseUrl, this.rules);
      if (!c) continue;
      const id = `${c.domain};${c.path};${c.name}`;
      if (responseUrl && !isSecureOrigin(responseUrl, this.rules) && this.#shadowsSecure(c)) continue;
      this.#cookies.delete(id);
      if (c.expires === null || c.expires.getTime() > Date.now()) this.#cookies.set(id, c);
    }
  }
  /** RFC 6265bis 5.7: an insecure response may not shadow a Secure cookie of a related domain and path. */
  #shadowsSecure(c: CookieRecord): boolean {
    return [...this.#cookies.values()].some(
      (s) =>
        s.name === c.name &&
        s.secure &&
        s.domain !== "" &&
        (domainMatch(s.domain, c.domain) || domainMatch(c.domain, s.domain)) &&
        pathMatch(c.path, s.path),
    );
  }
  filterCookies(requestUrl: URL): Map<string, CookieRecord> {
    return selectCookies(this.#cookies.values(), requestUrl, this.rules);
  }
}

const urls = [
  "http://example.com/",
  "https://example.com/a/b",
  "http://www.example.com/a/",
  "https://api.www.example.com/",
  "http://127.0.0.1/",
  "https://shop.co.uk/x",
  "http://localhost:8080/",
];
const setCookie = fc
  .tuple(
    fc.constantFrom("a", "b", "__Host-h", "__Secure-s"),
    fc.constantFrom("1", "2", "x y"),
    fc.array(
      fc.constantFrom(
        "; Secure",
        "; HttpOnly",
        "; Path=/",
        "; Path=/a",
        "; Path=/a/b/",
        "; Domain=example.com",
        "; Domain=.example.com",
        "; Domain=www.example.com",
        "; Domain=example.com.",
        "; Domain=co.uk",
        "; Domain=127.0.0.1",
        "; Domain=other.org",
        "; Max-Age=0",
        "; Max-Age=100",
        "; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
      ),
      { maxLength: 3 },
    ),
  )
  .map(([name, value, attrs]) => `${name}=${value}${attrs.join("")}`);

describe("CookieJar and the rule helpers agree", () => {
  it("on what every URL is sent, for any Set-Cookie values from any of those URLs", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.array(setCookie, { maxLength: 3 }), fc.constantFrom(...urls, undefined)), {
          maxLength: 6,
        }),
        fc.boolean(),
        (responses, unsafe) => {
          const jar = new CookieJar({ unsafe });
          const rules = new RulesJar({ unsafe });
          for (const [headers, from] of responses) {
            const url = from === undefined ? undefined : new URL(from);
            jar.updateCookiesFromHeaders(headers, url);
            rules.updateCookiesFromHeaders(headers, url);
          }
          for (const to of urls) {
            const sent = (m: Map<string, CookieRecord>) =>
              [...m.values()].map((c) => `${c.name}=${c.value}`).sort();
            expect(sent(rules.filterCookies(new URL(to))), to).toEqual(sent(jar.filterCookies(to)));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
