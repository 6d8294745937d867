// Jars broken on purpose, one way each. Not a test of its own (the cookies project does not pick it
// up): suite-catches.test.ts runs it with vitest.broken.config.ts and checks that the conformance
// suite fails each jar where it is broken, and nowhere else.
import { type AbstractCookieJar, CookieJar, type CookiesToSend, DummyCookieJar } from "../../src/index.js";
import { testCookieJar } from "../../src/testing/index.js";

/** CookieJar with its input or output bent by `bend`. */
function bent(
  bend: { headers?: (h: string) => string; send?: (jar: CookieJar, url: URL) => CookiesToSend },
  options: { unsafe?: boolean },
): AbstractCookieJar {
  const jar = new CookieJar(options);
  return {
    updateCookiesFromHeaders: (headers, url) =>
      jar.updateCookiesFromHeaders(headers.map(bend.headers ?? ((h) => h)), url),
    filterCookies: (url) => (bend.send ? bend.send(jar, url) : jar.filterCookies(url)),
  };
}

testCookieJar("control", (o) => new CookieJar(o));
testCookieJar(
  "ignores expiry",
  (o) => bent({ headers: (h) => h.replace(/; *(Max-Age|Expires)=[^;]*/gi, "") }, o),
  {
    expiry: true,
  },
);
testCookieJar("drops Secure", (o) => bent({ headers: (h) => h.replace(/; *Secure/gi, "") }, o), {
  secure: true,
});
testCookieJar(
  "sends every cookie everywhere",
  (o) => bent({ send: (jar) => new Map([...jar].map((c) => [c.name, c])) }, o),
  {},
);
testCookieJar("keeps nothing but claims to", () => new DummyCookieJar(), {});
testCookieJar("keeps cookies but claims not to", (o) => new CookieJar(o), { keepsCookies: false });
