import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "@x/errors";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { CookieJar, cookieHeader } from "../src/index.js";

// What has gone wrong in cookie jars before: tough-cookie's prototype pollution (CVE-2023-26136),
// supercookies on public suffixes, IP-prefix domains, Secure cookies clobbered over http, and
// control characters carried from a Set-Cookie into a Cookie header.

const dir = mkdtempSync(join(tmpdir(), "x-cookies-attacks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hosts = [
  "http://a.example.com/",
  "https://a.example.com/x/",
  "http://127.0.0.1/",
  "http://shop.co.uk/",
];
/** Set-Cookie values built from cookie syntax, attributes and hostile characters. */
const setCookie = fc
  .tuple(
    fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.constantFrom("__proto__", "constructor", "__Proto__", "prototype"),
    ),
    fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("a\r\nX: 1", "a\0b", "a\x7fb", "\u010aX")),
    fc.array(
      fc.constantFrom(
        "; Secure",
        "; HttpOnly",
        "; Path=/",
        "; Path=/x",
        "; Domain=example.com",
        "; Domain=.COM",
        "; Domain=co.uk.",
        "; Domain=0.1",
        "; Domain=127.0.0.1",
        "; Max-Age=-1",
        "; Max-Age=100",
        "; SameSite=None",
        "; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
      ),
      { maxLength: 4 },
    ),
  )
  .map(([name, value, attrs]) => `${name}=${value}${attrs.join("")}`);

describe("cookie jar attacks", () => {
  it("any Set-Cookie from any host: never throws, never pollutes, never stores an unsendable cookie", () => {
    fc.assert(
      fc.property(fc.array(setCookie, { maxLength: 6 }), fc.constantFrom(...hosts), (headers, from) => {
        const jar = new CookieJar({ unsafe: true });
        jar.updateCookies(headers, from);
        expect(Object.getPrototypeOf({})).toBe(Object.prototype);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        for (const to of hosts) {
          const header = cookieHeader(jar.filterCookies(to));
          expect(header).toMatch(/^[\x20-\x7e\x80-\xff]*$/);
          expect(header).not.toMatch(/[\r\n\0]/);
        }
        for (const cookie of jar) expect(cookie.domain).not.toMatch(/^\.?(com|co\.uk|uk|0\.1|0\.0\.1)\.?$/i);
      }),
      { numRuns: 300 },
    );
  });

  it("a cookie given directly with a character no header can carry is refused", () => {
    const jar = new CookieJar();
    for (const value of ["\u010aX", "a\tb", "a\x7f"])
      expect(() => jar.updateCookies({ a: value })).toThrow(InvalidArgumentError);
    expect(() => jar.updateCookies({ "\u0130d": "v" })).toThrow(InvalidArgumentError);
    expect(jar.size).toBe(0);
  });

  it("public suffixes in any case and with a trailing dot are refused as a cookie domain", () => {
    const jar = new CookieJar();
    for (const domain of ["com", "COM", ".Com", "com.", "co.uk", "CO.UK.", "github.io"])
      jar.updateCookies([`s=1; Domain=${domain}`], "http://victim.co.uk.github.io.com/");
    jar.updateCookies(["s=1; Domain=Co.Uk."], "http://shop.co.uk/");
    expect(jar.filterCookies("http://other.co.uk/").size).toBe(0);
    expect(jar.filterCookies("http://other.com/").size).toBe(0);
  });

  it("an IP address is only ever its own host: no partial or suffix matches", () => {
    const jar = new CookieJar({ unsafe: true });
    jar.updateCookies(["a=1; Domain=0.0.1", "b=1; Domain=.0.1", "c=1; Domain=1"], "http://10.0.0.1/");
    jar.updateCookies(["d=1"], "http://10.0.0.1/");
    expect([...jar.filterCookies("http://10.0.0.1/").keys()]).toEqual(["d"]);
    expect(jar.filterCookies("http://20.0.0.1/").size).toBe(0);
    expect(jar.filterCookies("http://110.0.0.1/").size).toBe(0);
  });

  it("prototype-named cookies survive a save/load round trip without polluting anything", async () => {
    const jar = new CookieJar();
    jar.updateCookies(
      ["__proto__=p; Path=/", "__Proto__=q", "constructor=c", "hasOwnProperty=h", "toString=t"],
      "http://example.com/",
    );
    const file = join(dir, "proto.json");
    await jar.save(file);
    const back = new CookieJar();
    await back.load(file);
    const sent = back.filterCookies("http://example.com/");
    expect([...sent].map(([k, v]) => `${k}=${v.value}`).sort()).toEqual([
      "__Proto__=q",
      "__proto__=p",
      "constructor=c",
      "hasOwnProperty=h",
      "toString=t",
    ]);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it("an http response cannot overwrite, delete or shadow a Secure cookie", () => {
    const jar = new CookieJar();
    jar.updateCookies(["sid=good; Secure; Path=/"], "https://example.com/");
    jar.updateCookies(["sid=evil; Path=/"], "http://example.com/");
    jar.updateCookies(["sid=evil; Path=/; Max-Age=0"], "http://example.com/");
    jar.updateCookies(["sid=evil; Path=/deeper"], "http://example.com/");
    jar.updateCookies(["sid=evil; Domain=example.com; Path=/"], "http://sub.example.com/");
    expect(jar.filterCookies("https://example.com/deeper").get("sid")?.value).toBe("good");
  });

  it("host-only stays host-only after save and load", async () => {
    const jar = new CookieJar();
    jar.updateCookies(["h=1"], "http://example.com/");
    jar.updateCookies(["d=1; Domain=example.com"], "http://example.com/");
    const file = join(dir, "host-only.json");
    await jar.save(file);
    const back = new CookieJar();
    await back.load(file);
    expect([...back.filterCookies("http://sub.example.com/").keys()]).toEqual(["d"]);
    expect([...back.filterCookies("http://example.com/").keys()].sort()).toEqual(["d", "h"]);
  });
});
