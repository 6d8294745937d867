import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { startHttpServer } from "@x/fixtures";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import {
  type ConnectionInfo,
  type ConnectorTrace,
  connectorChannels,
  PooledConnection,
  TCPConnector,
} from "../src/index.js";
import { TableResolver, until } from "./helpers.js";

function recorder(): { events: string[]; trace: ConnectorTrace } {
  const events: string[] = [];
  const trace: ConnectorTrace = {
    onConnectionQueuedStart: () => events.push("queued-start"),
    onConnectionQueuedEnd: () => events.push("queued-end"),
    onConnectionCreateStart: () => events.push("create-start"),
    onConnectionCreateEnd: () => events.push("create-end"),
    onConnectionReuseconn: () => events.push("reuseconn"),
    onDnsResolveHostStart: (h) => events.push(`resolve-start ${h}`),
    onDnsResolveHostEnd: (h) => events.push(`resolve-end ${h}`),
    onDnsCacheHit: (h) => events.push(`cache-hit ${h}`),
    onDnsCacheMiss: (h) => events.push(`cache-miss ${h}`),
  };
  return { events, trace };
}

describe("per-request trace hooks", () => {
  it("report creation with DNS, reuse, and cache hits in aiohttp's order", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const resolver = new TableResolver({ "svc.test": ["127.0.0.1"] });
    await using connector = new TCPConnector({ resolver });
    const url = `http://svc.test:${srv.port}/`;
    const send = async (trace: ConnectorTrace, extra: Record<string, unknown> = {}) =>
      (
        await request(url, { dispatcher: connector, connectorOptions: { trace, ...extra } } as never)
      ).body.text();

    const first = recorder();
    await send(first.trace);
    expect(first.events).toEqual([
      "create-start",
      "cache-miss svc.test",
      "resolve-start svc.test",
      "resolve-end svc.test",
      "create-end",
    ]);

    const second = recorder();
    await send(second.trace);
    expect(second.events).toEqual(["reuseconn"]);

    // A second connection to the same host hits the DNS cache.
    const third = recorder();
    const fourth = recorder();
    await Promise.all([send(third.trace), send(fourth.trace)]);
    expect([third.events, fourth.events]).toContainEqual([
      "create-start",
      "cache-hit svc.test",
      "create-end",
    ]);
  });

  it("report the wait for a free connection", async () => {
    await using srv = await startHttpServer((_req, res) => setTimeout(() => res.end("x"), 20));
    await using connector = new TCPConnector({ limit: 1 });
    const a = recorder();
    const b = recorder();
    const go = (trace: ConnectorTrace) =>
      request(srv.url(), { dispatcher: connector, connectorOptions: { trace } } as never).then((r) =>
        r.body.text(),
      );
    await Promise.all([go(a.trace), go(b.trace)]);
    expect(a.events).toEqual(["create-start", "create-end"]);
    expect(b.events).toEqual(["queued-start", "queued-end", "reuseconn"]);
    // A request that gives up while it waits ends its wait too.
    const c = recorder();
    const ac = new AbortController();
    const held = go(a.trace);
    const gaveUp = request(srv.url(), {
      dispatcher: connector,
      signal: ac.signal,
      connectorOptions: { trace: c.trace },
    } as never).catch((e: unknown) => e);
    expect(c.events).toEqual(["queued-start"]);
    ac.abort(new Error("no longer needed"));
    expect(((await gaveUp) as Error).message).toBe("no longer needed");
    expect(c.events).toEqual(["queued-start", "queued-end"]);
    await held;
  });

  it("a request to a host with room does not wait, even while another host's requests do (as aiohttp, per key)", async () => {
    const held: Array<() => void> = [];
    await using busy = await startHttpServer((_req, res) => {
      held.push(() => res.end("busy"));
    });
    await using free = await startHttpServer((_req, res) => res.end("free"));
    await using connector = new TCPConnector({ limitPerHost: 1 });
    const go = (url: string, trace: ConnectorTrace) =>
      request(url, { dispatcher: connector, connectorOptions: { trace } } as never).then((r) =>
        r.body.text(),
      );
    const first = go(busy.url(), recorder().trace);
    const waiting = recorder();
    const second = go(busy.url(), waiting.trace);
    expect(waiting.events).toEqual(["queued-start"]);
    const other = recorder();
    expect(await go(free.url(), other.trace)).toBe("free");
    expect(other.events).toEqual(["create-start", "create-end"]);
    await until(() => held.length === 1);
    held[0]!();
    expect(await first).toBe("busy");
    await until(() => held.length === 2);
    held[1]!();
    expect(await second).toBe("busy");
    expect(waiting.events).toEqual(["queued-start", "queued-end", "reuseconn"]);
  });

  it("onConnection says which connection carried the request and whether it was reused", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector();
    const infos: ConnectionInfo[] = [];
    const go = () =>
      request(srv.url(), {
        dispatcher: connector,
        connectorOptions: { onConnection: (i: ConnectionInfo) => infos.push(i) },
      } as never).then((r) => r.body.text());
    await go();
    await go();
    expect(infos.map((i) => i.reused)).toEqual([false, true]);
    expect(infos[0]?.connection).toBe(infos[1]?.connection);
    expect(infos[0]?.connection.key.origin).toBe(`http://127.0.0.1:${srv.port}`);
    expect(infos[0]?.connection.transport?.remotePort).toBe(srv.port);
  });
});

describe("diagnostics_channel", () => {
  it("publishes the same events for APM tools", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    await using connector = new TCPConnector();
    const seen: string[] = [];
    const names = ["connection-create-start", "connection-create-end", "connection-reuseconn"];
    const listeners = names.map((n) => {
      const fn = (msg: unknown) => {
        seen.push(n);
        expect(msg).toBeTypeOf("object");
      };
      subscribe(`x:connector:${n}`, fn);
      return [n, fn] as const;
    });
    try {
      await (await request(srv.url(), { dispatcher: connector })).body.text();
      await (await request(srv.url(), { dispatcher: connector })).body.text();
    } finally {
      for (const [n, fn] of listeners) unsubscribe(`x:connector:${n}`, fn);
    }
    expect(seen).toEqual(["connection-create-start", "connection-create-end", "connection-reuseconn"]);
  });

  it("names the connector in every message, with the host, origin, key and connection", async () => {
    let arrived = (): void => {};
    const first = new Promise<void>((r) => {
      arrived = r;
    });
    await using srv = await startHttpServer((_req, res) => {
      arrived();
      setTimeout(() => res.end("x"), 20);
    });
    const resolver = new TableResolver({ "svc.test": ["127.0.0.1"] });
    await using connector = new TCPConnector({ resolver, limit: 1 });
    await using other = new TCPConnector({ resolver, forceClose: true });
    const origin = `http://svc.test:${srv.port}`;
    const seen: [string, Record<string, unknown>][] = [];
    const listeners = Object.keys(connectorChannels).map((name) => {
      // The connector by identity: two connectors look alike to a deep comparison.
      const fn = (msg: unknown) => {
        const m = msg as Record<string, unknown>;
        const which = m.connector === connector ? "connector" : m.connector === other ? "other" : m.connector;
        seen.push([name, { ...m, connector: which }]);
      };
      connectorChannels[name as keyof typeof connectorChannels].subscribe(fn);
      return [name as keyof typeof connectorChannels, fn] as const;
    });
    const go = (dispatcher: TCPConnector) => request(`${origin}/`, { dispatcher }).then((r) => r.body.text());
    try {
      // The second waits (limit 1) for the first's connection, then reuses it.
      const one = go(connector);
      await first;
      await Promise.all([one, go(connector)]);
      seen.push(["--", {}]);
      await go(other);
      await go(other);
    } finally {
      for (const [name, fn] of listeners) connectorChannels[name].unsubscribe(fn);
    }
    const conn = seen.find(([n]) => n === "connectionCreateEnd")?.[1].connection;
    expect(conn).toBeInstanceOf(PooledConnection);
    const key = seen.find(([n]) => n === "connectionQueuedStart")?.[1].key;
    expect(key).toBeTypeOf("string");
    expect(key).toContain(origin);
    const addresses = [expect.objectContaining({ host: "127.0.0.1", port: srv.port })];
    expect(seen).toEqual([
      ["connectionCreateStart", { connector: "connector", origin }],
      ["dnsCacheMiss", { connector: "connector", host: "svc.test" }],
      ["dnsResolveHostStart", { connector: "connector", host: "svc.test" }],
      ["dnsResolveHostEnd", { connector: "connector", host: "svc.test", addresses }],
      ["connectionCreateEnd", { connector: "connector", origin, connection: conn }],
      ["connectionQueuedStart", { connector: "connector", origin, key }],
      ["connectionQueuedEnd", { connector: "connector", origin, key }],
      ["connectionReuseconn", { connector: "connector", origin, key, connection: conn }],
      ["--", {}],
      ["connectionCreateStart", { connector: "other", origin }],
      ["dnsCacheMiss", { connector: "other", host: "svc.test" }],
      ["dnsResolveHostStart", { connector: "other", host: "svc.test" }],
      ["dnsResolveHostEnd", { connector: "other", host: "svc.test", addresses }],
      ["connectionCreateEnd", { connector: "other", origin, connection: expect.any(PooledConnection) }],
      ["connectionCreateStart", { connector: "other", origin }],
      ["dnsCacheHit", { connector: "other", host: "svc.test" }],
      ["connectionCreateEnd", { connector: "other", origin, connection: expect.any(PooledConnection) }],
    ]);
  });

  it("emits the Dispatcher's connect and disconnect events", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const connector = new TCPConnector();
    const events: string[] = [];
    connector.on("connect", (origin) => events.push(`connect ${origin.port}`));
    connector.on("disconnect", (origin) => events.push(`disconnect ${origin.port}`));
    await (await request(srv.url(), { dispatcher: connector })).body.text();
    await connector.close();
    expect(events).toEqual([`connect ${srv.port}`, `disconnect ${srv.port}`]);
  });
});
