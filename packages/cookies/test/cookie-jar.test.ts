import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "@x/errors";
import { afterAll, describe, expect, it } from "vitest";
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

  it("sends longer paths first and only the most specific cookie of a name", () => {
    const jar = new CookieJar();
    jar.updateCookies(["n=root; Path=/", "n=deep; Path=/a/b", "m=1; Path=/a"], "http://example.com/");
    const sent = jar.filterCookies("http://example.com/a/b/c");
    expect([...sent.keys()]).toEqual(["n", "m"]);
    expect(sent.get("n")?.value).toBe("deep");
    expect(cookieHeader(sent)).toBe("n=deep; m=1");
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
