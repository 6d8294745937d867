import { InvalidArgumentError } from "@x/errors";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CookieJar, parseSetCookie, toSetCookieHeaders } from "../src/index.js";

/** The one Set-Cookie value a record of one cookie gives. */
const one = (name: string, attrs: unknown) => toSetCookieHeaders({ [name]: attrs as never })[0];

describe("toSetCookieHeaders: what a record writes", () => {
  it("leaves out empty and absent attributes, and false flags", () => {
    expect(
      one("a", { value: "1", domain: "", path: "", expires: null, secure: false, httpOnly: false }),
    ).toBe("a=1");
    expect(one("a", { value: "1", domain: undefined, path: undefined, maxAge: undefined })).toBe("a=1");
  });

  it("writes each attribute on its own", () => {
    expect(one("a", { value: "1", domain: "example.com" })).toBe("a=1; Domain=example.com");
    expect(one("a", { value: "1", path: "/p" })).toBe("a=1; Path=/p");
    expect(one("a", { value: "1", expires: new Date("2031-02-03T04:05:06.789Z") })).toBe(
      "a=1; Expires=Mon, 03 Feb 2031 04:05:06 GMT",
    );
    expect(one("a", { value: "1", maxAge: 0 })).toBe("a=1; Max-Age=0");
    expect(one("a", { value: "1", maxAge: -1 })).toBe("a=1; Max-Age=-1");
    expect(one("a", { value: "1", secure: true })).toBe("a=1; Secure");
    expect(one("a", { value: "1", httpOnly: true })).toBe("a=1; HttpOnly");
  });

  it.each([
    ["strict", "Strict"],
    ["LAX", "Lax"],
    ["None", "None"],
  ])("writes sameSite %s as %s", (given, written) => {
    expect(one("a", { value: "1", sameSite: given })).toBe(`a=1; SameSite=${written}`);
  });

  it("quotes a value with a leading or trailing space, not one with an inner space", () => {
    expect(one("a", " x")).toBe('a=" x"');
    expect(one("a", "x ")).toBe('a="x "');
    expect(one("a", "x y")).toBe("a=x y");
    expect(one("a", "")).toBe("a=");
  });

  it("passes Set-Cookie strings in a list through unchanged, next to pairs", () => {
    expect(toSetCookieHeaders(["raw=1; Path=/x", ["b", { value: "2", path: "/y" }]] as never)).toEqual([
      "raw=1; Path=/x",
      "b=2; Path=/y",
    ]);
    expect(toSetCookieHeaders(new Set(["s=1"]))).toEqual(["s=1"]);
    expect(toSetCookieHeaders([])).toEqual([]);
    expect(toSetCookieHeaders({})).toEqual([]);
  });
});

describe("toSetCookieHeaders: what it refuses, and how it says so", () => {
  it("names the shape it got", () => {
    expect(() => toSetCookieHeaders(null as never)).toThrow(/got null$/);
    expect(() => toSetCookieHeaders(undefined as never)).toThrow(/got undefined$/);
    expect(() => toSetCookieHeaders(7 as never)).toThrow(/got number$/);
    for (const bad of [[7], [["a"]], [["a", "1", "2"]], [[1, "1"]], [null]]) {
      expect(() => toSetCookieHeaders(bad as never), JSON.stringify(bad)).toThrow(
        new InvalidArgumentError("cookies must be a record, [name, value] pairs or Set-Cookie strings"),
      );
    }
  });

  it.each([
    "",
    " ",
    "a b",
    "a\tb",
    "a=b",
    "a;b",
    "a,b",
    "a:b",
    "(a)",
    "<a>",
    "a@b",
    "a\\b",
    'a"b',
    "a/b",
    "[a]",
    "a?",
    "{a}",
    "a\x7f",
    "a\x00",
    "naïveĀ",
  ])("refuses the name %j", (name) => {
    expect(() => toSetCookieHeaders({ [name]: "1" })).toThrow(`invalid cookie name ${JSON.stringify(name)}`);
  });

  it("takes names with every other token character", () => {
    expect(toSetCookieHeaders({ "!#$%&'*+-.^_`|~09AZaz": "1" })).toEqual(["!#$%&'*+-.^_`|~09AZaz=1"]);
  });

  it.each(["a\x00", "a\tb", "a\nb", "a\x1fb", "a\x7fb", "a;b", "Ā"])("refuses the value %j", (value) => {
    expect(() => toSetCookieHeaders({ c: value })).toThrow(
      "cookie \"c\" has a control character or ';' in its value",
    );
  });

  it("takes values with quotes, commas, spaces and latin1 letters", () => {
    expect(toSetCookieHeaders({ c: 'x "y", é' })).toEqual(['c=x "y", é']);
  });

  it("needs a string value", () => {
    for (const bad of [5, null, { value: 5 }, {}, { value: null }]) {
      expect(() => toSetCookieHeaders({ c: bad } as never), JSON.stringify(bad)).toThrow(
        'cookie "c" needs a string value',
      );
    }
  });

  it.each([
    ["domain", { domain: "a b.com" }, "domain must be a domain name"],
    ["domain", { domain: "a.com;x" }, "domain must be a domain name"],
    ["domain", { domain: "a.com,b.com" }, "domain must be a domain name"],
    ["domain", { domain: "a.com\n" }, "domain must be a domain name"],
    ["domain", { domain: "ā.com" }, "domain must be a domain name"],
    ["domain", { domain: 5 }, "domain must be a domain name"],
    ["path", { path: "/a;b" }, "path must be a URL path"],
    ["path", { path: "/a\tb" }, "path must be a URL path"],
    ["path", { path: "/a,b" }, "path must be a URL path"],
    ["path", { path: 5 }, "path must be a URL path"],
    ["expires", { expires: "tomorrow" }, "expires must be a valid Date"],
    ["expires", { expires: Date.now() }, "expires must be a valid Date"],
    ["maxAge", { maxAge: "60" }, "maxAge must be a whole number of seconds"],
    ["maxAge", { maxAge: Number.NaN }, "maxAge must be a whole number of seconds"],
    ["maxAge", { maxAge: null }, "maxAge must be a whole number of seconds"],
    ["sameSite", { sameSite: "" }, 'sameSite must be "strict", "lax" or "none"'],
    ["sameSite", { sameSite: "laxx" }, 'sameSite must be "strict", "lax" or "none"'],
    ["sameSite", { sameSite: "constructor" }, 'sameSite must be "strict", "lax" or "none"'],
    ["sameSite", { sameSite: "__proto__" }, 'sameSite must be "strict", "lax" or "none"'],
  ])("refuses a bad %s (%j)", (_what, attrs, message) => {
    expect(() => toSetCookieHeaders({ c: { value: "1", ...attrs } as never })).toThrow(
      `cookie "c": ${message}`,
    );
  });
});

describe("parseSetCookie", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("reports every attribute a header gives", () => {
    expect(
      parseSetCookie(
        "sid=abc; Domain=.Example.COM; Path=/app; Expires=Wed, 01 Jan 2098 00:00:00 GMT; Secure; HttpOnly; SameSite=Strict",
      ),
    ).toEqual({
      name: "sid",
      value: "abc",
      domain: "example.com",
      path: "/app",
      expires: new Date("2098-01-01T00:00:00Z"),
      secure: true,
      httpOnly: true,
      sameSite: "strict",
      hostOnly: false,
    });
  });

  it("reports a bare cookie as host-only, session-long, with no path, flags or SameSite", () => {
    expect(parseSetCookie("a=1")).toEqual({
      name: "a",
      value: "1",
      domain: "",
      path: "",
      expires: null,
      secure: false,
      httpOnly: false,
      sameSite: undefined,
      hostOnly: true,
    });
  });

  it.each([
    ["SameSite=Lax", "lax"],
    ["SameSite=NONE", "none"],
    ["SameSite=strict", "strict"],
    ["SameSite=sometimes", undefined],
    ["SameSite", undefined],
  ])("reads %s as %s", (attr, sameSite) => {
    expect(parseSetCookie(`a=1; ${attr}`)?.sameSite).toBe(sameSite);
  });

  it("counts Max-Age from now, and lets it win over Expires", () => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2030-06-01T12:00:00Z") });
    expect(parseSetCookie("a=1; Max-Age=90")?.expires).toEqual(new Date("2030-06-01T12:01:30Z"));
    expect(parseSetCookie("a=1; Expires=Wed, 01 Jan 2098 00:00:00 GMT; Max-Age=90")?.expires).toEqual(
      new Date("2030-06-01T12:01:30Z"),
    );
    expect(parseSetCookie("a=1; Max-Age=0")?.expires).toEqual(new Date(0));
    expect(parseSetCookie("a=1; Max-Age=-3")?.expires).toEqual(new Date(0));
  });

  it("gives no expiry for an Expires it cannot read or a Max-Age no date can hold", () => {
    expect(parseSetCookie("a=1; Expires=someday")?.expires).toBeNull();
    expect(parseSetCookie("a=1; Max-Age=99999999999999")?.expires).toBeNull();
  });

  it("ignores a Path that does not start with a slash", () => {
    expect(parseSetCookie("a=1; Path=app")?.path).toBe("");
  });

  it("agrees with what a jar stores from the same header", () => {
    const header = "k=v; Domain=example.com; Path=/x; Max-Age=60; HttpOnly; SameSite=Lax";
    const jar = new CookieJar();
    jar.updateCookiesFromHeaders([header], "http://www.example.com/x/y");
    const stored = [...jar][0];
    const parsed = parseSetCookie(header);
    expect(parsed).toMatchObject({ ...stored, expires: expect.any(Date) });
    expect(Math.abs((parsed?.expires?.getTime() ?? 0) - (stored?.expires?.getTime() ?? 0))).toBeLessThan(
      1000,
    );
  });
});
