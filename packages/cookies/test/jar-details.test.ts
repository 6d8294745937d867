import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "@x/errors";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { CookieJar, cookieHeader } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "x-cookies-details-"));

/**
 * Writes a saved jar as `jar.save()` lays it out (tough-cookie's serialisation plus the shared
 * list) with the given entries, to test what `load()` makes of files it did not write itself.
 */
function writeSavedJar(
  name: string,
  cookies: unknown[],
  shared: unknown[] = [],
  settings: Record<string, unknown> = {},
): string {
  const file = join(dir, name);
  const jar = { version: "tough-cookie@6.0.0", storeType: "MemoryCookieStore", rejectPublicSuffixes: true };
  writeFileSync(
    file,
    JSON.stringify({ format: "@x/cookies", version: 1, jar: { ...jar, ...settings, cookies }, shared }),
  );
  return file;
}
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const names = (jar: CookieJar, url: string) => [...jar.filterCookies(url).keys()].sort();
const at = (iso: string) => vi.useFakeTimers({ toFake: ["Date"], now: new Date(iso) });

afterEach(() => {
  vi.useRealTimers();
});

describe("options", () => {
  it("defaults: not unsafe, quoting", () => {
    const jar = new CookieJar();
    expect(jar.unsafe).toBe(false);
    expect(jar.quoteCookie).toBe(true);
    expect(new CookieJar({ unsafe: true }).unsafe).toBe(true);
  });

  it.each(["maxCookiesPerDomain", "maxCookies", "maxCookieSize", "maxHeaderSize"])(
    "%s must be a positive integer, and 1 is one",
    (option) => {
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "10"]) {
        expect(() => new CookieJar({ [option]: bad }), String(bad)).toThrow(
          new InvalidArgumentError(`${option} must be a positive integer`),
        );
      }
      expect(() => new CookieJar({ [option]: 1 })).not.toThrow();
    },
  );

  it("maxCookiesPerDomain: 1 keeps the newest cookie of each domain", () => {
    const jar = new CookieJar({ maxCookiesPerDomain: 1 });
    jar.updateCookies(["a=1", "b=2"], "http://one.example/");
    jar.updateCookies(["c=3"], "http://two.example/");
    expect(names(jar, "http://one.example/")).toEqual(["b"]);
    expect(names(jar, "http://two.example/")).toEqual(["c"]);
  });

  it("maxCookies: 1 keeps the newest cookie in all", () => {
    const jar = new CookieJar({ maxCookies: 1 });
    jar.updateCookies(["a=1"], "http://one.example/");
    jar.updateCookies(["b=2"], "http://two.example/");
    expect(jar.size).toBe(1);
    expect(names(jar, "http://two.example/")).toEqual(["b"]);
  });

  it("maxCookieSize counts name plus value, and a cookie of exactly that size is kept", () => {
    const jar = new CookieJar({ maxCookieSize: 10 });
    jar.updateCookies(
      ["abcd=123456", "abcd5=123456", "x=1; Path=/; Domain=example.com"],
      "http://example.com/",
    );
    expect(names(jar, "http://example.com/")).toEqual(["abcd", "x"]);
    jar.updateCookies(["shared=1234", "shared2=1234"]);
    expect(names(jar, "http://example.com/")).toEqual(["abcd", "shared", "x"]);
  });

  it("maxHeaderSize is the exact length of the Cookie header filled", () => {
    const fill = (max: number) => {
      const jar = new CookieJar({ maxHeaderSize: max });
      jar.updateCookies(["a=1", "b=2", "c=3"], "http://example.com/");
      return cookieHeader(jar.filterCookies("http://example.com/"));
    };
    expect(fill(13)).toBe("a=1; b=2; c=3");
    expect(fill(12)).toBe("a=1; b=2");
    expect(fill(8)).toBe("a=1; b=2");
    expect(fill(7)).toBe("a=1");
    expect(fill(3)).toBe("a=1");
    expect(fill(2)).toBe("");
  });

  it("a cookie too long for the header is skipped, and a shorter one after it still goes", () => {
    const jar = new CookieJar({ maxHeaderSize: 12 });
    jar.updateCookies(
      ["a=1; Path=/x", `long=${"v".repeat(20)}; Path=/`, "b=2; Path=/"],
      "http://example.com/",
    );
    expect(cookieHeader(jar.filterCookies("http://example.com/x"))).toBe("a=1; b=2");
  });

  it("treatAsSecureOrigin refuses entries that are not origins, naming the kind", () => {
    expect(() => new CookieJar({ treatAsSecureOrigin: [5] as never })).toThrow(
      "treatAsSecureOrigin entries must be strings or URLs, got number",
    );
    expect(() => new CookieJar({ treatAsSecureOrigin: 5 as never })).toThrow(
      "treatAsSecureOrigin must be an origin (a string or a URL) or a list of them, got number",
    );
    expect(() => new CookieJar({ treatAsSecureOrigin: null as never })).toThrow(InvalidArgumentError);
    expect(() => new CookieJar({ treatAsSecureOrigin: { origin: "http://a.test" } as never })).toThrow(
      /got object/,
    );
    expect(() => new CookieJar({ treatAsSecureOrigin: [] })).not.toThrow();
  });
});

describe("URLs", () => {
  it("names a bad request or response URL and keeps the parse error as cause", () => {
    const jar = new CookieJar();
    const err = (() => {
      try {
        jar.filterCookies("/relative");
      } catch (e) {
        return e as InvalidArgumentError;
      }
    })();
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err?.message).toBe('requestUrl must be an absolute URL, got "/relative"');
    expect(err?.cause).toBeInstanceOf(TypeError);
    expect(() => jar.updateCookies(["a=1"], "//x")).toThrow('responseUrl must be an absolute URL, got "//x"');
  });

  it("wss is secure for Secure cookies, ws is not", () => {
    const jar = new CookieJar();
    jar.updateCookies(["s=1; Secure", "p=1"], "wss://example.com/");
    expect(names(jar, "wss://example.com/")).toEqual(["p", "s"]);
    expect(names(jar, "ws://example.com/")).toEqual(["p"]);
    jar.updateCookies(["t=1; Secure"], "ws://example.com/");
    expect(names(jar, "https://example.com/")).toEqual(["p", "s"]);
  });

  it("an IPv6 host stores and receives cookies with unsafe, bracketed or not", () => {
    const jar = new CookieJar({ unsafe: true });
    jar.updateCookies(["a=1"], "http://[::1]:8080/");
    jar.updateCookies({ b: { value: "2", domain: "::1" } });
    expect(names(jar, "http://[::1]/")).toEqual(["a", "b"]);
    expect([...jar].map((c) => c.domain)).toEqual(["::1", "::1"]);
    expect(names(jar, "http://[::2]/")).toEqual([]);
    const safe = new CookieJar();
    safe.updateCookies(["a=1"], "http://[::1]/");
    expect(safe.size).toBe(0);
  });

  it("without unsafe, an IP host gets shared cookies only", () => {
    const jar = new CookieJar();
    jar.updateCookies({ shared: "1" });
    jar.updateCookies({ scoped: { value: "1", domain: "127.0.0.1" } });
    expect(names(jar, "http://127.0.0.1/")).toEqual(["shared"]);
    expect(new CookieJar({ unsafe: true }).unsafe).toBe(true);
  });
});

describe("shared cookies", () => {
  it("always have path / and no domain, whatever Path they named", () => {
    const jar = new CookieJar();
    jar.updateCookies(["a=1; Path=/deep"]);
    expect(names(jar, "http://example.com/")).toEqual(["a"]);
    expect([...jar][0]).toMatchObject({ domain: "", path: "/", hostOnly: false });
  });

  it("a shared cookie naming a Domain and Path belongs to both", () => {
    const jar = new CookieJar();
    jar.updateCookies({ a: { value: "1", domain: ".Example.com", path: "/app" } });
    expect(jar.size).toBe(1);
    expect(names(jar, "https://www.example.com/app/x")).toEqual(["a"]);
    expect(names(jar, "https://www.example.com/")).toEqual([]);
    expect([...jar][0]).toMatchObject({ domain: "example.com", path: "/app", hostOnly: false });
    jar.updateCookies(["b=1; Domain=example.com; Path=nope"]);
    expect([...jar].find((c) => c.name === "b")?.path).toBe("/");
  });

  it("a shared cookie naming a Domain with a trailing dot is host-only there", () => {
    const jar = new CookieJar();
    jar.updateCookies({ a: { value: "1", domain: "Example.com." } });
    expect(names(jar, "https://example.com/")).toEqual(["a"]);
    expect(names(jar, "https://www.example.com/")).toEqual([]);
    expect([...jar][0]).toMatchObject({ domain: "example.com", hostOnly: true });
  });

  it("a shared cookie is replaced by name, and iteration lists shared cookies first", () => {
    const jar = new CookieJar();
    jar.updateCookies(["d=1"], "http://example.com/");
    jar.updateCookies({ s: "1" });
    jar.updateCookies({ s: "2" });
    expect([...jar].map((c) => `${c.name}=${c.value}`)).toEqual(["s=2", "d=1"]);
    expect(jar.size).toBe(2);
  });

  it("a shared cookie expiring exactly now is gone", () => {
    at("2030-01-01T00:00:00Z");
    const jar = new CookieJar();
    jar.updateCookies({ s: { value: "1", maxAge: 10 } });
    vi.setSystemTime(new Date("2030-01-01T00:00:09.999Z"));
    expect(jar.size).toBe(1);
    vi.setSystemTime(new Date("2030-01-01T00:00:10Z"));
    expect(names(jar, "http://example.com/")).toEqual([]);
    expect([...jar]).toEqual([]);
    expect(jar.size).toBe(0);
  });

  it("an expired shared cookie is left out of iteration and size before anything else looks", () => {
    at("2030-01-01T00:00:00Z");
    const jar = new CookieJar();
    jar.updateCookies({ s: { value: "1", maxAge: 1 }, t: "2" });
    vi.setSystemTime(new Date("2030-01-01T00:00:05Z"));
    expect([...jar].map((c) => c.name)).toEqual(["t"]);
    const again = new CookieJar();
    vi.setSystemTime(new Date("2030-01-01T00:00:00Z"));
    again.updateCookies({ s: { value: "1", maxAge: 1 } });
    vi.setSystemTime(new Date("2030-01-01T00:00:05Z"));
    expect(again.size).toBe(0);
  });

  it("a stored cookie expiring exactly now is not sent", () => {
    at("2030-01-01T00:00:00Z");
    const jar = new CookieJar();
    jar.updateCookies(["a=1; Max-Age=10"], "http://example.com/");
    vi.setSystemTime(new Date("2030-01-01T00:00:09.999Z"));
    expect(names(jar, "http://example.com/")).toEqual(["a"]);
    vi.setSystemTime(new Date("2030-01-01T00:00:10Z"));
    expect(names(jar, "http://example.com/")).toEqual([]);
  });
});

describe("clear and clearDomain", () => {
  const filled = () => {
    const jar = new CookieJar();
    jar.updateCookies(["root=1; Domain=example.com"], "http://example.com/");
    jar.updateCookies(["host=1"], "http://example.com/");
    jar.updateCookies(["sub=1"], "http://a.b.example.com/");
    jar.updateCookies(["other=1"], "http://notexample.com/");
    jar.updateCookies({ shared: "1" });
    return jar;
  };
  const all = (jar: CookieJar) => [...jar].map((c) => c.name).sort();

  it("clearDomain removes the domain and its subdomains, not look-alikes or shared cookies", () => {
    for (const given of ["example.com", ".Example.COM", "EXAMPLE.com."]) {
      const jar = filled();
      jar.clearDomain(given);
      expect(all(jar), given).toEqual(["other", "shared"]);
    }
    const jar = filled();
    jar.clearDomain("b.example.com");
    expect(all(jar)).toEqual(["host", "other", "root", "shared"]);
    jar.clearDomain("com");
    expect(all(jar)).toEqual(["shared"]);
  });

  it("clear() removes everything, after which the jar works as new", () => {
    const jar = filled();
    jar.clear();
    expect(jar.size).toBe(0);
    expect(names(jar, "http://example.com/")).toEqual([]);
    jar.updateCookies(["again=1"], "http://example.com/");
    expect(names(jar, "http://example.com/")).toEqual(["again"]);
  });

  it("clear(predicate) sees shared cookies as shared, and removes what it selects", () => {
    const jar = filled();
    const seen: Array<[string, string, boolean]> = [];
    jar.clear((c) => {
      seen.push([c.name, c.domain, c.hostOnly]);
      return c.name === "shared" || c.name === "host";
    });
    expect(seen.sort()).toEqual(
      [
        ["host", "example.com", true],
        ["other", "notexample.com", true],
        ["root", "example.com", false],
        ["shared", "", false],
        ["sub", "a.b.example.com", true],
      ].sort(),
    );
    expect(all(jar)).toEqual(["other", "root", "sub"]);
  });
});

describe("the least recently used go first", () => {
  it("a cookie sent recently outlives older-used ones of its domain", () => {
    at("2030-01-01T00:00:00Z");
    const jar = new CookieJar({ maxCookiesPerDomain: 3 });
    jar.updateCookies(["a=1"], "http://example.com/");
    vi.setSystemTime(new Date("2030-01-01T00:00:01Z"));
    jar.updateCookies(["b=1; Path=/b"], "http://example.com/");
    vi.setSystemTime(new Date("2030-01-01T00:00:02Z"));
    jar.updateCookies(["c=1; Path=/c"], "http://example.com/");
    vi.setSystemTime(new Date("2030-01-01T00:00:03Z"));
    // Sending to / uses "a" only: it is now the most recently used.
    expect(names(jar, "http://example.com/")).toEqual(["a"]);
    vi.setSystemTime(new Date("2030-01-01T00:00:04Z"));
    jar.updateCookies(["d=1; Path=/d"], "http://example.com/");
    expect([...jar].map((c) => c.name).sort()).toEqual(["a", "c", "d"]);
  });

  it("expired cookies go before any live one when the jar is full", () => {
    at("2030-01-01T00:00:00Z");
    const jar = new CookieJar({ maxCookies: 2 });
    jar.updateCookies(["old=1"], "http://one.example/");
    vi.setSystemTime(new Date("2030-01-01T00:00:01Z"));
    jar.updateCookies(["brief=1; Max-Age=1"], "http://two.example/");
    vi.setSystemTime(new Date("2030-01-01T00:00:03Z"));
    jar.updateCookies(["new=1"], "http://three.example/");
    expect([...jar].map((c) => c.name).sort()).toEqual(["new", "old"]);
  });
});

describe("Secure cookies and insecure responses", () => {
  it("an http response may set a cookie of a Secure cookie's name on a path that does not overlap", () => {
    const jar = new CookieJar();
    jar.updateCookies(["sid=good; Secure; Path=/secure"], "https://example.com/secure");
    jar.updateCookies(["sid=other; Path=/public"], "http://example.com/public");
    expect(jar.filterCookies("http://example.com/public").get("sid")?.value).toBe("other");
    expect(jar.filterCookies("https://example.com/secure").get("sid")?.value).toBe("good");
  });

  it("nor does a Secure cookie of another domain or another name stand in the way", () => {
    const jar = new CookieJar();
    jar.updateCookies(["sid=good; Secure"], "https://example.com/");
    jar.updateCookies(["sid=mine"], "http://example.org/");
    jar.updateCookies(["other=1"], "http://example.com/");
    expect(names(jar, "http://example.org/")).toEqual(["sid"]);
    expect(names(jar, "http://example.com/")).toEqual(["other"]);
  });

  it("a parent's http cookie cannot shadow a subdomain's Secure cookie either", () => {
    const jar = new CookieJar();
    jar.updateCookies(["sid=good; Secure; Domain=www.example.com"], "https://www.example.com/");
    jar.updateCookies(["sid=evil; Domain=example.com"], "http://example.com/");
    expect(jar.filterCookies("https://www.example.com/").get("sid")?.value).toBe("good");
    expect(jar.size).toBe(1);
  });
});

describe("save and load, in detail", () => {
  it("writes a file only its owner can read", async () => {
    const jar = new CookieJar();
    jar.updateCookies(["a=1"], "http://example.com/");
    const file = join(dir, "private.json");
    await jar.save(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ format: "@x/cookies", version: 1 });
  });

  it("a failed save throws and leaves no temporary file", async () => {
    const sub = mkdtempSync(join(dir, "fail-"));
    const target = join(sub, "jar.json");
    mkdirSync(target);
    const jar = new CookieJar();
    jar.updateCookies(["a=1"], "http://example.com/");
    await expect(jar.save(target)).rejects.toThrow();
    expect(readdirSync(sub)).toEqual(["jar.json"]);
  });

  it("load replaces what the jar held", async () => {
    const source = new CookieJar();
    source.updateCookies(["a=1"], "http://example.com/");
    const file = join(dir, "replace.json");
    await source.save(file);
    const jar = new CookieJar();
    jar.updateCookies(["old=1"], "http://example.com/");
    jar.updateCookies({ oldShared: "1" });
    await jar.load(file);
    expect([...jar].map((c) => c.name)).toEqual(["a"]);
    const empty = new CookieJar();
    await empty.save(join(dir, "empty.json"));
    await jar.load(join(dir, "empty.json"));
    expect(jar.size).toBe(0);
    expect(names(jar, "http://example.com/")).toEqual([]);
  });

  it("load keeps to maxCookies", async () => {
    const big = new CookieJar();
    for (let i = 0; i < 5; i++) big.updateCookies([`c${i}=1`], `http://h${i}.example/`);
    const file = join(dir, "big.json");
    await big.save(file);
    const small = new CookieJar({ maxCookies: 2 });
    await small.load(file);
    expect(small.size).toBe(2);
  });

  it.each([
    ["null", "null", "unknown format"],
    ["a number", "5", "unknown format"],
    ["another version", { version: 2, jar: { cookies: [] }, shared: [] }, "unsupported version 2"],
    ["no version", { jar: { cookies: [] }, shared: [] }, "unsupported version undefined"],
    ["no jar", { version: 1, shared: [] }, "no cookie list"],
    ["a jar without cookies", { version: 1, jar: {}, shared: [] }, "no cookie list"],
    ["a jar that is a string", { version: 1, jar: "x", shared: [] }, "no cookie list"],
    ["a null cookie", { version: 1, jar: { cookies: [null] }, shared: [] }, "a cookie entry is malformed"],
    [
      "a cookie without a domain",
      { version: 1, jar: { cookies: [{ key: "a" }] }, shared: [] },
      "a cookie entry is malformed",
    ],
    [
      "a cookie with a numeric key",
      { version: 1, jar: { cookies: [{ key: 1, domain: "a.com" }] }, shared: [] },
      "a cookie entry is malformed",
    ],
    ["no shared list", { version: 1, jar: { cookies: [] } }, "no shared cookie list"],
    [
      "a null shared cookie",
      { version: 1, jar: { cookies: [] }, shared: [null] },
      "a shared cookie entry is malformed",
    ],
    [
      "a shared cookie without a name",
      { version: 1, jar: { cookies: [] }, shared: [{ value: "x" }] },
      "a shared cookie entry is malformed",
    ],
    [
      "a shared cookie with a numeric key",
      { version: 1, jar: { cookies: [] }, shared: [{ key: 5 }] },
      "a shared cookie entry is malformed",
    ],
    [
      "a shared cookie that is a string",
      { version: 1, jar: { cookies: [] }, shared: ["a=1"] },
      "a shared cookie entry is malformed",
    ],
  ])("refuses a file with %s, saying so", async (_what, content, why) => {
    const file = join(dir, `bad-${Math.random()}.json`);
    writeFileSync(
      file,
      typeof content === "string" ? content : JSON.stringify({ format: "@x/cookies", ...content }),
    );
    const jar = new CookieJar();
    jar.updateCookies(["keep=1"], "http://example.com/");
    await expect(jar.load(file)).rejects.toThrow(
      new InvalidArgumentError(`${file} is not a saved @x/cookies jar: ${why}`),
    );
    expect(names(jar, "http://example.com/")).toEqual(["keep"]);
  });

  it("a file written before expiry was fixed counts Max-Age from the last access", async () => {
    at("2030-01-01T00:10:00Z");
    const stored = {
      key: "legacy",
      value: "1",
      domain: "example.com",
      path: "/",
      hostOnly: true,
      maxAge: 60,
      creation: "2030-01-01T00:00:00.000Z",
      lastAccessed: "2030-01-01T00:09:30.000Z",
    };
    const fresh = { ...stored, key: "fresh", lastAccessed: undefined, creation: "2030-01-01T00:09:30.000Z" };
    const stale = { ...stored, key: "stale", lastAccessed: "2030-01-01T00:08:00.000Z" };
    const file = writeSavedJar(
      "legacy.json",
      [stored, fresh, stale],
      [{ key: "sharedLegacy", value: "1", maxAge: 60, creation: "2030-01-01T00:09:30.000Z" }],
    );
    const jar = new CookieJar();
    await jar.load(file);
    expect(names(jar, "http://example.com/")).toEqual(["fresh", "legacy", "sharedLegacy"]);
    vi.setSystemTime(new Date("2030-01-01T00:10:31Z"));
    expect(names(jar, "http://example.com/")).toEqual([]);
  });
});

describe("what a loaded file says", () => {
  it("SameSite in any case is reported lower-cased, and an unknown one not at all", async () => {
    const cookie = (key: string, sameSite: string) => ({
      key,
      value: "1",
      domain: "example.com",
      path: "/",
      hostOnly: true,
      sameSite,
    });
    const file = writeSavedJar("samesite.json", [
      cookie("s", "Strict"),
      cookie("l", "LAX"),
      cookie("n", "none"),
      cookie("b", "bogus"),
    ]);
    const jar = new CookieJar();
    await jar.load(file);
    expect(Object.fromEntries([...jar].map((c) => [c.name, c.sameSite]))).toEqual({
      s: "strict",
      l: "lax",
      n: "none",
      b: undefined,
    });
  });

  it("a Max-Age too large for a date gives a cookie that never expires", () => {
    const jar = new CookieJar();
    jar.updateCookiesFromHeaders(["forever=1; Max-Age=99999999999999"], "http://example.com/");
    jar.updateCookiesFromHeaders(["sharedForever=1; Max-Age=99999999999999"]);
    expect([...jar].map((c) => [c.name, c.expires])).toEqual([
      ["sharedForever", null],
      ["forever", null],
    ]);
    expect(names(jar, "http://example.com/")).toEqual(["forever", "sharedForever"]);
  });
});

describe("a loaded file cannot loosen the jar's rules", () => {
  it("public suffixes and cookie prefixes stay enforced whatever the file's settings", async () => {
    const file = writeSavedJar("loose.json", [], [], {
      rejectPublicSuffixes: false,
      enableLooseMode: true,
      prefixSecurity: "unsafe-disabled",
      allowSpecialUseDomain: true,
    });
    const jar = new CookieJar();
    await jar.load(file);
    jar.updateCookiesFromHeaders(["sup=1; Domain=com"], "http://shop.com/");
    jar.updateCookiesFromHeaders(["__Host-h=1; Path=/", "__Secure-s=1"], "https://shop.com/");
    jar.updateCookiesFromHeaders(["ok=1"], "https://shop.com/");
    expect(names(jar, "https://other.com/")).toEqual([]);
    expect(names(jar, "https://shop.com/")).toEqual(["ok"]);
  });

  it("a shared cookie in the file stays shared, whatever domain the entry claims", async () => {
    const file = writeSavedJar(
      "shared-domain.json",
      [],
      [{ key: "s", value: "1", domain: "example.com", hostOnly: true, path: "/x" }],
    );
    const jar = new CookieJar();
    await jar.load(file);
    expect([...jar]).toMatchObject([{ name: "s", domain: "", hostOnly: false }]);
    expect(jar.filterCookies("http://example.org/").get("s")).toMatchObject({ domain: "", hostOnly: false });
    const seen: string[] = [];
    jar.clear((c) => {
      seen.push(`${c.name}:${c.domain}:${c.hostOnly}`);
      return false;
    });
    expect(seen).toEqual(["s::false"]);
  });

  it("a file that is not JSON is refused with the parse error as cause", async () => {
    const file = join(dir, "broken.json");
    writeFileSync(file, "{");
    const err = await new CookieJar().load(file).catch((e: unknown) => e as InvalidArgumentError);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err?.message).toBe(`${file} is not a saved @x/cookies jar: not valid JSON`);
    expect(err?.cause).toBeInstanceOf(SyntaxError);
  });
});

describe("more of the jar's edges", () => {
  it("saving into a missing directory rejects with the error of writing the file", async () => {
    const jar = new CookieJar();
    jar.updateCookies(["a=1"], "http://example.com/");
    await expect(jar.save(join(dir, "missing", "jar.json"))).rejects.toMatchObject({
      code: "ENOENT",
      syscall: "open",
    });
  });

  it("treatAsSecureOrigin works for an origin that is not loopback", () => {
    const jar = new CookieJar({ treatAsSecureOrigin: "http://intranet.test:8080" });
    jar.updateCookies(["s=1; Secure"], "http://intranet.test:8080/");
    expect(names(jar, "http://intranet.test:8080/")).toEqual(["s"]);
    expect(names(jar, "http://intranet.test:9090/")).toEqual([]);
    jar.updateCookies(["t=1; Secure"], "http://intranet.test:9090/");
    expect(jar.size).toBe(1);
  });

  it("clearDomain of nothing or a dot removes nothing, shared cookies included", () => {
    const jar = new CookieJar();
    jar.updateCookies(["a=1"], "http://example.com/");
    jar.updateCookies({ s: "1" });
    jar.clearDomain("");
    jar.clearDomain(".");
    expect([...jar].map((c) => c.name)).toEqual(["s", "a"]);
  });

  it("sends cookies of one domain and path in the order they were set, number-like names too", () => {
    // A store keyed by name would list "10" and "2" first (as a JS object does); the header keeps
    // the order the server set them in.
    const jar = new CookieJar();
    jar.updateCookies(["b=1", "10=2", "a=3", "2=4"], "http://example.com/");
    expect([...jar.filterCookies("http://example.com/").keys()]).toEqual(["b", "10", "a", "2"]);
  });

  it("names what headers must be", () => {
    expect(() => new CookieJar().updateCookiesFromHeaders("a=1" as never)).toThrow(
      new InvalidArgumentError("headers must be an array of Set-Cookie strings"),
    );
  });
});
