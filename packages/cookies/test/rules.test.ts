import { InvalidArgumentError } from "@x/errors";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  CookieJar,
  type CookieRecord,
  checkCookieJar,
  cookieHeader,
  DummyCookieJar,
  isSecureOrigin,
  parseSetCookie,
  requestCookies,
  selectCookies,
  storableCookie,
} from "../src/index.js";

afterEach(() => {
  vi.useRealTimers();
});

const record = (over: Partial<CookieRecord> & { name: string }): CookieRecord => ({
  value: "1",
  domain: "example.com",
  path: "/",
  expires: null,
  secure: false,
  httpOnly: false,
  sameSite: undefined,
  hostOnly: false,
  ...over,
});
const sent = (m: Map<string, CookieRecord>) => [...m.values()].map((c) => `${c.name}=${c.value}`);

describe("isSecureOrigin", () => {
  it("is true for https and wss, and for the origins treated as secure", () => {
    expect(isSecureOrigin("https://example.com/")).toBe(true);
    expect(isSecureOrigin(new URL("wss://example.com/"))).toBe(true);
    expect(isSecureOrigin("http://example.com/")).toBe(false);
    expect(isSecureOrigin("ws://example.com/")).toBe(false);
    const rules = { treatAsSecureOrigin: ["http://localhost:8080", new URL("http://127.0.0.1:1/x")] };
    expect(isSecureOrigin("http://localhost:8080/any", rules)).toBe(true);
    expect(isSecureOrigin("http://127.0.0.1:1/", rules)).toBe(true);
    expect(isSecureOrigin("http://localhost:8081/", rules)).toBe(false);
    expect(isSecureOrigin("http://localhost:8080/", { treatAsSecureOrigin: "http://localhost:8080/" })).toBe(
      true,
    );
  });

  it("refuses a URL that is not absolute", () => {
    expect(() => isSecureOrigin("/x")).toThrow(
      new InvalidArgumentError('url must be an absolute URL, got "/x"'),
    );
  });
});

describe("storableCookie", () => {
  it("gives nothing for a value that is not a cookie or could not be sent back", () => {
    expect(storableCookie("", "http://example.com/")).toBeUndefined();
    expect(storableCookie("novalue", "http://example.com/")).toBeUndefined();
    expect(storableCookie("a=b\x01c", "http://example.com/")).toBeUndefined();
    expect(storableCookie("a\x7f=b", "http://example.com/")).toBeUndefined();
    expect(storableCookie("a=Ā", "http://example.com/")).toBeUndefined();
    expect(storableCookie("a=é", "http://example.com/")?.value).toBe("é");
  });

  it("without a response URL, shares a cookie with path /, or gives it to the Domain it names", () => {
    expect(storableCookie("a=1; Path=/x")).toMatchObject({ domain: "", path: "/", hostOnly: false });
    expect(storableCookie("a=1; Domain=.Example.COM; Path=/p")).toMatchObject({
      domain: "example.com",
      path: "/p",
      hostOnly: false,
    });
    expect(storableCookie("a=1; Domain=com")).toBeUndefined();
    expect(storableCookie("a=1; Domain=::1", undefined, { unsafe: true })).toMatchObject({ domain: "::1" });
    expect(storableCookie("a=1; Domain=example.com.")).toMatchObject({
      domain: "example.com",
      hostOnly: true,
    });
  });

  it("takes the host, lower-cased, for a cookie without Domain, and the default path", () => {
    expect(storableCookie("a=1", "http://WWW.Example.com/dir/page")).toMatchObject({
      domain: "www.example.com",
      path: "/dir",
      hostOnly: true,
    });
    expect(storableCookie("a=1", "x-app://Example.COM/a/b")).toMatchObject({ domain: "example.com" });
    expect(storableCookie("a=1; Path=relative", "http://example.com/dir/page")?.path).toBe("/dir");
    expect(storableCookie("a=1", "http://example.com/page")?.path).toBe("/");
    expect(storableCookie("a=1; Path=/given", "http://example.com/dir/page")?.path).toBe("/given");
  });

  it("takes a Domain the host belongs to, and refuses one it does not", () => {
    expect(storableCookie("a=1; Domain=EXAMPLE.com", "http://www.example.com/")).toMatchObject({
      domain: "example.com",
      hostOnly: false,
    });
    expect(storableCookie("a=1; Domain=other.com", "http://www.example.com/")).toBeUndefined();
    expect(storableCookie("a=1; Domain=www.example.com", "http://example.com/")).toBeUndefined();
    expect(storableCookie("a=1; Domain=co.uk", "http://shop.co.uk/")).toBeUndefined();
    expect(storableCookie("a=1; Domain=Example.com.", "http://WWW.example.com/")).toMatchObject({
      domain: "www.example.com",
      hostOnly: true,
    });
  });

  it("refuses IP hosts unless unsafe, and Secure cookies from insecure origins", () => {
    expect(storableCookie("a=1", "http://[::1]/")).toBeUndefined();
    expect(storableCookie("a=1", "http://[::1]/", { unsafe: true })).toMatchObject({ domain: "::1" });
    expect(storableCookie("s=1; Secure", "http://example.com/")).toBeUndefined();
    expect(storableCookie("s=1; Secure", "wss://example.com/")).toMatchObject({ secure: true });
  });

  it("holds __Secure- and __Host- cookies to their prefixes", () => {
    const https = "https://example.com/dir/";
    expect(storableCookie("__Secure-a=1", https)).toBeUndefined();
    expect(storableCookie("__Secure-a=1; Secure", https)).toMatchObject({ name: "__Secure-a" });
    expect(storableCookie("__Host-a=1; Path=/", https)).toBeUndefined();
    expect(storableCookie("__Host-a=1; Secure; Path=/", https)).toMatchObject({ path: "/", hostOnly: true });
    expect(storableCookie("__Host-a=1; Secure; Path=/dir", https)).toBeUndefined();
    expect(storableCookie("__Host-a=1; Secure; Path=/; Domain=example.com", https)).toBeUndefined();
    // A Domain with a trailing dot is dropped (aiohttp), so it does not break the prefix.
    expect(storableCookie("__Host-a=1; Secure; Path=/; Domain=example.com.", https)).toMatchObject({
      domain: "example.com",
      hostOnly: true,
    });
    expect(storableCookie("__host-a=1; Path=/x", "http://example.com/")).toMatchObject({ path: "/x" });
  });

  it("keeps the value as received and makes Max-Age absolute", () => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2030-01-01T00:00:00Z") });
    expect(storableCookie("a=x y; Max-Age=60", "http://example.com/")).toMatchObject({
      value: "x y",
      expires: new Date("2030-01-01T00:01:00Z"),
    });
    expect(storableCookie("a=1; Max-Age=0", "http://example.com/")?.expires).toEqual(new Date(0));
  });
});

describe("selectCookies", () => {
  it("skips what has expired, up to and including now", () => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2030-01-01T00:00:00Z") });
    const cookies = [
      record({ name: "past", expires: new Date("2029-12-31T23:59:59Z") }),
      record({ name: "now", expires: new Date("2030-01-01T00:00:00Z") }),
      record({ name: "soon", expires: new Date("2030-01-01T00:00:00.001Z") }),
      record({ name: "session" }),
      record({ name: "sharedPast", domain: "", expires: new Date(0) }),
    ];
    expect(sent(selectCookies(cookies, "http://example.com/"))).toEqual(["soon=1", "session=1"]);
  });

  it("sends shared cookies everywhere, Secure ones and IP hosts included", () => {
    const cookies = [record({ name: "s", domain: "", secure: true, path: "/deep" })];
    expect(sent(selectCookies(cookies, "http://127.0.0.1/"))).toEqual(["s=1"]);
    expect(sent(selectCookies(cookies, "http://example.org/other"))).toEqual(["s=1"]);
  });

  it("sends domain cookies to IP hosts only with unsafe", () => {
    const cookies = [record({ name: "ip", domain: "127.0.0.1", hostOnly: true })];
    expect(sent(selectCookies(cookies, "http://127.0.0.1/"))).toEqual([]);
    expect(sent(selectCookies(cookies, "http://127.0.0.1/", { unsafe: true }))).toEqual(["ip=1"]);
  });

  it("matches host-only cookies exactly and domain cookies with their subdomains", () => {
    const cookies = [
      record({ name: "host", hostOnly: true }),
      record({ name: "dom" }),
      record({ name: "www", domain: "www.example.com" }),
    ];
    expect(sent(selectCookies(cookies, "http://example.com/"))).toEqual(["host=1", "dom=1"]);
    expect(sent(selectCookies(cookies, "http://a.www.example.com/"))).toEqual(["www=1", "dom=1"]);
    expect(sent(selectCookies(cookies, "http://notexample.com/"))).toEqual([]);
  });

  it("matches paths by segment, and Secure only over a secure origin", () => {
    const cookies = [record({ name: "p", path: "/app" }), record({ name: "s", secure: true })];
    expect(sent(selectCookies(cookies, "http://example.com/app/x"))).toEqual(["p=1"]);
    expect(sent(selectCookies(cookies, "http://example.com/application"))).toEqual([]);
    expect(sent(selectCookies(cookies, "https://example.com/app"))).toEqual(["p=1", "s=1"]);
  });

  it("orders longer paths first, then more specific domains, shared cookies last, else as given", () => {
    const cookies = [
      record({ name: "z", domain: "" }),
      record({ name: "a" }),
      record({ name: "deep", path: "/a/b" }),
      record({ name: "n", value: "parent" }),
      record({ name: "n", value: "child", domain: "www.example.com" }),
      record({ name: "n", value: "shared", domain: "" }),
      record({ name: "b" }),
    ];
    expect(sent(selectCookies(cookies, "http://www.example.com/a/b/c"))).toEqual([
      "deep=1",
      "n=child",
      "a=1",
      "b=1",
      "z=1",
    ]);
  });

  it("quotes values unless told not to, without changing the records given", () => {
    const given = record({ name: "q", value: "a b" });
    expect(selectCookies([given], "http://example.com/").get("q")?.value).toBe('"a b"');
    expect(selectCookies([given], "http://example.com/", { quoteCookie: true }).get("q")?.value).toBe(
      '"a b"',
    );
    expect(selectCookies([given], "http://example.com/", { quoteCookie: false }).get("q")).toEqual(given);
    expect(given.value).toBe("a b");
  });
});

describe("requestCookies", () => {
  it("lets a later cookie of a name, domain and path replace an earlier one, in its own place", () => {
    const out = requestCookies(["a=1", "b=2", "a=3"], "http://example.com/");
    expect(sent(out)).toEqual(["b=2", "a=3"]);
  });

  it("keeps cookies of one name but different domains apart", () => {
    const out = requestCookies(["a=shared", "a=scoped; Domain=example.com"], "http://www.example.com/");
    expect(sent(out)).toEqual(["a=scoped"]);
    expect(sent(requestCookies(["a=shared", "a=scoped; Domain=example.com"], "http://example.org/"))).toEqual(
      ["a=shared"],
    );
  });

  it("drops a cookie that expires now, and an expired one deletes an earlier of its identity only", () => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2030-01-01T00:00:00Z") });
    expect(
      requestCookies({ a: { value: "1", expires: new Date("2030-01-01T00:00:00Z") } }, "http://h.test/").size,
    ).toBe(0);
    expect(
      sent(requestCookies(["a=1", "a=2; Domain=h.test", "a=; Domain=h.test; Max-Age=0"], "http://h.test/")),
    ).toEqual(["a=1"]);
  });

  it("sends to IP hosts and quotes unless told not to", () => {
    expect(sent(requestCookies({ a: "x y" }, "http://10.0.0.1/"))).toEqual(['a="x y"']);
    expect(sent(requestCookies({ a: "x y" }, "http://10.0.0.1/", { quoteCookie: false }))).toEqual(["a=x y"]);
    expect(sent(requestCookies({ a: "x y" }, "http://10.0.0.1/", {}))).toEqual(['a="x y"']);
  });

  it("skips Set-Cookie strings that are not cookies", () => {
    expect(sent(requestCookies(["a=1", "bad\x01=1", "b=2"], "http://h.test/"))).toEqual(["a=1", "b=2"]);
  });
});

describe("checkCookieJar", () => {
  it("names what it got when it is not an object", () => {
    expect(() => checkCookieJar(undefined)).toThrow(
      "cookieJar must be a cookie jar (an AbstractCookieJar), got undefined",
    );
    expect(() => checkCookieJar(5, "jar")).toThrow("jar must be a cookie jar (an AbstractCookieJar), got 5");
    const fn = Object.assign(() => {}, { updateCookiesFromHeaders() {}, filterCookies() {} });
    expect(() => checkCookieJar(fn)).toThrow(InvalidArgumentError);
  });

  it("names each missing method, and the hint only for an old jar", () => {
    expect(() => checkCookieJar({ updateCookiesFromHeaders() {} })).toThrow(
      new InvalidArgumentError("cookieJar must implement AbstractCookieJar: missing filterCookies"),
    );
    expect(() => checkCookieJar({ updateCookiesFromHeaders: "no", filterCookies() {} })).toThrow(
      new InvalidArgumentError(
        "cookieJar must implement AbstractCookieJar: missing updateCookiesFromHeaders",
      ),
    );
    expect(() => checkCookieJar({ updateCookies() {} }, "s.jar")).toThrow(
      new InvalidArgumentError(
        "s.jar must implement AbstractCookieJar: missing updateCookiesFromHeaders and filterCookies; a jar with updateCookies(cookies, responseUrl) needs updateCookiesFromHeaders(headers, responseUrl)",
      ),
    );
  });
});

describe("cookieHeader", () => {
  it("joins name=value pairs with '; ', from a Map, any map-like object or a list", () => {
    expect(cookieHeader(new Map())).toBe("");
    expect(cookieHeader([])).toBe("");
    const mapLike = {
      get: () => undefined,
      values: () => [{ name: "m", value: "1" }][Symbol.iterator](),
      [Symbol.iterator]: () => [["ignored", { name: "x", value: "0" }]][Symbol.iterator](),
    };
    expect(cookieHeader(mapLike as never)).toBe("m=1");
    expect(
      cookieHeader(
        new Map([
          ["a", { name: "a", value: "1" }],
          ["b", { name: "b", value: '"q"' }],
        ]),
      ),
    ).toBe('a=1; b="q"');
  });
});

describe("DummyCookieJar", () => {
  it("keeps nothing, whatever it is given, and its answers are fresh", () => {
    const jar = new DummyCookieJar();
    jar.updateCookiesFromHeaders(["a=1"], "http://example.com/");
    jar.updateCookies({ b: "1" }, "http://example.com/");
    const first = jar.filterCookies("http://example.com/");
    first.set("x", {} as never);
    expect(jar.filterCookies("http://example.com/").size).toBe(0);
    expect(jar.size).toBe(0);
    expect([...jar]).toEqual([]);
    expect(checkCookieJar(jar)).toBe(jar);
  });
});

describe("a doubled leading dot in Domain", () => {
  it("is ignored by storableCookie and CookieJar alike, as aiohttp ignores it", () => {
    for (const domain of ["..example.com", "..Example.com", "...example.com", "..", "..com"]) {
      const header = `a=1; Domain=${domain}`;
      expect(storableCookie(header, "http://www.example.com/"), domain).toBeUndefined();
      expect(storableCookie(header), domain).toBeUndefined();
      const jar = new CookieJar();
      jar.updateCookiesFromHeaders([header], "http://www.example.com/");
      jar.updateCookiesFromHeaders([header]);
      expect(jar.size, domain).toBe(0);
      expect([...jar.filterCookies("http://www.example.com/").keys()], domain).toEqual([]);
    }
    // One leading dot is dropped, as RFC 6265 says.
    expect(storableCookie("a=1; Domain=.example.com", "http://www.example.com/")?.domain).toBe("example.com");
    // parseSetCookie reports what the header says, without the dots.
    expect(parseSetCookie("a=1; Domain=..Example.com")?.domain).toBe("example.com");
  });
});

describe("bad URLs given to the rule helpers", () => {
  it("are named in the error", () => {
    expect(() => storableCookie("a=1", "nope")).toThrow(
      new InvalidArgumentError('responseUrl must be an absolute URL, got "nope"'),
    );
    expect(() => selectCookies([], "nope")).toThrow(
      new InvalidArgumentError('requestUrl must be an absolute URL, got "nope"'),
    );
    expect(() => requestCookies({ a: "1" }, "nope")).toThrow(
      new InvalidArgumentError('requestUrl must be an absolute URL, got "nope"'),
    );
  });
});

describe("odd input the helpers must not trip on", () => {
  it("a Domain that is no domain name is ignored, not thrown", () => {
    for (const domain of ["ex%ample.com", "a b.com", "[::1"]) {
      expect(storableCookie(`a=1; Domain=${domain}`), domain).toBeUndefined();
      expect(storableCookie(`a=1; Domain=${domain}`, "http://example.com/"), domain).toBeUndefined();
      const jar = new CookieJar();
      jar.updateCookiesFromHeaders([`a=1; Domain=${domain}`]);
      jar.updateCookiesFromHeaders([`a=1; Domain=${domain}`], "http://example.com/");
      expect(jar.size, domain).toBe(0);
    }
  });

  it("requestCookies sends a cookie naming an IP Domain to that IP", () => {
    expect(sent(requestCookies(["a=1; Domain=10.0.0.1"], "http://10.0.0.1/"))).toEqual(["a=1"]);
    expect(sent(requestCookies(["a=1; Domain=10.0.0.1"], "http://10.0.0.2/"))).toEqual([]);
  });

  it("cookieHeader takes a one-shot iterable too", () => {
    function* cookies() {
      yield { name: "a", value: "1" };
      yield { name: "b", value: "2" };
    }
    expect(cookieHeader(cookies())).toBe("a=1; b=2");
  });

  it("a treatAsSecureOrigin that is not a URL is named in full", () => {
    expect(() => isSecureOrigin("https://x.test/", { treatAsSecureOrigin: ["nope"] })).toThrow(
      new InvalidArgumentError('treatAsSecureOrigin must be an absolute URL, got "nope"'),
    );
  });
});
