import { getEventListeners } from "node:events";
import type { Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import {
  ClientConnectorCertificateError,
  ClientConnectorDNSError,
  ClientConnectorError,
  ClientProxyConnectionError,
  InvalidArgumentError,
} from "@x/errors";
import {
  closedPort,
  startHttpServer,
  startHttpsServer,
  startProxyServer,
  startRawServer,
  testCertificates,
} from "@x/fixtures";
import { describe, expect, it, vi } from "vitest";
import {
  type AbstractResolver,
  Fingerprint,
  type KeyOptions,
  type PoolKey,
  type ResolvedHost,
  TCPConnector,
} from "../src/index.js";
import { refusal, requestText, send, TableResolver } from "./helpers.js";

// TCPConnector's own behaviour: its options, the TLS server name and settings, per-request TLS on
// plain URLs, proxies (their keys, host names and TLS), the resolver's answers, and how an
// opening gives up when its signal aborts.

/** A resolver whose answers wait until `open()`; it answers 127.0.0.1 with the port asked. */
class GateResolver implements AbstractResolver {
  calls = 0;
  #waiting: Array<() => void> = [];
  #open = false;
  resolve(host: string, port: number): Promise<ResolvedHost[]> {
    this.calls++;
    const answer = [{ hostname: host, host: "127.0.0.1", port, family: 4 as const }];
    if (this.#open) return Promise.resolve(answer);
    return new Promise((resolve) => this.#waiting.push(() => resolve(answer)));
  }
  open(): void {
    this.#open = true;
    for (const go of this.#waiting.splice(0)) go();
  }
  async close(): Promise<void> {
    this.open();
  }
}

/** What a subclass sees when it calls the socket factory itself (the documented extension point). */
class Probe extends TCPConnector {
  keyOf(url: string, options?: KeyOptions): PoolKey {
    return this.createKey(new URL(url), options);
  }
  open(url: string, signal: AbortSignal, options?: KeyOptions): Promise<Socket> {
    const key = this.createKey(new URL(url), options);
    return this.openSocket(key, { signal, timeout: null, trace: undefined, alpn: ["http/1.1"] });
  }
}

const settled = <T>(p: Promise<T>, ms = 300): Promise<T | string> =>
  Promise.race([
    p.then(
      (v) => v,
      (e: unknown) => e as T,
    ),
    new Promise<string>((r) => setTimeout(() => r("still waiting"), ms)),
  ]);

describe("options", () => {
  it("refuses a localAddr that is not an IP string, null and String objects included", () => {
    expect(refusal(() => new TCPConnector({ localAddr: null as never }))).toEqual(
      new InvalidArgumentError("localAddr must be an IP address, got undefined"),
    );
    expect(
      refusal(() => new TCPConnector({ localAddr: { host: new String("127.0.0.2") as never } })),
    ).toEqual(new InvalidArgumentError('localAddr must be an IP address, got "127.0.0.2"'));
  });

  it("refuses a null resolver as one without resolve()", () => {
    expect(refusal(() => new TCPConnector({ resolver: null as never }))).toEqual(
      new InvalidArgumentError("resolver must implement resolve(host, port, family)"),
    );
  });

  it("takes dnsCacheMaxSize 1: one host kept", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const resolver = new TableResolver({ "a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"] });
    await using connector = new TCPConnector({ resolver, dnsCacheMaxSize: 1, forceClose: true });
    await requestText(connector, `http://a.test:${srv.port}/`);
    await requestText(connector, `http://b.test:${srv.port}/`);
    expect([...connector.cachedHosts.keys()]).toEqual([`b.test:${srv.port}`]);
  });

  it("clearDnsCache with only one of host and port says what it takes", async () => {
    await using connector = new TCPConnector();
    expect(refusal(() => connector.clearDnsCache("a.test"))).toEqual(
      new InvalidArgumentError("clearDnsCache takes both host and port, or neither"),
    );
  });

  it("closes the resolver it created when it closes", async () => {
    const connector = new TCPConnector();
    const close = vi.spyOn(connector.resolver, "close");
    await connector.close();
    expect(close).toHaveBeenCalledTimes(1);
  });
});

describe("per-request TLS settings on a plain http URL", () => {
  it("are ignored, except a pin in TLS options, which is refused naming the URL", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("plain"));
    await using connector = new TCPConnector();
    const pin = new Fingerprint(Buffer.alloc(32, 1));
    for (const ssl of [{ ca: "not a CA" }, null, false]) {
      expect(await requestText(connector, srv.url(), { connectorOptions: { ssl } })).toBe("plain");
    }
    const err = await requestText(connector, srv.url(), {
      connectorOptions: { ssl: { fingerprint: pin } },
    }).catch((e: unknown) => e);
    expect(err).toEqual(
      new InvalidArgumentError(
        `a fingerprint was given for http://127.0.0.1:${srv.port}, which is not a TLS URL`,
      ),
    );
    expect(srv.stats.accepted).toBe(1);
  });
});

describe("the TLS server name", () => {
  it("is the URL's host name, and none for an IP address", async () => {
    await using srv = await startHttpsServer((_req, res) => res.end("secure"));
    const names: Array<string | false> = [];
    srv.server.on("secureConnection", (s: TLSSocket) => names.push(s.servername as string | false));
    const resolver = new TableResolver({ localhost: ["127.0.0.1"] });
    await using connector = new TCPConnector({ ssl: { ca: srv.ca }, resolver });
    expect(await requestText(connector, `https://localhost:${srv.port}/`)).toBe("secure");
    expect(await requestText(connector, srv.url())).toBe("secure");
    expect(names).toEqual(["localhost", false]);
  });

  it("through a proxy too, and serverHostname replaces it", async () => {
    await using srv = await startHttpsServer((_req, res) => res.end("secure"), { certificate: "wrongHost" });
    await using good = await startHttpsServer((_req, res) => res.end("secure"));
    const names: Array<string | false> = [];
    for (const s of [srv, good])
      s.server.on("secureConnection", (t: TLSSocket) => names.push(t.servername as string | false));
    await using proxy = await startProxyServer();
    const viaProxy = { proxy: { url: new URL(proxy.origin) } };
    await using connector = new TCPConnector({ ssl: { ca: srv.ca } });
    expect(
      await requestText(connector, srv.url(), {
        connectorOptions: { ...viaProxy, serverHostname: "other.test" },
      }),
    ).toBe("secure");
    expect(await requestText(connector, good.url(), { connectorOptions: viaProxy })).toBe("secure");
    expect(
      await requestText(connector, `https://localhost:${good.port}/`, { connectorOptions: viaProxy }),
    ).toBe("secure");
    expect(names).toEqual(["other.test", false, "localhost"]);
    await expect(requestText(connector, srv.url(), { connectorOptions: viaProxy })).rejects.toBeInstanceOf(
      ClientConnectorCertificateError,
    );
  });
});

describe("the TLS setting a connection failure reports", () => {
  it("is the pin's text for a Fingerprint", async () => {
    const port = await closedPort();
    const pin = new Fingerprint(Buffer.alloc(32, 3));
    await using connector = new TCPConnector({ ssl: pin });
    const err = await connector.connect({ url: `https://127.0.0.1:${port}/` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientConnectorError);
    expect((err as ClientConnectorError).ssl).toEqual({ fingerprint: pin.toString() });
  });
});

describe("the resolver's answer decides the port", () => {
  /** Answers 127.0.0.1 with the port in `ports` (0: none given). */
  const portResolver = (ports: Record<string, number>): AbstractResolver => ({
    resolve: async (host, port) => [
      { hostname: host, host: "127.0.0.1", port: ports[host] ?? port, family: 4 },
    ],
    close: async () => {},
  });

  it("for a direct connection; an answer without one keeps the URL's", async () => {
    await using srv = await startHttpServer((req, res) => res.end(`at ${req.headers.host}`));
    await using connector = new TCPConnector({
      resolver: portResolver({ "svc.test": srv.port, "zero.test": 0 }),
    });
    expect(await requestText(connector, "http://svc.test:1/")).toBe("at svc.test:1");
    expect(await requestText(connector, `http://zero.test:${srv.port}/`)).toBe(`at zero.test:${srv.port}`);
  });

  it("each address is tried once when all fail, starting one further on the next attempt", async () => {
    // Two servers that accept and hang up at once: the TLS handshake fails on each address.
    const order: string[] = [];
    const hangUp = (name: string) =>
      startRawServer((conn) => {
        order.push(name);
        conn.reset();
      });
    await using a = await hangUp("a");
    await using b = await hangUp("b");
    await using connector = new TCPConnector({
      resolver: {
        resolve: async (host) =>
          [a.port, b.port].map((port) => ({ hostname: host, host: "127.0.0.1", port, family: 4 as const })),
        close: async () => {},
      },
    });
    for (let i = 0; i < 2; i++) {
      const err = await connector.connect({ url: "https://svc.test/" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClientConnectorError);
    }
    expect(order).toEqual(["a", "b", "b", "a"]);
  });

  it("for the proxy's host name too", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("through"));
    await using proxy = await startProxyServer();
    await using connector = new TCPConnector({
      resolver: portResolver({ "proxy.test": proxy.port, "zero.test": 0 }),
    });
    for (const url of ["http://proxy.test:1", `http://zero.test:${proxy.port}`]) {
      expect(
        await requestText(connector, srv.url(), { connectorOptions: { proxy: { url: new URL(url) } } }),
      ).toBe("through");
    }
    expect(proxy.stats.accepted).toBe(2);
  });
});

describe("proxies", () => {
  it("a raw tunnel from connect() is never reused for a plain request through the same proxy", async () => {
    await using target = await startHttpServer((req, res) => res.end(`target ${req.url}`));
    await using proxy = await startProxyServer();
    await using connector = new TCPConnector();
    const settings = { url: new URL(proxy.origin) };
    const raw = await connector.connect({ url: target.url("/"), proxy: settings });
    raw.release();
    expect(connector.stats.idle).toBe(1);
    expect(await send(connector, target.url("/plain"), { connectorOptions: { proxy: settings } })).toEqual({
      status: 200,
      body: "target /plain",
    });
    expect(proxy.requests.map((r) => r.method)).toEqual(["CONNECT", "GET"]);
    expect(proxy.stats.accepted).toBe(2);
  });

  it("a key is a tunnel only through a proxy", async () => {
    await using probe = new Probe();
    const proxy = { url: new URL("http://127.0.0.1:3128") };
    for (const url of ["http://t.test/", "https://t.test/"]) {
      expect(probe.keyOf(url, { tunnel: true }).tunnel ?? false).toBe(false);
      expect(probe.keyOf(url, { tunnel: true, proxy }).tunnel).toBe(true);
      expect(probe.keyOf(url, { proxy }).tunnel).toBe(false);
    }
  });

  it("an unreachable IPv6 proxy is named without brackets", async () => {
    const port = await closedPort("::1");
    await using connector = new TCPConnector();
    const err = await connector
      .connect({ url: "http://target.test/", proxy: { url: new URL(`http://[::1]:${port}`) } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientProxyConnectionError);
    expect((err as ClientProxyConnectionError).host).toBe("::1");
    expect((err as ClientProxyConnectionError).port).toBe(port);
  });

  it("an https proxy gets TLS with its name (SNI, none for an IP) and ALPN http/1.1, verified with the system CAs", async () => {
    const certs = await testCertificates();
    const seen: { sni: string[]; alpn: string[][] } = { sni: [], alpn: [] };
    const server = createTlsServer(
      {
        key: certs.server.key,
        cert: certs.server.cert,
        SNICallback: (name, cb) => {
          seen.sni.push(name);
          cb(null, undefined);
        },
        ALPNCallback: ({ protocols }) => {
          seen.alpn.push(protocols);
          return protocols[0];
        },
      },
      (s) => s.end(),
    );
    server.on("tlsClientError", () => {});
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const resolver = new TableResolver({ "proxy.test": ["127.0.0.1"] });
      await using connector = new TCPConnector({ resolver });
      for (const host of ["proxy.test", "127.0.0.1"]) {
        const err = await connector
          .connect({ url: "http://target.test/", proxy: { url: new URL(`https://${host}:${port}`) } })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ClientProxyConnectionError);
        const proxyErr = err as ClientProxyConnectionError;
        expect([proxyErr.host, proxyErr.port, proxyErr.ssl]).toEqual([host, port, true]);
        // The test CA is not among the system's: the proxy's certificate is refused.
        expect((proxyErr.osError as { code?: string }).code).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      }
      expect(seen).toEqual({ sni: ["proxy.test"], alpn: [["http/1.1"], ["http/1.1"]] });
    } finally {
      server.close();
    }
  });
});

describe("giving up when the signal aborts", () => {
  it("connect() gives up at once while the name is being resolved", async () => {
    const resolver = new GateResolver();
    await using connector = new TCPConnector({ resolver });
    const ac = new AbortController();
    const pending = connector.connect({ url: "http://gate.test:1/", signal: ac.signal });
    while (resolver.calls === 0) await new Promise((r) => setTimeout(r, 1));
    const reason = new Error("enough");
    ac.abort(reason);
    expect(await settled(pending)).toBe(reason);
    resolver.open();
  });

  describe("openSocket(), as a subclass calls it", () => {
    it("an attempt whose signal has already aborted rejects with its reason at once", async () => {
      const resolver = new GateResolver();
      await using probe = new Probe({ resolver });
      const reason = new Error("too late");
      expect(await settled(probe.open("http://gate.test:1/", AbortSignal.abort(reason)))).toBe(reason);
      resolver.open();
    });

    it("an abort during the lookup rejects with the reason itself and leaves no listener", async () => {
      const resolver = new GateResolver();
      await using probe = new Probe({ resolver });
      const ac = new AbortController();
      const pending = probe.open("http://gate.test:1/", ac.signal);
      const reason = new Error("stop");
      ac.abort(reason);
      expect(await settled(pending)).toBe(reason);
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
      resolver.open();
    });

    it("an abort while the proxy's name is resolved rejects with the reason, not a proxy error", async () => {
      const resolver = new GateResolver();
      await using probe = new Probe({ resolver });
      const ac = new AbortController();
      const pending = probe.open("http://target.test/", ac.signal, {
        proxy: { url: new URL("http://gate.test:1") },
      });
      const reason = new Error("stop");
      ac.abort(reason);
      expect(await settled(pending)).toBe(reason);
      resolver.open();
    });

    it("leaves no listener on the signal once the socket is open, or the lookup failed", async () => {
      await using srv = await startHttpServer((_req, res) => res.end("x"));
      const resolver = new TableResolver({ "svc.test": ["127.0.0.1"] });
      await using probe = new Probe({ resolver });
      const signal = new AbortController().signal;
      const socket = await probe.open(`http://svc.test:${srv.port}/`, signal);
      expect(getEventListeners(signal, "abort")).toHaveLength(0);
      socket.destroy();
      const err = await probe.open("http://missing.test/", signal).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClientConnectorDNSError);
      expect(getEventListeners(signal, "abort")).toHaveLength(0);
    });
  });
});
