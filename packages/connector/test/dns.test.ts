import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ClientConnectorDNSError, InvalidArgumentError } from "@x/errors";
import { startDnsServer, startHttpServer } from "@x/fixtures";
import { describe, expect, it, vi } from "vitest";
import { AsyncResolver, TCPConnector, ThreadedResolver } from "../src/index.js";
import { requestText, TableResolver } from "./helpers.js";

const get = requestText;

describe("DNS cache", () => {
  it("caches answers for ttlDnsCache, then asks again", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const resolver = new TableResolver({ "svc.test": ["127.0.0.1"] });
    await using connector = new TCPConnector({ resolver, ttlDnsCache: 100, forceClose: true });
    const url = `http://svc.test:${srv.port}/`;
    // The clock stands still while two requests go out, then moves past the TTL.
    const start = Date.now();
    const clock = vi.spyOn(Date, "now").mockReturnValue(start);
    try {
      await get(connector, url);
      clock.mockReturnValue(start + 99);
      await get(connector, url);
      expect(resolver.calls).toEqual(["svc.test"]);
      expect([...connector.cachedHosts.keys()]).toEqual([`svc.test:${srv.port}`]);
      clock.mockReturnValue(start + 100);
      expect(connector.cachedHosts.size).toBe(0);
      await get(connector, url);
      expect(resolver.calls).toEqual(["svc.test", "svc.test"]);
    } finally {
      clock.mockRestore();
    }
  });

  it("keeps answers forever with ttlDnsCache null, until cleared", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const resolver = new TableResolver({ "a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"] });
    await using connector = new TCPConnector({ resolver, ttlDnsCache: null, forceClose: true });
    await get(connector, `http://a.test:${srv.port}/`);
    await get(connector, `http://b.test:${srv.port}/`);
    await new Promise((r) => setTimeout(r, 20));
    await get(connector, `http://a.test:${srv.port}/`);
    expect(resolver.calls).toEqual(["a.test", "b.test"]);
    connector.clearDnsCache("a.test", srv.port);
    expect([...connector.cachedHosts.keys()]).toEqual([`b.test:${srv.port}`]);
    await get(connector, `http://a.test:${srv.port}/`);
    await get(connector, `http://b.test:${srv.port}/`);
    expect(resolver.calls).toEqual(["a.test", "b.test", "a.test"]);
    connector.clearDnsCache();
    expect(connector.cachedHosts.size).toBe(0);
  });

  it("clearDnsCache takes host and port together or nothing", async () => {
    await using connector = new TCPConnector();
    expect(() => connector.clearDnsCache("a.test")).toThrow(InvalidArgumentError);
    expect(() => connector.clearDnsCache(undefined, 80)).toThrow(InvalidArgumentError);
  });

  it("asks every time with useDnsCache false", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const resolver = new TableResolver({ "svc.test": ["127.0.0.1"] });
    await using connector = new TCPConnector({ resolver, useDnsCache: false, forceClose: true });
    expect(connector.dnsCache).toBe(false);
    for (let i = 0; i < 3; i++) await get(connector, `http://svc.test:${srv.port}/`);
    expect(resolver.calls).toHaveLength(3);
    expect(connector.cachedHosts.size).toBe(0);
  });

  it("merges concurrent lookups of one host into one", async () => {
    await using srv = await startHttpServer((_req, res) => setTimeout(() => res.end("x"), 5));
    const resolver = new TableResolver({ "svc.test": ["127.0.0.1"] }, 30);
    await using connector = new TCPConnector({ resolver });
    await Promise.all(Array.from({ length: 10 }, () => get(connector, `http://svc.test:${srv.port}/`)));
    expect(resolver.calls).toEqual(["svc.test"]);
    expect(srv.stats.accepted).toBe(10);
  });

  it("rotates a host's addresses so new connections spread over them", async () => {
    const seenBy: string[] = [];
    const servers = ["a", "b", "c"].map((name) =>
      createServer((_req, res) => {
        seenBy.push(name);
        res.end(name);
      }),
    );
    await new Promise<void>((r) => servers[0]!.listen(0, "127.0.0.1", r));
    const { port } = servers[0]!.address() as AddressInfo;
    for (const [i, s] of servers.entries()) {
      if (i > 0) await new Promise<void>((r) => s.listen(port, `127.0.0.${i + 1}`, r));
    }
    // Nothing listens on the fourth: its turn falls back to the next address, the first again.
    const resolver = new TableResolver({ "svc.test": ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"] });
    await using connector = new TCPConnector({ resolver, forceClose: true });
    for (let i = 0; i < 7; i++) await get(connector, `http://svc.test:${port}/`);
    expect(seenBy).toEqual(["a", "b", "c", "a", "a", "b", "c"]);
    const cached = connector.cachedHosts.get(`svc.test:${port}`);
    expect(cached?.map((r) => r.host)).toHaveLength(4);
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it("falls back to the next address when one refuses", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("second address"));
    const resolver = new TableResolver({ "svc.test": ["127.0.0.3", "127.0.0.1"] });
    await using connector = new TCPConnector({ resolver });
    expect(await get(connector, `http://svc.test:${srv.port}/`)).toBe("second address");
  });

  it("does not resolve IP literals", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const resolver = new TableResolver({});
    await using connector = new TCPConnector({ resolver });
    await get(connector, srv.url());
    expect(resolver.calls).toEqual([]);
  });

  it("filters addresses by family", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("v6"), { host: "::1" });
    const resolver = new TableResolver({ "dual.test": ["127.0.0.1", "::1"] });
    await using connector = new TCPConnector({ resolver, family: 6 });
    expect(connector.family).toBe(6);
    expect(await get(connector, `http://dual.test:${srv.port}/`)).toBe("v6");
    expect(connector.cachedHosts.get(`dual.test:${srv.port}`)?.map((r) => r.host)).toEqual(["::1"]);
  });

  it("reports a failed lookup as ClientConnectorDNSError", async () => {
    await using connector = new TCPConnector({ resolver: new TableResolver({}) });
    const err = await get(connector, "http://missing.test:8080/").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientConnectorDNSError);
    const dns = err as ClientConnectorDNSError;
    expect(dns.host).toBe("missing.test");
    expect(dns.port).toBe(8080);
    expect((dns.osError as { code?: string }).code).toBe("ENOTFOUND");
    expect(dns.message).toContain("missing.test:8080");
  });

  it("reports an empty answer as ClientConnectorDNSError", async () => {
    const resolver = { resolve: async () => [], close: async () => {} };
    await using connector = new TCPConnector({ resolver });
    const err = await get(connector, "http://empty.test/").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientConnectorDNSError);
    expect((err as ClientConnectorDNSError).osError).toMatchObject({
      code: "ENODATA",
      message: "DNS lookup of empty.test returned no addresses",
    });
  });

  it("keeps dnsCacheMaxSize hosts, dropping the least recently used", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const names = ["a.test", "b.test", "c.test", "d.test"];
    const resolver = new TableResolver(Object.fromEntries(names.map((n) => [n, ["127.0.0.1"]])));
    await using connector = new TCPConnector({ resolver, dnsCacheMaxSize: 2, forceClose: true });
    const hosts = () => [...connector.cachedHosts.keys()].map((k) => k.split(":")[0]).sort();
    await get(connector, `http://a.test:${srv.port}/`);
    await get(connector, `http://b.test:${srv.port}/`);
    expect(hosts()).toEqual(["a.test", "b.test"]);
    await get(connector, `http://a.test:${srv.port}/`); // a hit: a is now the most recently used
    await get(connector, `http://c.test:${srv.port}/`);
    expect(hosts()).toEqual(["a.test", "c.test"]);
    expect(resolver.calls).toEqual(["a.test", "b.test", "c.test"]);
    await get(connector, `http://b.test:${srv.port}/`);
    expect(hosts()).toEqual(["b.test", "c.test"]);
    expect(() => new TCPConnector({ dnsCacheMaxSize: 0 })).toThrow(InvalidArgumentError);
  });

  it("keeps an answer for exactly ttlDnsCache ms; an expired host asked again counts as new", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const resolver = new TableResolver({
      "a.test": ["127.0.0.1"],
      "b.test": ["127.0.0.1"],
      "c.test": ["127.0.0.1"],
    });
    await using connector = new TCPConnector({
      resolver,
      ttlDnsCache: 1000,
      dnsCacheMaxSize: 2,
      forceClose: true,
    });
    const start = Date.now();
    const clock = vi.spyOn(Date, "now").mockReturnValue(start);
    try {
      const hosts = () => [...connector.cachedHosts.keys()].map((k) => k.split(":")[0]).sort();
      await get(connector, `http://a.test:${srv.port}/`);
      clock.mockReturnValue(start + 1);
      await get(connector, `http://b.test:${srv.port}/`);
      clock.mockReturnValue(start + 999);
      expect(hosts()).toEqual(["a.test", "b.test"]);
      await get(connector, `http://b.test:${srv.port}/`); // a hit; a.test stays the least recently used
      expect(resolver.calls).toEqual(["a.test", "b.test"]);
      // At 1000 ms a.test's answer has lived its ttl: gone from the list, asked for again.
      clock.mockReturnValue(start + 1000);
      expect(hosts()).toEqual(["b.test"]);
      await get(connector, `http://a.test:${srv.port}/`);
      expect(resolver.calls).toEqual(["a.test", "b.test", "a.test"]);
      // The new answer for a.test is newer than b.test's: c.test pushes b.test out, not a.test.
      await get(connector, `http://c.test:${srv.port}/`);
      expect(hosts()).toEqual(["a.test", "c.test"]);
    } finally {
      clock.mockRestore();
    }
  });

  it("closes a resolver it created but not one it was given", async () => {
    const given = new TableResolver({});
    const connector = new TCPConnector({ resolver: given });
    await connector.close();
    expect(given.closed).toBe(false);
    const own = new TCPConnector();
    expect(own.resolver).toBeInstanceOf(ThreadedResolver);
    await own.close();
  });
});

describe("resolvers", () => {
  it("ThreadedResolver resolves through the OS (localhost)", async () => {
    const found = await new ThreadedResolver().resolve("localhost", 80, 4);
    expect(found.map((r) => r.host)).toContain("127.0.0.1");
    expect(found[0]).toMatchObject({ hostname: "localhost", port: 80, family: 4 });
  });

  it("AsyncResolver asks a DNS server, A and AAAA, IPv4 first", async () => {
    await using dns = await startDnsServer({ "svc.test": { A: ["127.0.0.1"], AAAA: ["::1"] } });
    const resolver = new AsyncResolver({ servers: [dns.address], timeout: 1000, tries: 1 });
    const found = await resolver.resolve("svc.test", 443, 0);
    expect(found.map((r) => [r.host, r.family])).toEqual([
      ["127.0.0.1", 4],
      ["::1", 6],
    ]);
    expect((await resolver.resolve("svc.test", 443, 6)).map((r) => r.host)).toEqual(["::1"]);
    await expect(resolver.resolve("nope.test", 443, 0)).rejects.toMatchObject({ code: "ENOTFOUND" });
    await resolver.close();
  });

  it("AsyncResolver drives a connector end to end", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("via c-ares"));
    await using dns = await startDnsServer({ "app.test": { A: ["127.0.0.1"] } });
    await using connector = new TCPConnector({
      resolver: new AsyncResolver({ servers: [dns.address], timeout: 1000, tries: 1 }),
      family: 4,
    });
    expect(await get(connector, `http://app.test:${srv.port}/`)).toBe("via c-ares");
    expect(dns.queries).toEqual(["A app.test"]);
  });
});
