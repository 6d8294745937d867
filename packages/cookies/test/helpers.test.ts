import { InvalidArgumentError } from "@x/errors";
import { describe, expect, it } from "vitest";
import {
  CookieJar,
  checkCookieJar,
  cookieHeader,
  DummyCookieJar,
  parseSetCookie,
  requestCookies,
  selectCookies,
  storableCookie,
  toSetCookieHeaders,
} from "../src/index.js";

describe("toSetCookieHeaders", () => {
  it("turns every input shape into Set-Cookie values", () => {
    expect(toSetCookieHeaders("a=1; Path=/")).toEqual(["a=1; Path=/"]);
    expect(toSetCookieHeaders(["a=1", "b=2"])).toEqual(["a=1", "b=2"]);
    expect(toSetCookieHeaders({ a: "1", b: "x y" })).toEqual(["a=1", "b=x y"]);
    expect(toSetCookieHeaders([["a", "1"]])).toEqual(["a=1"]);
    expect(toSetCookieHeaders(new Map([["m", "1"]]))).toEqual(["m=1"]);
  });

  it("writes every attribute a record gives", () => {
    const [header] = toSetCookieHeaders({
      full: {
        value: "v",
        domain: "example.com",
        path: "/p",
        expires: new Date("2098-01-01T00:00:00Z"),
        maxAge: 60,
        secure: true,
        httpOnly: true,
        sameSite: "lax",
      },
    });
    expect(header).toBe(
      "full=v; Domain=example.com; Path=/p; Expires=Wed, 01 Jan 2098 00:00:00 GMT; Max-Age=60; Secure; HttpOnly; SameSite=Lax",
    );
  });

  it("keeps leading and trailing spaces of a value by quoting it", () => {
    expect(toSetCookieHeaders({ a: " padded " })).toEqual(['a=" padded "']);
    const jar = new CookieJar();
    jar.updateCookies({ a: " padded " }, "http://example.com/");
    expect(jar.filterCookies("http://example.com/").get("a")?.value).toBe('" padded "');
  });

  it.each([
    ["a number", 5],
    ["null", null],
    ["a list of numbers", [1, 2]],
    ["a triple", [["a", "1", "x"]]],
    ["a bad name", { "bad name": "1" }],
    ["a value with CR LF", { a: "x\r\nSet-Cookie: evil=1" }],
    ["a value with ;", { a: "x; Domain=evil.com" }],
    ["a non-string value", { a: 5 }],
    ["a domain that injects an attribute", { a: { value: "1", domain: "example.com; Secure" } }],
    ["a path with a space", { a: { value: "1", path: "/a b" } }],
    ["an invalid date", { a: { value: "1", expires: new Date("nope") } }],
    ["a fractional maxAge", { a: { value: "1", maxAge: 1.5 } }],
    ["an unknown sameSite", { a: { value: "1", sameSite: "sometimes" } }],
  ])("refuses %s with InvalidArgumentError", (_what, input) => {
    expect(() => toSetCookieHeaders(input as never)).toThrow(InvalidArgumentError);
  });

  it("checks every record before returning any", () => {
    const jar = new CookieJar();
    expect(() =>
      jar.updateCookies(
        [
          ["ok", "1"],
          ["bad name", "2"],
        ],
        "http://example.com/",
      ),
    ).toThrow(InvalidArgumentError);
    expect(jar.size).toBe(0);
  });
});

describe("requestCookies: per-request cookies without a temporary jar", () => {
  it("gives shared cookies for any URL, IP hosts included, quoted unless told not to", () => {
    const url = new URL("http://127.0.0.1:8080/x");
    const quoted = requestCookies({ a: "1", q: "a b,c" }, url);
    expect([...quoted].map(([n, c]) => `${n}=${c.value}`)).toEqual(["a=1", 'q="a b\\054c"']);
    const raw = requestCookies({ q: "a b,c" }, url, { quoteCookie: false });
    expect(raw.get("q")?.value).toBe("a b,c");
  });

  it("sends a cookie that names a Domain only there, and drops expired ones", () => {
    const input = {
      scoped: { value: "1", domain: "example.com" },
      secure: { value: "1", domain: "example.com", secure: true },
      gone: { value: "1", maxAge: 0 },
    };
    expect([...requestCookies(input, "https://api.example.com/").keys()].sort()).toEqual([
      "scoped",
      "secure",
    ]);
    expect([...requestCookies(input, "http://api.example.com/").keys()]).toEqual(["scoped"]);
    expect([...requestCookies(input, "http://example.org/").keys()]).toEqual([]);
  });

  it("a later cookie of a name replaces an earlier one", () => {
    expect(requestCookies(["a=1", "a=2"], "http://example.com/").get("a")?.value).toBe("2");
    expect(requestCookies(["a=1", "a=; Max-Age=0"], "http://example.com/").size).toBe(0);
  });

  it("refuses bad input and bad URLs with InvalidArgumentError", () => {
    expect(() => requestCookies({ "bad name": "1" }, "http://example.com/")).toThrow(InvalidArgumentError);
    expect(() => requestCookies({ a: "1" }, "not a url")).toThrow(InvalidArgumentError);
  });
});

describe("storableCookie and selectCookies", () => {
  it("resolve domain, path, host-only and an absolute expiry", () => {
    const before = Date.now();
    const c = storableCookie("a=1; Max-Age=60", "http://App.Example.com/dir/page");
    expect(c).toMatchObject({ name: "a", domain: "app.example.com", path: "/dir", hostOnly: true });
    expect(c?.expires?.getTime()).toBeGreaterThanOrEqual(before + 60_000);
    expect(storableCookie("a=1; Max-Age=0", "http://example.com/")?.expires?.getTime()).toBeLessThan(before);
    expect(storableCookie("a=1; Domain=com.", "http://shop.com/")).toBeUndefined();
    expect(storableCookie("a=1", "http://127.0.0.1/")).toBeUndefined();
    expect(storableCookie("a=1", "http://127.0.0.1/", { unsafe: true })?.domain).toBe("127.0.0.1");
    expect(storableCookie("s=1; Secure", "http://localhost:8080/")).toBeUndefined();
    expect(
      storableCookie("s=1; Secure", "http://localhost:8080/", {
        treatAsSecureOrigin: "http://localhost:8080",
      }),
    ).toMatchObject({ secure: true });
  });

  it("a __Host- cookie must name Path=/ itself", () => {
    expect(storableCookie("__Host-a=1; Secure", "https://example.com/")).toBeUndefined();
    expect(storableCookie("__Host-a=1; Secure; Path=/", "https://example.com/")).toMatchObject({ path: "/" });
    expect(
      storableCookie("__Host-a=1; Secure; Path=/; Domain=example.com", "https://example.com/"),
    ).toBeUndefined();
  });

  it("selectCookies sends the most specific of a name and honours treatAsSecureOrigin", () => {
    const url = "http://localhost:8080/a/b";
    const stored = ["n=root; Path=/", "n=deep; Path=/a", "s=1; Secure; Path=/"].map(
      (h) => storableCookie(h, "https://localhost:8080/")!,
    );
    expect(cookieHeader(selectCookies(stored, url))).toBe("n=deep");
    expect(cookieHeader(selectCookies(stored, url, { treatAsSecureOrigin: ["http://localhost:8080"] }))).toBe(
      "n=deep; s=1",
    );
  });
});

describe("checkCookieJar", () => {
  it("accepts any object with the two required methods, sync or async", () => {
    const jar = { updateCookiesFromHeaders: async () => {}, filterCookies: async () => new Map() };
    expect(checkCookieJar(jar)).toBe(jar);
    expect(checkCookieJar(new CookieJar())).toBeInstanceOf(CookieJar);
    expect(checkCookieJar(new DummyCookieJar())).toBeInstanceOf(DummyCookieJar);
  });

  it("names what is missing, and tells an old five-method jar what to add", () => {
    expect(() => checkCookieJar({ filterCookies() {} })).toThrow(/missing updateCookiesFromHeaders/);
    expect(() => checkCookieJar({})).toThrow(/updateCookiesFromHeaders and filterCookies/);
    expect(() => checkCookieJar({ updateCookies() {}, filterCookies() {} })).toThrow(
      /needs updateCookiesFromHeaders\(headers, responseUrl\)/,
    );
    expect(() => checkCookieJar(null, "session.cookieJar")).toThrow(/^session\.cookieJar must be/);
    expect(() => checkCookieJar("jar")).toThrow(InvalidArgumentError);
  });
});

describe("CookieJar.updateCookiesFromHeaders", () => {
  it("takes the Set-Cookie values of a response and its URL, as a string or a URL", () => {
    const jar = new CookieJar();
    jar.updateCookiesFromHeaders(["a=1"], new URL("http://example.com/"));
    jar.updateCookiesFromHeaders(["b=2"], "http://example.com/");
    jar.updateCookiesFromHeaders(["shared=3"]);
    expect(cookieHeader(jar.filterCookies(new URL("http://example.com/")))).toBe("a=1; b=2; shared=3");
  });

  it("refuses anything but a list of strings", () => {
    const jar = new CookieJar();
    expect(() => jar.updateCookiesFromHeaders("a=1" as never)).toThrow(InvalidArgumentError);
    expect(() => jar.updateCookiesFromHeaders([1] as never)).toThrow(InvalidArgumentError);
    expect(() => jar.updateCookiesFromHeaders(["a=1"], "nope" as never)).toThrow(InvalidArgumentError);
  });
});

describe("cookieHeader and parseSetCookie", () => {
  it("cookieHeader takes any map of name → { name, value } and any list of cookies", () => {
    expect(cookieHeader(new Map([["a", { name: "a", value: "1" }]]))).toBe("a=1");
    expect(
      cookieHeader([
        { name: "a", value: "1" },
        { name: "b", value: "2" },
      ]),
    ).toBe("a=1; b=2");
  });

  it("parseSetCookie reports a deleting cookie as already expired", () => {
    expect(parseSetCookie("a=; Max-Age=0")?.expires?.getTime()).toBeLessThanOrEqual(Date.now());
    expect(parseSetCookie("a=1; Max-Age=60")?.expires?.getTime()).toBeGreaterThan(Date.now() + 59_000);
  });
});
