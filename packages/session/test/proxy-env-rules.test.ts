import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type AbstractResolver, type ResolvedHost, TCPConnector } from "@x/connector";
import { startHttpServer, type TestServer } from "@x/fixtures";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

// trustEnv: which requests NO_PROXY sends past HTTP_PROXY, seen from outside — the proxy answers
// "proxy", the servers reached directly answer "direct". Names resolve to 127.0.0.1 (a resolver
// given to the connector), so a request that wrongly goes direct reaches a direct server instead
// of the proxy; a request that wrongly goes through the proxy gets "proxy". No real DNS.

const ENV = [
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "NO_PROXY",
  "no_proxy",
  "REQUEST_METHOD",
];
const saved = new Map(ENV.map((n) => [n, process.env[n]]));

/** Every name to 127.0.0.1, on the port asked for. */
const loopback: AbstractResolver = {
  async resolve(host: string, port: number): Promise<ResolvedHost[]> {
    return [{ hostname: host, host: "127.0.0.1", port, family: 4 }];
  },
  async close() {},
};

/** A direct server on an address of the 127/8 loopback network other than 127.0.0.1. */
async function listenOn(host: string): Promise<Server & { port: number }> {
  const server = createServer((_req, res) => res.end("direct"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  return Object.assign(server, { port: (server.address() as AddressInfo).port });
}

let proxy: TestServer;
let v4: TestServer;
let v6: TestServer;
let other: Server & { port: number };
let session: ClientSession;

beforeAll(async () => {
  proxy = await startHttpServer((req, res) =>
    res.end(req.url?.startsWith("http://") ? "proxy" : "not a proxy request"),
  );
  v4 = await startHttpServer((_req, res) => res.end("direct"));
  v6 = await startHttpServer((_req, res) => res.end("direct"), { host: "::1" });
  other = await listenOn("127.10.20.30");
  session = new ClientSession({ trustEnv: true, connector: new TCPConnector({ resolver: loopback }) });
});

afterAll(async () => {
  await session.close();
  await Promise.all([proxy.close(), v4.close(), v6.close()]);
  other.closeAllConnections();
  await new Promise((resolve) => other.close(resolve));
});

beforeEach(() => {
  for (const n of ENV) delete process.env[n];
  process.env.http_proxy = proxy.origin;
});

afterEach(() => {
  for (const [n, v] of saved) {
    if (v === undefined) delete process.env[n];
    else process.env[n] = v;
  }
});

/** Where a GET of `url` went with this NO_PROXY (unset when undefined): "proxy" or "direct". */
async function via(noProxy: string | undefined, url: string): Promise<string> {
  if (noProxy === undefined) delete process.env.NO_PROXY;
  else process.env.NO_PROXY = noProxy;
  const target = url
    .replace("{v4}", String(v4.port))
    .replace("{v6}", String(v6.port))
    .replace("{other}", String(other.port));
  try {
    return await (await session.get(target)).text();
  } catch (err) {
    return `failed: ${(err as Error).name}: ${(err as Error).message}`;
  }
}

describe("NO_PROXY unset, or with nothing between its separators", () => {
  it.each([
    [undefined, "http://was:{v4}/"],
    [undefined, "http://stryker:{v4}/"],
    // A host that still ends in a dot once one trailing dot is taken off matches no empty entry.
    [undefined, "http://a..:{v4}/"],
    [", ,\t,", "http://a..:{v4}/"],
    [",,", "http://intranet..:{v4}/"],
  ])("NO_PROXY=%j: %s goes through the proxy", async (noProxy, url) => {
    expect(await via(noProxy, url)).toBe("proxy");
  });
});

describe("addresses: the same number in another family is another address", () => {
  it("::7f00:1 (IPv4-compatible IPv6, not IPv4-mapped) does not name 127.0.0.1", async () => {
    expect(await via("::7f00:1", "http://127.0.0.1:{v4}/")).toBe("proxy");
    // Control: the address itself does.
    expect(await via("127.0.0.1", "http://127.0.0.1:{v4}/")).toBe("direct");
  });

  it("an IPv4-mapped entry with a dotted quad of multi-digit octets names that IPv4 host", async () => {
    expect(await via("::ffff:127.10.20.30", "http://127.10.20.30:{other}/")).toBe("direct");
    expect(await via("[::ffff:127.10.20.30]", "http://127.10.20.30:{other}/")).toBe("direct");
    expect(await via("::ffff:127.10.20.31", "http://127.10.20.30:{other}/")).toBe("proxy");
  });

  it("an IPv4-mapped network with an IPv4 prefix length (/8 instead of /104) holds nothing", async () => {
    expect(await via("::ffff:127.0.0.0/8", "http://127.0.0.1:{v4}/")).toBe("proxy");
    expect(await via("::ffff:127.0.0.0/104", "http://127.0.0.1:{v4}/")).toBe("direct");
  });
});

describe("brackets: one pair around the address, nothing else", () => {
  it.each(["[[::1]/128", "[::1]]/128", "::1[", "]::1", "x[::1]", "[::1]junk", `[::1]:{v6}x`])(
    "NO_PROXY=%j does not name [::1]",
    async (entry) => {
      expect(await via(entry.replace("{v6}", String(v6.port)), "http://[::1]:{v6}/")).toBe("proxy");
    },
  );

  it.each(["::1", "[::1]", "[::1]/128", "::1/128"])("NO_PROXY=%j names [::1]", async (entry) => {
    expect(await via(entry, "http://[::1]:{v6}/")).toBe("direct");
  });

  it("the inside of a bracketed entry is read as an entry of its own: [[::1] is [::1, which is ::1", async () => {
    expect(await via("[[::1]", "http://[::1]:{v6}/")).toBe("direct");
  });
});

describe("case: entries and hosts compare in lower case, letter for letter", () => {
  it("straße.test does not name strasse.test (ß is not ss)", async () => {
    expect(await via("straße.test", "http://strasse.test:{v4}/")).toBe("proxy");
    expect(await via("STRASSE.Test", "http://strasse.test:{v4}/")).toBe("direct");
  });
});

describe("zone ids: a URL cannot carry one, so an entry's zone is set aside", () => {
  it("fe80::%eth0 in NO_PROXY neither breaks requests nor names other hosts", async () => {
    expect(await via("fe80::%eth0", "http://127.0.0.1:{v4}/")).toBe("proxy");
    expect(await via("fe80::%eth0,127.0.0.1", "http://127.0.0.1:{v4}/")).toBe("direct");
  });

  it("an address with a zone names the address: ::1%lo is ::1, ::ffff:127.0.0.1%lo is 127.0.0.1", async () => {
    expect(await via("::1%lo", "http://[::1]:{v6}/")).toBe("direct");
    expect(await via("::ffff:127.0.0.1%lo", "http://127.0.0.1:{v4}/")).toBe("direct");
    expect(await via("::ffff:127.0.0.2%lo", "http://127.0.0.1:{v4}/")).toBe("proxy");
    expect(await via("::ffff:127.0.0.0%lo/104", "http://127.0.0.1:{v4}/")).toBe("direct");
  });
});
