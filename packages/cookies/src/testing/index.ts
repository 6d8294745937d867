import { describe, expect, it } from "vitest";
import type { AbstractCookieJar } from "../abstract-cookie-jar.js";

/**
 * Parts of cookie handling a jar may claim. `core` is required of every jar: what the session
 * needs to keep a login across requests without leaking it to other hosts.
 */
export interface CookieJarFeatures {
  /** `Path` attributes and default paths. */
  paths?: boolean;
  /** `Domain` attributes: subdomains, host-only cookies. */
  domains?: boolean;
  /** `Max-Age` and `Expires`; Max-Age wins; expired cookies go. */
  expiry?: boolean;
  /** `Secure` cookies only to https/wss, and not overwritten over http. */
  secure?: boolean;
  /** Cookies given without a response URL are sent to every host. */
  shared?: boolean;
  /** No cookies from or to IP-address hosts unless the jar is made with `{ unsafe: true }`. */
  ipHosts?: boolean;
  /** Public suffixes refused as cookie domains. */
  publicSuffixes?: boolean;
  /** `__Host-` and `__Secure-` prefixes enforced. */
  prefixes?: boolean;
}

/** Makes a fresh jar; `unsafe` is asked for by the `ipHosts` checks. */
export type CookieJarFactory = (options: { unsafe?: boolean }) => AbstractCookieJar;

const ALL: Required<CookieJarFeatures> = {
  paths: true,
  domains: true,
  expiry: true,
  secure: true,
  shared: true,
  ipHosts: true,
  publicSuffixes: true,
  prefixes: true,
};

function names(jar: AbstractCookieJar, url: string): string[] {
  return [...jar.filterCookies(url).keys()].sort();
}

/**
 * The conformance suite for `AbstractCookieJar` implementations. Every jar must pass the core
 * checks; pass `features` to run the checks of the parts it claims (default: all of them).
 *
 * @example
 * testCookieJar("MyJar", () => new MyJar(), { paths: false, domains: false });
 */
export function testCookieJar(
  name: string,
  factory: CookieJarFactory,
  features: CookieJarFeatures = ALL,
): void {
  const has = {
    ...Object.fromEntries(Object.keys(ALL).map((k) => [k, false])),
    ...features,
  } as Required<CookieJarFeatures>;

  describe(`cookie jar conformance: ${name}`, () => {
    describe("core", () => {
      it("stores Set-Cookie headers and sends the cookies back to the same host", () => {
        const jar = factory({});
        jar.updateCookies(["sid=abc123; Path=/", "theme=dark"], "http://app.example.com/login");
        const sent = jar.filterCookies("http://app.example.com/");
        expect(sent.get("sid")?.value).toBe("abc123");
        expect(sent.get("theme")?.value).toBe("dark");
      });

      it("takes a record and [name, value] pairs", () => {
        const jar = factory({});
        jar.updateCookies({ a: "1" }, "http://app.example.com/");
        jar.updateCookies([["b", "2"]], "http://app.example.com/");
        expect(names(jar, "http://app.example.com/")).toEqual(["a", "b"]);
      });

      it("replaces a cookie set again under the same name", () => {
        const jar = factory({});
        jar.updateCookies(["sid=old"], "http://app.example.com/");
        jar.updateCookies(["sid=new"], "http://app.example.com/");
        expect(jar.filterCookies("http://app.example.com/").get("sid")?.value).toBe("new");
        expect(jar.size).toBe(1);
      });

      it("does not send a host's cookies to another host", () => {
        const jar = factory({});
        jar.updateCookies(["sid=secret"], "http://bank.example.com/");
        expect(jar.filterCookies("http://evil.example.net/").size).toBe(0);
      });

      it("counts and iterates what it stores", () => {
        const jar = factory({});
        jar.updateCookies(["a=1", "b=2"], "http://app.example.com/");
        expect(jar.size).toBe(2);
        expect([...jar].map((c) => c.name).sort()).toEqual(["a", "b"]);
      });

      it("clears everything, or what a predicate selects", () => {
        const jar = factory({});
        jar.updateCookies(["a=1", "b=2"], "http://app.example.com/");
        jar.clear((c) => c.name === "a");
        expect(names(jar, "http://app.example.com/")).toEqual(["b"]);
        jar.clear();
        expect(jar.size).toBe(0);
      });

      it("clears one domain", () => {
        const jar = factory({});
        jar.updateCookies(["a=1"], "http://one.example.com/");
        jar.updateCookies(["b=2"], "http://two.example.org/");
        jar.clearDomain("one.example.com");
        expect(jar.size).toBe(1);
        expect(names(jar, "http://two.example.org/")).toEqual(["b"]);
      });
    });

    if (has.paths)
      describe("paths", () => {
        it("sends a cookie only under its path", () => {
          const jar = factory({});
          jar.updateCookies(["p=1; Path=/one/two"], "http://app.example.com/");
          expect(names(jar, "http://app.example.com/one/two/three")).toEqual(["p"]);
          expect(names(jar, "http://app.example.com/one/two")).toEqual(["p"]);
          expect(names(jar, "http://app.example.com/one")).toEqual([]);
          expect(names(jar, "http://app.example.com/one/twofold")).toEqual([]);
        });

        it("defaults the path to the response URL's directory", () => {
          const jar = factory({});
          jar.updateCookies(["d=1"], "http://app.example.com/account/login");
          expect(names(jar, "http://app.example.com/account/settings")).toEqual(["d"]);
          expect(names(jar, "http://app.example.com/")).toEqual([]);
        });
      });

    if (has.domains)
      describe("domains", () => {
        it("sends a Domain cookie to subdomains, a host-only cookie to its host alone", () => {
          const jar = factory({});
          jar.updateCookies(["wide=1; Domain=example.com", "narrow=1"], "http://app.example.com/");
          expect(names(jar, "http://api.example.com/")).toEqual(["wide"]);
          expect(names(jar, "http://app.example.com/")).toEqual(["narrow", "wide"]);
          expect(names(jar, "http://sub.app.example.com/")).toEqual(["wide"]);
        });

        it("refuses a Domain the response host is not in", () => {
          const jar = factory({});
          jar.updateCookies(["x=1; Domain=other.com"], "http://app.example.com/");
          expect(jar.size).toBe(0);
        });
      });

    if (has.expiry)
      describe("expiry", () => {
        it("drops expired cookies and lets Max-Age win over Expires", () => {
          const jar = factory({});
          jar.updateCookies(
            [
              "gone=1; Expires=Thu, 01 Jan 1970 00:00:01 GMT",
              "short=1; Max-Age=0; Expires=Wed, 01 Jan 2099 00:00:00 GMT",
              "long=1; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:01 GMT",
            ],
            "http://app.example.com/",
          );
          expect(names(jar, "http://app.example.com/")).toEqual(["long"]);
        });

        it("removes a cookie when it is set again already expired", () => {
          const jar = factory({});
          jar.updateCookies(["sid=1"], "http://app.example.com/");
          jar.updateCookies(["sid=; Max-Age=0"], "http://app.example.com/");
          expect(names(jar, "http://app.example.com/")).toEqual([]);
        });
      });

    if (has.secure)
      describe("secure", () => {
        it("sends Secure cookies only over https and wss", () => {
          const jar = factory({});
          jar.updateCookies(["s=1; Secure", "p=1"], "https://app.example.com/");
          expect(names(jar, "https://app.example.com/")).toEqual(["p", "s"]);
          expect(names(jar, "wss://app.example.com/")).toEqual(["p", "s"]);
          expect(names(jar, "http://app.example.com/")).toEqual(["p"]);
        });

        it("does not let an http response overwrite a Secure cookie", () => {
          const jar = factory({});
          jar.updateCookies(["sid=good; Secure"], "https://app.example.com/");
          jar.updateCookies(["sid=evil"], "http://app.example.com/");
          expect(jar.filterCookies("https://app.example.com/").get("sid")?.value).toBe("good");
        });
      });

    if (has.shared)
      describe("shared cookies", () => {
        it("sends cookies given without a response URL to every host", () => {
          const jar = factory({});
          jar.updateCookies({ shared: "1" });
          expect(names(jar, "http://a.example.com/")).toEqual(["shared"]);
          expect(names(jar, "http://b.example.org/x")).toEqual(["shared"]);
        });
      });

    if (has.ipHosts)
      describe("IP hosts", () => {
        it("neither stores from nor sends to IP hosts unless unsafe", () => {
          const jar = factory({});
          jar.updateCookies(["ip=1"], "http://127.0.0.1/");
          expect(jar.size).toBe(0);
          const unsafe = factory({ unsafe: true });
          unsafe.updateCookies(["ip=1"], "http://127.0.0.1/");
          expect(names(unsafe, "http://127.0.0.1/")).toEqual(["ip"]);
          expect(names(unsafe, "http://[::1]/")).toEqual([]);
        });
      });

    if (has.publicSuffixes)
      describe("public suffixes", () => {
        it.each([
          ["com", "shop.com", "other.com"],
          ["COM", "shop.com", "other.com"],
          [".com", "shop.com", "other.com"],
          ["co.uk", "shop.co.uk", "other.co.uk"],
          ["Co.Uk.", "shop.co.uk", "other.co.uk"],
          ["github.io", "me.github.io", "you.github.io"],
        ])("refuses Domain=%s set by %s", (domain, host, other) => {
          const jar = factory({});
          jar.updateCookies([`x=1; Domain=${domain}`], `http://${host}/`);
          expect(names(jar, `http://${other}/`)).toEqual([]);
        });
      });

    if (has.prefixes)
      describe("prefixes", () => {
        it("enforces __Host- and __Secure-", () => {
          const jar = factory({});
          jar.updateCookies(
            [
              "__Host-ok=1; Secure; Path=/",
              "__Host-bad=1; Secure; Path=/; Domain=example.com",
              "__Secure-ok=1; Secure",
              "__Secure-bad=1",
            ],
            "https://app.example.com/",
          );
          expect(names(jar, "https://app.example.com/")).toEqual(["__Host-ok", "__Secure-ok"]);
        });
      });
  });
}
