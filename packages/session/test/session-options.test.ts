import { BasicAuth } from "@x/auth";
import { type AbstractCookieJar, type CookieRecord, parseSetCookie } from "@x/cookies";
import { InvalidArgumentError, InvalidUrlClientError, NonHttpUrlClientError } from "@x/errors";
import { startHttpServer } from "@x/fixtures";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ClientSession, DEFAULT_TIMEOUT } from "../src/index.js";

// ClientSession options as a user gives them: each bad one refused at construction with an
// @x/errors class and a message naming the option, the defaults in place otherwise.

function refusal(make: () => unknown): Error {
  try {
    make();
  } catch (err) {
    return err as Error;
  }
  throw new Error("nothing was refused");
}

const session = (options: unknown) => new ClientSession(options as never);

describe("refused at construction", () => {
  it("options that are null (not an object)", () => {
    const err = refusal(() => session(null));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toBe("options must be an object");
  });

  // An Auth is an object with an encode() method: null, text and callables are not one.
  it.each<[string, unknown]>([
    ["null", null],
    ["a header value as text", "Basic dTpw"],
    [
      "a function carrying an encode() method",
      Object.assign(() => "Basic dTpw", { encode: () => "Basic dTpw" }),
    ],
  ])("auth and proxyAuth given as %s", (_what, value) => {
    for (const name of ["auth", "proxyAuth"]) {
      const err = refusal(() => session({ [name]: value }));
      expect(err, name).toBeInstanceOf(InvalidArgumentError);
      expect(err.message, name).toBe(`${name} must have an encode() method`);
    }
  });

  it("an Auth from @x/auth and a plain { encode() } object are taken", async () => {
    await using a = new ClientSession({ auth: new BasicAuth("u", "p"), proxyAuth: { encode: () => "x" } });
    expect(a.closed).toBe(false);
  });

  // HTTP/1.0 and HTTP/1.1 only, as "1.0"/"1.1" or aiohttp's {major, minor}.
  it.each<[string, unknown]>([
    ["2.1", { major: 2, minor: 1 }],
    ["1.5", { major: 1, minor: 5 }],
    ["0.1", { major: 0, minor: 1 }],
    ["a function with major 1 and minor 1", Object.assign(() => {}, { major: 1, minor: 1 })],
  ])("version %s", (_what, version) => {
    const err = refusal(() => session({ version }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toBe('version must be "1.0" or "1.1"');
  });

  it("a proxy that is not an http(s) URL, with a message naming the option", () => {
    const ftp = refusal(() => session({ proxy: "ftp://proxy.test:21" }));
    expect(ftp).toBeInstanceOf(NonHttpUrlClientError);
    expect(ftp.message).toBe(
      "ftp://proxy.test:21 - proxy must be an http:// or https:// proxy (ftp: is not supported)",
    );
    const hostless = refusal(() => session({ proxy: "http:///nothing" }));
    expect(hostless).toBeInstanceOf(InvalidUrlClientError);
    expect(hostless.message).toBe(
      "http:///nothing - proxy must be an absolute http:// or https:// URL with a host",
    );
    const number = refusal(() => session({ proxy: 8080 }));
    expect(number).toBeInstanceOf(InvalidArgumentError);
    expect(number.message).toBe("proxy must be a URL (a string or a URL object), got number");
  });

  it("a cookieJar that is not a cookie jar, with a message naming the option", () => {
    const number = refusal(() => session({ cookieJar: 42 }));
    expect(number).toBeInstanceOf(InvalidArgumentError);
    expect(number.message).toBe("cookieJar must be a cookie jar (an AbstractCookieJar), got 42");
    const empty = refusal(() => session({ cookieJar: {} }));
    expect(empty).toBeInstanceOf(InvalidArgumentError);
    expect(empty.message).toBe(
      "cookieJar must implement AbstractCookieJar: missing updateCookiesFromHeaders and filterCookies",
    );
  });
});

describe("defaults", () => {
  it("timeout: DEFAULT_TIMEOUT itself, also when readTimeout/connTimeout are given as undefined", async () => {
    // As aiohttp's `ClientSession().timeout is DEFAULT_TIMEOUT`.
    await using plain = new ClientSession();
    expect(plain.timeout).toBe(DEFAULT_TIMEOUT);
    await using spelled = new ClientSession({ readTimeout: undefined, connTimeout: undefined });
    expect(spelled.timeout).toBe(DEFAULT_TIMEOUT);
    // The seed-era spellings do set their fields.
    await using seed = new ClientSession({ readTimeout: 1234, connTimeout: 567 });
    expect(seed.timeout).toEqual({ ...DEFAULT_TIMEOUT, total: 1234, connect: 567 });
  });
});

describe("proxy: null on the session", () => {
  const names = ["HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"];
  const saved = new Map(names.map((n) => [n, process.env[n]]));
  beforeEach(() => {
    for (const n of names) delete process.env[n];
  });
  afterEach(() => {
    for (const [n, v] of saved) {
      if (v === undefined) delete process.env[n];
      else process.env[n] = v;
    }
  });

  it("is taken, and every request goes direct, even with trustEnv and HTTP_PROXY set", async () => {
    await using proxy = await startHttpServer((_req, res) => res.end("proxy"));
    await using target = await startHttpServer((_req, res) => res.end("direct"));
    process.env.http_proxy = proxy.origin;
    // Control: with trustEnv the environment's proxy is used...
    await using trusting = new ClientSession({ trustEnv: true });
    expect(await (await trusting.get(target.url("/"))).text()).toBe("proxy");
    // ...unless the session says null.
    await using direct = session({ proxy: null, trustEnv: true });
    expect(await (await direct.get(target.url("/"))).text()).toBe("direct");
  });
});

describe("the session's cookies in a cookie jar that answers with promises", () => {
  function asyncJar(fail?: Error): AbstractCookieJar {
    const stored = new Map<string, CookieRecord>();
    return {
      async updateCookiesFromHeaders(headers: readonly string[]) {
        await new Promise((resolve) => setTimeout(resolve, 30));
        if (fail) throw fail;
        for (const h of headers) {
          const c = parseSetCookie(h);
          if (c) stored.set(c.name, c);
        }
      },
      filterCookies() {
        return new Map(stored);
      },
    };
  }

  it("are stored before the first request goes out, which carries them", async () => {
    await using srv = await startHttpServer((req, res) => res.end(req.headers.cookie ?? "none"));
    await using s = new ClientSession({ cookieJar: asyncJar(), cookies: { sid: "42" } });
    expect(await (await s.get(srv.url("/"))).text()).toBe("sid=42");
  });

  it("that the jar fails to store fail the first request with the jar's error, before any I/O", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const broken = new Error("jar is read-only");
    await using s = new ClientSession({ cookieJar: asyncJar(broken), cookies: { sid: "42" } });
    await expect(s.get(srv.url("/"))).rejects.toBe(broken);
    expect(srv.stats.accepted).toBe(0);
  });
});
