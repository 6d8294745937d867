import { InvalidArgumentError } from "@x/errors";
import { startHttpServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { Fingerprint, proxySettings, TCPConnector, UnixConnector } from "../src/index.js";
import { refusal, requestText } from "./helpers.js";

// Bad options are refused where they enter, with InvalidArgumentError naming what is wrong.
describe("connector options", () => {
  it.each<[string, unknown, string]>([
    ["not an object", "fast", "options must be an object"],
    ["forceClose", { forceClose: "yes" }, "forceClose must be a boolean"],
    ["allowH2", { allowH2: 1 }, "allowH2 must be a boolean"],
    ["enableCleanupClosed", { enableCleanupClosed: "no" }, "enableCleanupClosed must be a boolean"],
    [
      "keepaliveTimeout with forceClose",
      { forceClose: true, keepaliveTimeout: 5 },
      "keepaliveTimeout cannot be set if forceClose is true",
    ],
    ["maxHeaderSize 0", { maxHeaderSize: 0 }, "maxHeaderSize must be a positive integer"],
    ["maxHeaderSize 1.5", { maxHeaderSize: 1.5 }, "maxHeaderSize must be a positive integer"],
    ["limit -1", { limit: -1 }, "limit must be a non-negative integer (0 = unlimited), got -1"],
    [
      "limitPerHost 2.5",
      { limitPerHost: 2.5 },
      "limitPerHost must be a non-negative integer (0 = unlimited), got 2.5",
    ],
    [
      "keepaliveTimeout -1",
      { keepaliveTimeout: -1 },
      "keepaliveTimeout must be a non-negative number of milliseconds, got -1",
    ],
    [
      "connectTimeout NaN",
      { connectTimeout: Number.NaN },
      "connectTimeout must be a non-negative number of milliseconds, got NaN",
    ],
    [
      "connectTimeout text",
      { connectTimeout: "5" },
      "connectTimeout must be a non-negative number of milliseconds, got 5",
    ],
    ["family", { family: 5 }, "family must be 0, 4 or 6"],
    ["localAddr a name", { localAddr: "localhost" }, 'localAddr must be an IP address, got "localhost"'],
    ["localAddr no host", { localAddr: { port: 1 } }, "localAddr must be an IP address, got undefined"],
    ["ttlDnsCache", { ttlDnsCache: -1 }, "ttlDnsCache must be a number of milliseconds or null"],
    ["ttlDnsCache text", { ttlDnsCache: "10" }, "ttlDnsCache must be a number of milliseconds or null"],
    ["dnsCacheMaxSize", { dnsCacheMaxSize: 1.5 }, "dnsCacheMaxSize must be a positive integer"],
    ["resolver", { resolver: {} }, "resolver must implement resolve(host, port, family)"],
    ["verifySsl", { verifySsl: "false" }, "verifySsl must be a boolean"],
    ["ssl", { ssl: "on" }, "ssl must be true, false, a Fingerprint or a TLS options object"],
    ["ssl.fingerprint", { ssl: { fingerprint: "ab" } }, "ssl.fingerprint must be a Fingerprint"],
  ])("%s", (_what, options, message) => {
    expect(refusal(() => new TCPConnector(options as never))).toEqual(new InvalidArgumentError(message));
  });

  it("takes the limits' edges: Infinity is unlimited, 0 durations and null are allowed", async () => {
    await using unlimited = new TCPConnector({ limit: Number.POSITIVE_INFINITY, limitPerHost: 0 });
    expect([unlimited.limit, unlimited.limitPerHost]).toEqual([0, 0]);
    await using zero = new TCPConnector({ keepaliveTimeout: 0, connectTimeout: null, ttlDnsCache: 0 });
    expect(zero.keepaliveTimeout).toBe(0);
    await using forced = new TCPConnector({ forceClose: true, keepaliveTimeout: 0 });
    expect(forced.forceClose).toBe(true);
  });

  it("UnixConnector needs a path", () => {
    for (const path of ["", 42, undefined]) {
      expect(refusal(() => new UnixConnector(path as never))).toEqual(
        new InvalidArgumentError("UnixConnector needs the socket path as a non-empty string"),
      );
    }
  });
});

describe("per-request options", () => {
  it("serverHostname must be a host name", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector();
    for (const bad of ["", "a b", "a/b", 42]) {
      const err = await requestText(connector, srv.url().replace("http:", "https:"), {
        connectorOptions: { serverHostname: bad },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toBe(`serverHostname must be a host name, got ${JSON.stringify(bad)}`);
    }
    expect(srv.stats.accepted).toBe(0);
  });

  it("a per-request proxy's url must be a URL object", async () => {
    await using connector = new TCPConnector();
    const err = await requestText(connector, "http://127.0.0.1:9/", {
      connectorOptions: { proxy: { url: "http://p.test:3128/" } },
    }).catch((e: unknown) => e);
    expect(err).toEqual(new InvalidArgumentError("proxy.url must be a URL"));
  });

  it("a proxy's URL and credentials", () => {
    expect(refusal(() => proxySettings("http://p.test:3128/\r\n"))).toEqual(
      new InvalidArgumentError("the proxy URL must not contain CR, LF or NUL"),
    );
    expect(refusal(() => proxySettings("http://[::1"))).toEqual(
      new InvalidArgumentError('invalid proxy URL "http://[::1"'),
    );
    expect(refusal(() => proxySettings("http://u:p@p.test/", "Basic eA=="))).toEqual(
      new InvalidArgumentError("proxy credentials given both in the proxy URL and as proxyAuth"),
    );
    const fromUrl = proxySettings("u%40x:p%3Aw@p.test:3128");
    expect(fromUrl.url.href).toBe("http://p.test:3128/");
    expect(fromUrl.authorization).toBe(`Basic ${Buffer.from("u@x:p:w").toString("base64")}`);
  });

  it("a Fingerprint passed as ssl.fingerprint is taken", async () => {
    await using connector = new TCPConnector({ ssl: { fingerprint: new Fingerprint(Buffer.alloc(32, 1)) } });
    expect(connector).toBeInstanceOf(TCPConnector);
  });
});
