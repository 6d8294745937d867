import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { AbstractCookieJar, CookieRecord, CookiesToSend, MaybePromise } from "../abstract-cookie-jar.js";
import { toSetCookieHeaders } from "../cookie-input.js";

/**
 * Parts of cookie handling a jar may claim. The core is required of every jar that keeps cookies:
 * what the session needs to keep a login across requests without leaking it to other hosts.
 */
export interface CookieJarFeatures {
  /**
   * `false` for a jar that accepts cookies and keeps none (`DummyCookieJar`): the suite then checks
   * that it takes everything, sends nothing and counts nothing. Default `true`.
   */
  keepsCookies?: boolean;
  /** `Path` attributes and default paths. */
  paths?: boolean;
  /** `Domain` attributes: subdomains, host-only cookies. */
  domains?: boolean;
  /** `Max-Age` and `Expires`; Max-Age wins; expired cookies go, also while stored. */
  expiry?: boolean;
  /** `Secure` cookies only to https/wss, and not overwritten over http. */
  secure?: boolean;
  /** Cookies given without a response URL are sent to every host. */
  shared?: boolean;
  /** No cookies from or to IP-address hosts unless the jar is made with `{ unsafe: true }`. */
  ipHosts?: boolean;
  /** Public suffixes refused as cookie domains (any case, leading or trailing dot). */
  publicSuffixes?: boolean;
  /** `__Host-` and `__Secure-` prefixes enforced. */
  prefixes?: boolean;
}

/** Makes a fresh, empty jar (or a promise of one); `unsafe` is asked for by the `ipHosts` checks. */
export type CookieJarFactory = (options: { unsafe?: boolean }) => MaybePromise<AbstractCookieJar>;

const ALL: Required<Omit<CookieJarFeatures, "keepsCookies">> = {
  paths: true,
  domains: true,
  expiry: true,
  secure: true,
  shared: true,
  ipHosts: true,
  publicSuffixes: true,
  prefixes: true,
};

/** What the jar sends to `url`; checks that the answer (awaited if a promise) is a name → cookie map. */
async function sent(jar: AbstractCookieJar, url: string): Promise<CookiesToSend> {
  const found = await jar.filterCookies(new URL(url));
  expect(typeof found?.get, "filterCookies must give a Map (or a promise of one)").toBe("function");
  for (const [name, c] of found) expect(c.name).toBe(name);
  return found;
}

async function names(jar: AbstractCookieJar, url: string): Promise<string[]> {
  return [...(await sent(jar, url)).keys()].sort();
}

function store(jar: AbstractCookieJar, headers: string[], url?: string): MaybePromise<void> {
  return jar.updateCookiesFromHeaders(headers, url === undefined ? undefined : new URL(url));
}

/** Every stored cookie, through sync or async iteration; `undefined` when the jar iterates neither way. */
async function listed(jar: AbstractCookieJar): Promise<CookieRecord[] | undefined> {
  if (typeof jar[Symbol.iterator] === "function") return [...(jar as Iterable<CookieRecord>)];
  if (typeof jar[Symbol.asyncIterator] === "function") {
    const out: CookieRecord[] = [];
    for await (const c of jar as AsyncIterable<CookieRecord>) out.push(c);
    return out;
  }
  return undefined;
}

/** How many cookies the jar holds, by `size` or iteration; `undefined` when it offers neither. */
async function counted(jar: AbstractCookieJar): Promise<number | undefined> {
  if (typeof jar.size === "number") return jar.size;
  return (await listed(jar))?.length;
}

/** Checks the count where the jar can count (by `size` or iteration). */
async function expectCount(jar: AbstractCookieJar, n: number): Promise<void> {
  const count = await counted(jar);
  if (count !== undefined) expect(count).toBe(n);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The conformance suite for `AbstractCookieJar` implementations, synchronous or asynchronous
 * (every answer is awaited only if it is a promise, as the session does). Every jar must pass the
 * core checks; the optional members (`size`, iteration, `clear`, `clearDomain`, `quoteCookie`,
 * `save`/`load`) are checked when the jar has them and skipped otherwise. Pass `features` to run
 * the checks of the parts the jar claims (default: all of them); `{ keepsCookies: false }` for a
 * jar that keeps nothing.
 *
 * @example
 * testCookieJar("MyJar", () => new MyJar(), { shared: true });
 */
export function testCookieJar(
  name: string,
  factory: CookieJarFactory,
  features: CookieJarFeatures = { ...ALL },
): void {
  const { keepsCookies = true, ...parts } = features;
  const has = {
    ...Object.fromEntries(Object.keys(ALL).map((k) => [k, false])),
    ...parts,
  } as Required<Omit<CookieJarFeatures, "keepsCookies">>;
  const make = async (options: { unsafe?: boolean } = {}) => await factory(options);

  describe(`cookie jar conformance: ${name}`, () => {
    if (!keepsCookies) {
      describe("keeps nothing", () => {
        it("accepts Set-Cookie values, records and shared cookies, and sends none back", async () => {
          const jar = await make();
          await store(jar, ["sid=abc; Path=/", "theme=dark"], "http://app.example.com/login");
          await store(jar, toSetCookieHeaders({ shared: "1" }));
          expect(await names(jar, "http://app.example.com/")).toEqual([]);
          await expectCount(jar, 0);
        });

        it("clear and clearDomain, where present, accept their arguments", async (ctx) => {
          const jar = await make();
          if (typeof jar.clear !== "function" && typeof jar.clearDomain !== "function") return ctx.skip();
          await jar.clear?.();
          await jar.clear?.(() => true);
          await jar.clearDomain?.("example.com");
          expect(await names(jar, "http://example.com/")).toEqual([]);
        });
      });
      return;
    }

    describe("core", () => {
      it("stores Set-Cookie values and sends the cookies back to the same host", async () => {
        const jar = await make();
        await store(jar, ["sid=abc123; Path=/", "theme=dark"], "http://app.example.com/login");
        const found = await sent(jar, "http://app.example.com/");
        expect(found.get("sid")?.value).toBe("abc123");
        expect(found.get("theme")?.value).toBe("dark");
        expect(found.size).toBe(2);
      });

      it("takes records and [name, value] pairs through toSetCookieHeaders", async () => {
        const jar = await make();
        await store(jar, toSetCookieHeaders({ a: "1" }), "http://app.example.com/");
        await store(jar, toSetCookieHeaders([["b", "2"]]), "http://app.example.com/");
        expect(await names(jar, "http://app.example.com/")).toEqual(["a", "b"]);
      });

      it("replaces a cookie set again under the same name", async () => {
        const jar = await make();
        await store(jar, ["sid=old"], "http://app.example.com/");
        await store(jar, ["sid=new"], "http://app.example.com/");
        const found = await sent(jar, "http://app.example.com/");
        expect(found.get("sid")?.value).toBe("new");
        expect(found.size).toBe(1);
      });

      it("does not send a host's cookies to another host", async () => {
        const jar = await make();
        await store(jar, ["sid=secret"], "http://bank.example.com/");
        expect(await names(jar, "http://evil.example.net/")).toEqual([]);
      });

      it("ignores Set-Cookie values that are not cookies", async () => {
        const jar = await make();
        await store(jar, ["", "=novalue", "ok=1"], "http://app.example.com/");
        expect(await names(jar, "http://app.example.com/")).toEqual(["ok"]);
      });
    });

    describe("optional members, where the jar has them", () => {
      it("size counts what it stores", async (ctx) => {
        const jar = await make();
        if (jar.size === undefined) return ctx.skip();
        expect(jar.size).toBe(0);
        await store(jar, ["a=1", "b=2"], "http://app.example.com/");
        await store(jar, ["a=3"], "http://app.example.com/");
        expect(jar.size).toBe(2);
      });

      it("iteration (sync or async) yields every stored cookie as a record", async (ctx) => {
        const jar = await make();
        if ((await listed(jar)) === undefined) return ctx.skip();
        await store(jar, ["a=1", "b=2"], "http://app.example.com/");
        await store(jar, ["c=3"], "http://other.example.org/");
        const list = (await listed(jar))!;
        expect(list.map((c) => `${c.name}=${c.value}`).sort()).toEqual(["a=1", "b=2", "c=3"]);
        expect(list.find((c) => c.name === "c")?.domain).toBe("other.example.org");
      });

      it("clear() removes everything, clear(predicate) what it selects", async (ctx) => {
        const jar = await make();
        if (typeof jar.clear !== "function") return ctx.skip();
        await store(jar, ["a=1", "b=2"], "http://app.example.com/");
        await jar.clear((c) => c.name === "a");
        expect(await names(jar, "http://app.example.com/")).toEqual(["b"]);
        await jar.clear();
        expect(await names(jar, "http://app.example.com/")).toEqual([]);
        await expectCount(jar, 0);
      });

      it("clearDomain removes a domain and its subdomains, nothing else", async (ctx) => {
        const jar = await make();
        if (typeof jar.clearDomain !== "function") return ctx.skip();
        await store(jar, ["a=1"], "http://one.example.com/");
        await store(jar, ["s=1"], "http://sub.one.example.com/");
        await store(jar, ["b=2"], "http://two.example.org/");
        await jar.clearDomain("one.example.com");
        expect(await names(jar, "http://one.example.com/")).toEqual([]);
        expect(await names(jar, "http://sub.one.example.com/")).toEqual([]);
        expect(await names(jar, "http://two.example.org/")).toEqual(["b"]);
      });

      it("quoteCookie says whether values are sent quoted as Python does", async (ctx) => {
        const jar = await make();
        if (jar.quoteCookie === undefined) return ctx.skip();
        expect(typeof jar.quoteCookie).toBe("boolean");
        await store(jar, toSetCookieHeaders({ q: "a b,c" }), "http://app.example.com/");
        const value = (await sent(jar, "http://app.example.com/")).get("q")?.value;
        expect(value).toBe(jar.quoteCookie ? '"a b\\054c"' : "a b,c");
      });

      it("save() and load() carry the cookies to a fresh jar", async (ctx) => {
        const jar = await make();
        if (typeof jar.save !== "function" || typeof jar.load !== "function") return ctx.skip();
        const dir = await mkdtemp(join(tmpdir(), "x-cookie-jar-conformance-"));
        try {
          await store(jar, ["a=1; Max-Age=3600", "b=2"], "http://app.example.com/");
          await jar.save(join(dir, "jar.json"));
          const copy = await make();
          await copy.load!(join(dir, "jar.json"));
          expect(await names(copy, "http://app.example.com/")).toEqual(["a", "b"]);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    });

    if (has.paths)
      describe("paths", () => {
        it("sends a cookie only under its path", async () => {
          const jar = await make();
          await store(jar, ["p=1; Path=/one/two"], "http://app.example.com/");
          expect(await names(jar, "http://app.example.com/one/two/three")).toEqual(["p"]);
          expect(await names(jar, "http://app.example.com/one/two")).toEqual(["p"]);
          expect(await names(jar, "http://app.example.com/one")).toEqual([]);
          expect(await names(jar, "http://app.example.com/one/twofold")).toEqual([]);
        });

        it("defaults the path to the response URL's directory", async () => {
          const jar = await make();
          await store(jar, ["d=1"], "http://app.example.com/account/login");
          expect(await names(jar, "http://app.example.com/account/settings")).toEqual(["d"]);
          expect(await names(jar, "http://app.example.com/")).toEqual([]);
        });

        it("sends only the most specific cookie of a name, longer paths first", async () => {
          const jar = await make();
          await store(
            jar,
            ["n=root; Path=/", "n=deep; Path=/a/b", "m=1; Path=/a"],
            "http://app.example.com/",
          );
          const found = await sent(jar, "http://app.example.com/a/b/c");
          expect([...found.keys()]).toEqual(["n", "m"]);
          expect(found.get("n")?.value).toBe("deep");
        });

        it("sends cookies of one path oldest first; a cookie set again keeps its place", async () => {
          const jar = await make();
          const url = "http://app.example.com/";
          await store(jar, ["z=1; Path=/", "y=1; Path=/", "x=1; Path=/"], url);
          await store(jar, ["w=1; Path=/"], url);
          await store(jar, ["z=2; Path=/", "v=1; Path=/"], url);
          const found = await sent(jar, url);
          expect([...found.keys()]).toEqual(["z", "y", "x", "w", "v"]);
          expect(found.get("z")?.value).toBe("2");
        });
      });

    if (has.domains)
      describe("domains", () => {
        it("sends a Domain cookie to subdomains, a host-only cookie to its host alone", async () => {
          const jar = await make();
          await store(jar, ["wide=1; Domain=example.com", "narrow=1"], "http://app.example.com/");
          expect(await names(jar, "http://api.example.com/")).toEqual(["wide"]);
          expect(await names(jar, "http://app.example.com/")).toEqual(["narrow", "wide"]);
          expect(await names(jar, "http://sub.app.example.com/")).toEqual(["wide"]);
        });

        it("refuses a Domain the response host is not in", async () => {
          const jar = await make();
          await store(jar, ["x=1; Domain=other.com"], "http://app.example.com/");
          expect(await names(jar, "http://other.com/")).toEqual([]);
          expect(await names(jar, "http://app.example.com/")).toEqual([]);
        });
      });

    if (has.expiry)
      describe("expiry", () => {
        it("drops expired cookies and lets Max-Age win over Expires", async () => {
          const jar = await make();
          await store(
            jar,
            [
              "gone=1; Expires=Thu, 01 Jan 1970 00:00:01 GMT",
              "short=1; Max-Age=0; Expires=Wed, 01 Jan 2099 00:00:00 GMT",
              "long=1; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:01 GMT",
            ],
            "http://app.example.com/",
          );
          expect(await names(jar, "http://app.example.com/")).toEqual(["long"]);
          await expectCount(jar, 1);
        });

        it("removes a cookie when the server sets it again already expired (a logout)", async () => {
          const jar = await make();
          await store(jar, ["sid=1", "keep=1"], "http://app.example.com/");
          await store(jar, ["sid=; Max-Age=0"], "http://app.example.com/");
          expect(await names(jar, "http://app.example.com/")).toEqual(["keep"]);
          await expectCount(jar, 1);
        });

        it("a cookie that expires while stored is no longer sent, counted or listed", async () => {
          const jar = await make();
          await store(jar, ["brief=1; Max-Age=1", "long=1; Max-Age=3600"], "http://app.example.com/");
          if (has.shared) await store(jar, ["sharedBrief=1; Max-Age=1"]);
          // Sending it must not extend its life: Max-Age counts from when it was set.
          await sleep(600);
          expect(await names(jar, "http://app.example.com/")).toContain("brief");
          await sleep(600);
          expect(await names(jar, "http://app.example.com/")).toEqual(["long"]);
          await expectCount(jar, 1);
          const list = await listed(jar);
          if (list) expect(list.map((c) => c.name)).toEqual(["long"]);
        });
      });

    if (has.secure)
      describe("secure", () => {
        it("sends Secure cookies only over https and wss", async () => {
          const jar = await make();
          await store(jar, ["s=1; Secure", "p=1"], "https://app.example.com/");
          expect(await names(jar, "https://app.example.com/")).toEqual(["p", "s"]);
          expect(await names(jar, "wss://app.example.com/")).toEqual(["p", "s"]);
          expect(await names(jar, "http://app.example.com/")).toEqual(["p"]);
        });

        it("refuses a Secure cookie from an insecure origin", async () => {
          const jar = await make();
          await store(jar, ["s=1; Secure"], "http://app.example.com/");
          expect(await names(jar, "https://app.example.com/")).toEqual([]);
        });

        it("does not let an http response overwrite or delete a Secure cookie", async () => {
          const jar = await make();
          await store(jar, ["sid=good; Secure"], "https://app.example.com/");
          await store(jar, ["sid=evil"], "http://app.example.com/");
          await store(jar, ["sid=; Max-Age=0"], "http://app.example.com/");
          expect((await sent(jar, "https://app.example.com/")).get("sid")?.value).toBe("good");
        });
      });

    if (has.shared)
      describe("shared cookies", () => {
        it("sends cookies given without a response URL to every host, IP hosts included", async () => {
          const jar = await make();
          await store(jar, toSetCookieHeaders({ shared: "1" }));
          expect(await names(jar, "http://a.example.com/")).toEqual(["shared"]);
          expect(await names(jar, "https://b.example.org/x")).toEqual(["shared"]);
          expect(await names(jar, "http://127.0.0.1:8080/")).toEqual(["shared"]);
        });
      });

    if (has.ipHosts)
      describe("IP hosts", () => {
        it("neither stores from nor sends to IP hosts unless unsafe", async () => {
          const jar = await make();
          await store(jar, ["ip=1"], "http://127.0.0.1/");
          expect(await names(jar, "http://127.0.0.1/")).toEqual([]);
          await expectCount(jar, 0);
          const unsafe = await make({ unsafe: true });
          await store(unsafe, ["ip=1"], "http://127.0.0.1/");
          expect(await names(unsafe, "http://127.0.0.1/")).toEqual(["ip"]);
          expect(await names(unsafe, "http://[::1]/")).toEqual([]);
        });
      });

    if (has.publicSuffixes)
      describe("public suffixes", () => {
        it.each([
          ["com", "shop.com", "other.com"],
          ["COM", "shop.com", "other.com"],
          [".com", "shop.com", "other.com"],
          ["com.", "shop.com", "other.com"],
          [".org.", "shop.org", "other.org"],
          ["co.uk", "shop.co.uk", "other.co.uk"],
          ["Co.Uk.", "shop.co.uk", "other.co.uk"],
          ["github.io", "me.github.io", "you.github.io"],
        ])("refuses Domain=%s set by %s", async (domain, host, other) => {
          const jar = await make();
          await store(jar, [`x=1; Domain=${domain}`], `http://${host}/`);
          expect(await names(jar, `http://${other}/`)).toEqual([]);
          expect(await names(jar, `http://${host}/`)).toEqual([]);
        });
      });

    if (has.prefixes)
      describe("prefixes", () => {
        it("enforces __Host- and __Secure-", async () => {
          const jar = await make();
          await store(
            jar,
            [
              "__Host-ok=1; Secure; Path=/",
              "__Host-bad=1; Secure; Path=/; Domain=example.com",
              "__Secure-ok=1; Secure",
              "__Secure-bad=1",
            ],
            "https://app.example.com/",
          );
          expect(await names(jar, "https://app.example.com/")).toEqual(["__Host-ok", "__Secure-ok"]);
        });
      });
  });
}
