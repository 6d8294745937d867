import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "@x/errors";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { CookieJar, cookieHeader, DummyCookieJar, parseSetCookie, quoteCookieValue } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "x-cookies-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const names = (jar: CookieJar, url: string) => [...jar.filterCookies(url).keys()].sort();

describe("aiohttp's rules", () => {
  it("shared cookies go to every host, IP hosts included", () => {
    const jar = new CookieJar();
    jar.updateCookies({ token: "t" });
    expect(names(jar, "http://127.0.0.1:8080/")).toEqual(["token"]);
    expect([...jar][0]).toMatchObject({ name: "token", domain: "", path: "/", hostOnly: false });
  });

  it("a Domain ending in a dot becomes host-only", () => {
    const jar = new CookieJar();
    jar.updateCookies(["d=1; Domain=example.com."], "http://www.example.com/");
    expect(names(jar, "http://www.example.com/")).toEqual(["d"]);
    expect(names(jar, "http://api.example.com/")).toEqual([]);
    expect([...jar][0]?.hostOnly).toBe(true);
  });

  it("a partial IP address is not a cookie domain, even with unsafe", () => {
    const jar = new CookieJar({ unsafe: true });
    jar.updateCookies(["a=1; Domain=0.0.1", "b=1; Domain=1"], "http://127.0.0.1/");
    expect(jar.size).toBe(0);
    jar.updateCookies(["c=1"], "http://127.0.0.1/");
    expect(names(jar, "http://127.0.0.1/")).toEqual(["c"]);
    expect(names(jar, "http://127.0.0.2/")).toEqual([]);
  });

  it("a cookie with Domain but no response URL belongs to that domain", () => {
    const jar = new CookieJar();
    jar.updateCookies({ a: { value: "1", domain: "example.com" } });
    expect(names(jar, "http://x.example.com/")).toEqual(["a"]);
    expect(names(jar, "http://example.org/")).toEqual([]);
  });

  it("treatAsSecureOrigin lets a local origin store and receive Secure cookies", () => {
    const jar = new CookieJar({ unsafe: true, treatAsSecureOrigin: ["http://127.0.0.1:8080"] });
    jar.updateCookies(["s=1; Secure"], "http://127.0.0.1:8080/");
    expect(names(jar, "http://127.0.0.1:8080/")).toEqual(["s"]);
    expect(names(jar, "http://127.0.0.1:9090/")).toEqual([]);
  });

  it("refuses a Secure cookie from an insecure origin", () => {
    const jar = new CookieJar();
    jar.updateCookies(["s=1; Secure"], "http://example.com/");
    expect(jar.size).toBe(0);
  });

  it("a subdomain over http cannot shadow a parent's Secure cookie either", () => {
    const jar = new CookieJar();
    jar.updateCookies(["sid=good; Secure; Domain=example.com"], "https://example.com/");
    jar.updateCookies(["sid=evil; Domain=example.com"], "http://www.example.com/");
    jar.updateCookies(["sid=evil2"], "http://www.example.com/");
    expect(jar.filterCookies("https://www.example.com/").get("sid")?.value).toBe("good");
    expect(jar.size).toBe(1);
  });

  it("expires cookies as time passes", async () => {
    const jar = new CookieJar();
    jar.updateCookies(["brief=1; Max-Age=1"], "http://example.com/");
    expect(jar.size).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    expect(names(jar, "http://example.com/")).toEqual([]);
  });

  it("reports every attribute", () => {
    const jar = new CookieJar();
    jar.updateCookies(
      [
        "full=v; Domain=example.com; Path=/p; Expires=Wed, 01 Jan 2098 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax",
      ],
      "https://www.example.com/p/q",
    );
    const c = jar.filterCookies("https://example.com/p/x").get("full");
    expect(c).toEqual({
      name: "full",
      value: "v",
      domain: "example.com",
      path: "/p",
      expires: new Date("2098-01-01T00:00:00Z"),
      secure: true,
      httpOnly: true,
      sameSite: "lax",
      hostOnly: false,
    });
  });

  it("a cookie of the request's domain wins over a shared cookie of its name, and a host's over its parent's", () => {
    const jar = new CookieJar();
    jar.updateCookies({ theme: "default", lang: "en" });
    jar.updateCookies(["theme=dark; Domain=example.com"], "http://www.example.com/");
    jar.updateCookies(["theme=light"], "http://www.example.com/");
    expect(cookieHeader(jar.filterCookies("http://www.example.com/"))).toBe("theme=light; lang=en");
    expect(cookieHeader(jar.filterCookies("http://api.example.com/"))).toBe("theme=dark; lang=en");
    expect(cookieHeader(jar.filterCookies("http://example.org/"))).toBe("theme=default; lang=en");
  });

  it("sends longer paths first and only the most specific cookie of a name", () => {
    const jar = new CookieJar();
    jar.updateCookies(["n=root; Path=/", "n=deep; Path=/a/b", "m=1; Path=/a"], "http://example.com/");
    const sent = jar.filterCookies("http://example.com/a/b/c");
    expect([...sent.keys()]).toEqual(["n", "m"]);
    expect(sent.get("n")?.value).toBe("deep");
    expect(cookieHeader(sent)).toBe("n=deep; m=1");
  });
});

describe("expired cookies leave the jar", () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const at = (iso: string) => vi.useFakeTimers({ toFake: ["Date"], now: new Date(iso) });
  const listed = (jar: CookieJar) => [...jar].map((c) => c.name).sort();

  it("a Set-Cookie already expired deletes the cookie and is never stored", () => {
    const jar = new CookieJar();
    jar.updateCookies(["sid=1", "keep=1"], "http://example.com/");
    jar.updateCookies(["sid=; Max-Age=0"], "http://example.com/");
    jar.updateCookies(["new=1; Expires=Thu, 01 Jan 1970 00:00:01 GMT"], "http://example.com/");
    jar.updateCookies(["neg=1; Max-Age=-5"], "http://example.com/");
    expect(listed(jar)).toEqual(["keep"]);
    expect(jar.size).toBe(1);
  });

  it("a cookie that expires while stored leaves iteration, size and save()", async () => {
    at("2030-01-01T00:00:00Z");
    const jar = new CookieJar();
    jar.updateCookies(["brief=1; Max-Age=10", "long=1; Max-Age=1000"], "http://example.com/");
    jar.updateCookies({ sharedBrief: { value: "1", maxAge: 10 }, sharedLong: "1" });
    expect(jar.size).toBe(4);
    vi.setSystemTime(new Date("2030-01-01T00:00:11Z"));
    expect(listed(jar)).toEqual(["long", "sharedLong"]);
    expect(jar.size).toBe(2);
    const file = join(dir, "expired-on-save.json");
    await jar.save(file);
    expect(readFileSync(file, "utf8")).not.toMatch(/brief/i);
  });

  it("Max-Age counts from when the cookie was set, not from when it was last sent", () => {
    at("2030-01-01T00:00:00Z");
    const jar = new CookieJar();
    jar.updateCookies(["sid=1; Max-Age=10"], "http://example.com/");
    jar.updateCookies({ token: { value: "t", maxAge: 10 } });
    for (let s = 4; s <= 8; s += 4) {
      vi.setSystemTime(new Date(`2030-01-01T00:00:0${s}Z`));
      expect(names(jar, "http://example.com/")).toEqual(["sid", "token"]);
    }
    vi.setSystemTime(new Date("2030-01-01T00:00:10.001Z"));
    expect(names(jar, "http://example.com/")).toEqual([]);
  });

  it("expired shared cookies are not sent, even before anything else looked at the jar", () => {
    at("2030-01-01T00:00:00Z");
    const jar = new CookieJar();
    jar.updateCookies(["a=1; Max-Age=5"]);
    jar.updateCookies({ b: { value: "2", expires: new Date("2030-01-01T00:00:05Z") } });
    expect(names(jar, "http://example.com/")).toEqual(["a", "b"]);
    vi.setSystemTime(new Date("2030-01-01T00:00:06Z"));
    expect(names(jar, "http://example.com/")).toEqual([]);
    expect(names(jar, "http://127.0.0.1/")).toEqual([]);
  });

  it("a shared cookie set again already expired is removed", () => {
    const jar = new CookieJar();
    jar.updateCookies({ token: "t" });
    jar.updateCookies({ token: { value: "", maxAge: 0 } });
    expect(jar.size).toBe(0);
    expect(names(jar, "http://example.com/")).toEqual([]);
  });

  it("clear(predicate) removes expired cookies too", () => {
    at("2030-01-01T00:00:00Z");
    const jar = new CookieJar();
    jar.updateCookies(["brief=1; Max-Age=10", "keep=1"], "http://example.com/");
    vi.setSystemTime(new Date("2030-01-01T00:01:00Z"));
    const seen: string[] = [];
    jar.clear((c) => {
      seen.push(c.name);
      return false;
    });
    expect(seen).toEqual(["keep"]);
    expect(listed(jar)).toEqual(["keep"]);
  });

  it("cookies loaded already expired do not appear", async () => {
    at("2030-01-01T00:00:00Z");
    const jar = new CookieJar();
    jar.updateCookies(["brief=1; Max-Age=10", "keep=1; Max-Age=1000"], "http://example.com/");
    jar.updateCookies({ sharedBrief: { value: "1", maxAge: 10 } });
    const file = join(dir, "expires-later.json");
    await jar.save(file);
    vi.setSystemTime(new Date("2030-01-01T00:01:00Z"));
    const back = new CookieJar();
    await back.load(file);
    expect(listed(back)).toEqual(["keep"]);
    expect(back.size).toBe(1);
  });
});

describe("public suffixes with a trailing dot", () => {
  it.each(["com.", ".org.", "co.uk.", "COM."])("Domain=%s is refused, not made host-only", (domain) => {
    const jar = new CookieJar();
    jar.updateCookies([`x=1; Domain=${domain}`], "http://shop.com/");
    jar.updateCookies([`y=1; Domain=${domain}`], "http://shop.org/");
    jar.updateCookies([`z=1; Domain=${domain}`], "http://shop.co.uk/");
    expect(jar.size).toBe(0);
  });

  it("is refused for a cookie given without a response URL too", () => {
    const jar = new CookieJar();
    jar.updateCookies({ x: { value: "1", domain: "com." }, y: { value: "1", domain: ".org." } });
    jar.updateCookies(["z=1; Domain=co.uk."]);
    expect(jar.size).toBe(0);
    expect(names(jar, "http://shop.com/")).toEqual([]);
  });

  it("IP-address domains keep working, with and without the dot", () => {
    const jar = new CookieJar({ unsafe: true });
    jar.updateCookies(["a=1; Domain=127.0.0.1", "b=1; Domain=127.0.0.1."], "http://127.0.0.1/");
    jar.updateCookies({ c: { value: "1", domain: "127.0.0.1" } });
    expect(names(jar, "http://127.0.0.1/")).toEqual(["a", "b", "c"]);
    expect(names(jar, "http://127.0.0.2/")).toEqual([]);
  });

  it("a special-use name such as localhost is a domain, not an error", () => {
    const jar = new CookieJar();
    jar.updateCookies({ a: { value: "1", domain: "localhost" } });
    jar.updateCookies(["b=1; Domain=localhost."], "http://localhost/");
    expect(names(jar, "http://localhost/")).toEqual(["a", "b"]);
  });
});

describe("treatAsSecureOrigin", () => {
  it.each([
    ["a string", "http://127.0.0.1:8080"],
    ["a URL", new URL("http://127.0.0.1:8080/some/path")],
    ["a list", ["http://127.0.0.1:8080"]],
    ["a set of URLs", new Set([new URL("http://127.0.0.1:8080")])],
  ])("takes %s", (_what, origins) => {
    const jar = new CookieJar({ unsafe: true, treatAsSecureOrigin: origins });
    jar.updateCookies(["s=1; Secure"], "http://127.0.0.1:8080/");
    expect(names(jar, "http://127.0.0.1:8080/")).toEqual(["s"]);
    expect(names(jar, "http://127.0.0.1:9090/")).toEqual([]);
  });

  it("refuses what is not an origin, naming it", () => {
    expect(() => new CookieJar({ treatAsSecureOrigin: "not a url" })).toThrow(/"not a url"/);
    expect(() => new CookieJar({ treatAsSecureOrigin: "not a url" })).toThrow(InvalidArgumentError);
    expect(() => new CookieJar({ treatAsSecureOrigin: 42 as never })).toThrow(InvalidArgumentError);
  });
});

describe("Secure from a record", () => {
  it("a record given with secure: true keeps Secure", () => {
    const jar = new CookieJar();
    jar.updateCookies({ s: { value: "1", secure: true } });
    jar.updateCookies({ d: { value: "1", domain: "example.com", secure: true } });
    expect([...jar].map((c) => [c.name, c.secure])).toEqual([
      ["s", true],
      ["d", true],
    ]);
    expect(names(jar, "https://example.com/")).toEqual(["d", "s"]);
    expect(names(jar, "http://example.com/")).toEqual(["s"]);
  });
});

describe("quoting", () => {
  it("quotes values as Python does by default, and not with quoteCookie: false", () => {
    const quoted = new CookieJar();
    const raw = new CookieJar({ quoteCookie: false });
    for (const jar of [quoted, raw]) jar.updateCookies({ q: "a b,c" }, "http://example.com/");
    expect(quoted.filterCookies("http://example.com/").get("q")?.value).toBe('"a b\\054c"');
    expect(raw.filterCookies("http://example.com/").get("q")?.value).toBe("a b,c");
    expect(quoted.quoteCookie).toBe(true);
  });

  it("quoteCookieValue leaves legal and already-quoted values alone", () => {
    expect(quoteCookieValue("abc-123_!:")).toBe("abc-123_!:");
    expect(quoteCookieValue('"already"')).toBe('"already"');
    expect(quoteCookieValue('say "hi"\\')).toBe('"say \\"hi\\"\\\\"');
    expect(quoteCookieValue("é")).toBe('"\\351"');
  });
});

describe("bad input", () => {
  it("throws for invalid names and values given directly", () => {
    const jar = new CookieJar();
    expect(() => jar.updateCookies({ "bad name": "1" })).toThrow(InvalidArgumentError);
    expect(() => jar.updateCookies({ ok: "line\r\nbreak" })).toThrow(InvalidArgumentError);
    expect(() => jar.updateCookies({ ok: "nul\0" })).toThrow(InvalidArgumentError);
    expect(() => jar.updateCookies([["a;b", "1"]])).toThrow(InvalidArgumentError);
    expect(() => jar.updateCookies({ x: 5 as never })).toThrow(InvalidArgumentError);
    expect(() => jar.updateCookies({}, "not a url")).toThrow(InvalidArgumentError);
    expect(jar.size).toBe(0);
  });

  it("silently skips Set-Cookie headers that are not cookies", () => {
    const jar = new CookieJar();
    jar.updateCookies(["", "=novalue", "ok=1", "bad\u0000=x"], "http://example.com/");
    expect(names(jar, "http://example.com/")).toEqual(["ok"]);
  });

  it("a __proto__ cookie is just a cookie", () => {
    const jar = new CookieJar();
    jar.updateCookies(["__proto__=polluted", "constructor=x"], "http://example.com/");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const sent = jar.filterCookies("http://example.com/");
    expect(sent.get("__proto__")?.value).toBe("polluted");
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });
});

describe("limits", () => {
  it("caps cookies per domain, dropping the least recently used", () => {
    const jar = new CookieJar({ maxCookiesPerDomain: 3 });
    for (let i = 0; i < 5; i++) jar.updateCookies([`c${i}=1`], "http://example.com/");
    expect(names(jar, "http://example.com/")).toEqual(["c2", "c3", "c4"]);
  });

  it("caps cookies in total", () => {
    const jar = new CookieJar({ maxCookies: 4 });
    for (let i = 0; i < 6; i++) jar.updateCookies([`c=${i}`], `http://h${i}.example.com/`);
    expect(jar.size).toBe(4);
  });

  it("refuses a cookie larger than maxCookieSize", () => {
    const jar = new CookieJar();
    jar.updateCookies([`big=${"x".repeat(5000)}`, "small=1"], "http://example.com/");
    expect(names(jar, "http://example.com/")).toEqual(["small"]);
  });

  it("keeps the Cookie header within maxHeaderSize", () => {
    const jar = new CookieJar({ maxHeaderSize: 100 });
    for (let i = 0; i < 10; i++) jar.updateCookies([`c${i}=${"v".repeat(20)}`], "http://example.com/");
    const header = cookieHeader(jar.filterCookies("http://example.com/"));
    expect(header.length).toBeLessThanOrEqual(100);
    expect(header.length).toBeGreaterThan(60);
  });

  it("refuses bad limits", () => {
    expect(() => new CookieJar({ maxCookies: 0 })).toThrow(InvalidArgumentError);
    expect(() => new CookieJar({ treatAsSecureOrigin: ["::nope"] })).toThrow(InvalidArgumentError);
  });
});

describe("save and load", () => {
  it("round-trip every attribute, host-only flags and shared cookies", async () => {
    const jar = new CookieJar();
    jar.updateCookies(
      ["host=1", "dom=2; Domain=example.com; Path=/p; Secure; HttpOnly; SameSite=Strict; Max-Age=3600"],
      "https://www.example.com/",
    );
    jar.updateCookies({ shared: "3" });
    const file = join(dir, "jar.json");
    await jar.save(file);
    const copy = new CookieJar();
    await copy.load(file);
    expect([...copy].sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      [...jar].sort((a, b) => a.name.localeCompare(b.name)),
    );
    expect(names(copy, "https://api.example.com/p")).toEqual(["dom", "shared"]);
    expect(names(copy, "https://www.example.com/")).toEqual(["host", "shared"]);
    expect(JSON.parse(readFileSync(file, "utf8")).format).toBe("@x/cookies");
  });

  it("write through a temporary file, leaving nothing else behind", async () => {
    const sub = mkdtempSync(join(dir, "atomic-"));
    const jar = new CookieJar();
    jar.updateCookies(["a=1"], "http://example.com/");
    await jar.save(join(sub, "jar.json"));
    const { readdirSync } = await import("node:fs");
    expect(readdirSync(sub)).toEqual(["jar.json"]);
  });

  it.each([
    ["not JSON", "{nope"],
    ["a foreign JSON file", JSON.stringify({ cookies: [] })],
    [
      "another version",
      JSON.stringify({ format: "@x/cookies", version: 99, jar: { cookies: [] }, shared: [] }),
    ],
    [
      "a malformed entry",
      JSON.stringify({ format: "@x/cookies", version: 1, jar: { cookies: [{ nope: 1 }] }, shared: [] }),
    ],
    ["code", "require('child_process').exec('rm -rf /')"],
  ])("a file holding %s is refused and leaves the jar as it was", async (_what, content) => {
    const file = join(dir, `bad-${Math.random()}.json`);
    writeFileSync(file, content);
    const jar = new CookieJar();
    jar.updateCookies(["keep=1"], "http://example.com/");
    const err = await jar.load(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain(file);
    expect(names(jar, "http://example.com/")).toEqual(["keep"]);
  });
});

describe("DummyCookieJar", () => {
  it("accepts everything and keeps nothing", () => {
    const jar = new DummyCookieJar();
    jar.updateCookies(["a=1"], "http://example.com/");
    jar.updateCookies({ b: "2" });
    expect(jar.size).toBe(0);
    expect(jar.filterCookies("http://example.com/").size).toBe(0);
    expect([...jar]).toEqual([]);
    jar.clear();
    jar.clearDomain("example.com");
  });
});

describe("parseSetCookie", () => {
  it("parses a header into a record, or nothing", () => {
    expect(parseSetCookie("a=1; Domain=.Example.com; Path=/x; HttpOnly")).toMatchObject({
      name: "a",
      value: "1",
      domain: "example.com",
      path: "/x",
      httpOnly: true,
      hostOnly: false,
    });
    expect(parseSetCookie("b=2")).toMatchObject({ domain: "", path: "", hostOnly: true, expires: null });
    expect(parseSetCookie("")).toBeUndefined();
  });
});
