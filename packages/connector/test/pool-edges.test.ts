import { execFile } from "node:child_process";
import { constants } from "node:crypto";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { promisify } from "node:util";
import { startHttpServer, startRawServer, testCertificates } from "@x/fixtures";
import { type Dispatcher, request, errors as undiciErrors } from "undici";
import { describe, expect, it } from "vitest";
import {
  type ConnectAttempt,
  connectorChannels,
  type PooledConnection,
  type PoolKey,
  TCPConnector,
} from "../src/index.js";
import { both, compare, failure } from "./compare.js";
import { recorder, TableResolver, until } from "./helpers.js";

const run = promisify(execFile);

/** Settles with the error a request through `dispatcher` ends with (or "ok"). */
function outcome(dispatcher: Dispatcher, url: string, opts: Record<string, unknown> = {}): Promise<unknown> {
  return request(url, { dispatcher, ...opts } as never).then(
    (res) => res.body.text().then(() => "ok"),
    (err: unknown) => err,
  );
}

describe("useDnsCache: false", () => {
  it("sends no dns-cache-miss (trace or channel) and keeps no answer, resolving every time", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("ok"));
    const resolver = new TableResolver({ "nocache.test": ["127.0.0.1"] });
    await using connector = new TCPConnector({ resolver, useDnsCache: false, forceClose: true });
    const { events, trace } = recorder();
    const resolved: string[] = [];
    const channelMisses: unknown[] = [];
    const onMiss = (message: unknown) => channelMisses.push(message);
    subscribe(connectorChannels.dnsCacheMiss.name, onMiss);
    try {
      for (const path of ["/1", "/2"]) {
        const res = await request(`http://nocache.test:${srv.port}${path}`, {
          dispatcher: connector,
          connectorOptions: {
            trace: { ...trace, onDnsResolveHostStart: (h: string) => resolved.push(h) },
          },
        } as never);
        expect(await res.body.text()).toBe("ok");
      }
    } finally {
      unsubscribe(connectorChannels.dnsCacheMiss.name, onMiss);
    }
    expect(resolver.calls).toEqual(["nocache.test", "nocache.test"]);
    expect(resolved).toEqual(["nocache.test", "nocache.test"]);
    expect(events.filter((e) => e.startsWith("cache-"))).toEqual([]);
    expect(channelMisses).toEqual([]);
    expect(connector.cachedHosts.size).toBe(0);
  });
});

describe("nothing is opened once destroy() has begun", () => {
  it("a request waiting for a coalescing HTTP/2 connection is not given a connection of its own after destroy()", async () => {
    await using silent = await startRawServer(async (conn) => {
      await conn.readToEnd();
    });
    const connector = new TCPConnector({ allowH2: true, ssl: false });
    const url = silent.url().replace("http:", "https:");
    const connectionErrors: unknown[] = [];
    connector.on("connectionError", (_origin, _targets, err) => connectionErrors.push(err));
    const first = recorder();
    const second = recorder();
    const a = outcome(connector, url, { connectorOptions: { trace: first.trace } });
    const b = outcome(connector, url, { connectorOptions: { trace: second.trace } });
    await until(() => silent.stats.accepted === 1);
    await connector.destroy();
    for (const err of await Promise.all([a, b]))
      expect(err).toBeInstanceOf(undiciErrors.ClientDestroyedError);
    expect(first.events).toEqual(["create-start"]);
    // The second request never had a connection being made for it.
    expect(second.events).toEqual([]);
    expect(connectionErrors).toEqual([]);
    expect(silent.stats.accepted).toBe(1);
  });
});

describe("an idle connection closed through its PooledConnection", () => {
  it("leaves the idle pool at once: stats say so, and the next request opens a new socket", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("ok"));
    await using connector = new TCPConnector();
    let pooled: PooledConnection | undefined;
    const onConnection = ({ connection }: { connection: PooledConnection }) => {
      pooled = connection;
    };
    expect(await outcome(connector, srv.url("/1"), { connectorOptions: { onConnection } })).toBe("ok");
    await until(() => connector.stats.idle === 1);
    expect(pooled?.state).toBe("idle");
    pooled?.close();
    expect(pooled?.state).toBe("closed");
    expect(connector.stats).toEqual({ acquired: 0, idle: 0, waiting: 0 });
    await until(() => srv.stats.open === 0);
    expect(await outcome(connector, srv.url("/2"))).toBe("ok");
    expect(srv.stats.accepted).toBe(2);
    expect(connector.stats).toEqual({ acquired: 0, idle: 1, waiting: 0 });
  });
});

describe("a connection given back while destroy() tears the pool down", () => {
  it("is not taken back: the request running on it fails with destroy()'s reason", async () => {
    await using srv = await startHttpServer((_req, res) => {
      res.writeHead(200);
      res.write("start");
    });
    let onAbort: () => void = () => {};
    // A subclass whose sockets to hang.test never open; it runs its own code when the opening is stopped.
    class Hanging extends TCPConnector {
      protected override openSocket(key: PoolKey, attempt: ConnectAttempt): Promise<Socket> {
        if (key.hostname !== "hang.test") return super.openSocket(key, attempt);
        return new Promise((_resolve, reject) => {
          attempt.signal.addEventListener("abort", () => {
            onAbort();
            reject(attempt.signal.reason);
          });
        });
      }
    }
    const connector = new Hanging();
    const hanging = outcome(connector, "http://hang.test:1/");
    let pooled: PooledConnection | undefined;
    const res = await request(srv.url(), {
      dispatcher: connector,
      connectorOptions: {
        onConnection: ({ connection }: { connection: PooledConnection }) => {
          pooled = connection;
        },
      },
    } as never);
    const body = res.body.text().catch((e: unknown) => e);
    // While the pool is torn down (the hanging opening is stopped first), the running request's
    // connection is given back.
    onAbort = () => pooled?.release();
    const reason = new Error("shutting down");
    await connector.destroy(reason);
    expect(await hanging).toBe(reason);
    expect(await body).toBe(reason);
  });
});

describe("close() after destroy(), as undici's Agent", () => {
  it("rejects with ClientDestroyedError even while an earlier close() still waits", async () => {
    await using srv = await startHttpServer((_req, res) => {
      res.writeHead(200);
      res.write("start");
    });
    const results = await compare(async (dispatcher) => {
      const res = await request(srv.url(), { dispatcher });
      res.body.text().catch(() => {});
      dispatcher.close().catch(() => {});
      await new Promise((r) => setTimeout(r, 10));
      // (Agent leaves the first close() and the body unsettled here: only the second close() is compared.)
      dispatcher.destroy().catch(() => {});
      const again = await dispatcher.close().then(() => "resolved", failure);
      return { closed: dispatcher.closed, destroyed: dispatcher.destroyed, again };
    });
    expect(results).toEqual(
      both({
        closed: true,
        destroyed: true,
        again: { error: "undici.ClientDestroyedError", code: "UND_ERR_DESTROYED" },
      }),
    );
  });

  it("rejects with ClientDestroyedError once close()'s own teardown has begun", async () => {
    const results = await compare(async (dispatcher) => {
      const settle = (p: Promise<void>) => p.then(() => "resolved", failure);
      const first = settle(dispatcher.close());
      let again: Promise<unknown> | undefined;
      while (!again) {
        await Promise.resolve();
        if (dispatcher.destroyed) again = settle(dispatcher.close());
      }
      return { first: await first, again: await again };
    });
    expect(results).toEqual(
      both({ first: "resolved", again: { error: "undici.ClientDestroyedError", code: "UND_ERR_DESTROYED" } }),
    );
  });
});

describe("TLS sessions of https proxies", () => {
  // An https proxy is verified with the system CAs, which a process trusts the test CA among only
  // when started with NODE_EXTRA_CA_CERTS: the connections are made by a child process so started.
  const child = `
import { TCPConnector } from ${JSON.stringify(join(import.meta.dirname, "../src/index.ts"))};
const connector = new TCPConnector();
const out = [];
for (const port of process.argv.slice(2)) {
  try {
    const conn = await connector.connect({ url: "http://target.test/", proxy: { url: new URL("https://127.0.0.1:" + port) } });
    out.push("tunnel");
    conn.close();
  } catch (err) {
    out.push(err.name);
  }
}
await connector.destroy();
console.log(JSON.stringify(out));
`;

  it("are kept per proxy: a session is offered again to its own proxy only", async () => {
    const certs = await testCertificates();
    const dir = await mkdtemp(join(tmpdir(), "pool-edges-"));
    // One session store behind both proxies, so either would recognise a session the other made.
    const store = new Map<string, Buffer>();
    const offered: Array<{ proxy: string; known: boolean }> = [];
    const proxy = async (name: string) => {
      const server = createTlsServer(
        {
          key: certs.server.key,
          cert: certs.server.cert,
          maxVersion: "TLSv1.2",
          secureOptions: constants.SSL_OP_NO_TICKET,
        },
        (socket) => {
          socket.once("data", () => socket.write("HTTP/1.1 200 Connection established\r\n\r\n"));
          socket.on("error", () => {});
        },
      );
      server.on("newSession", (id: Buffer, data: Buffer, cb: () => void) => {
        store.set(id.toString("hex"), data);
        cb();
      });
      server.on("resumeSession", (id: Buffer, cb: (err: Error | null, data: Buffer | null) => void) => {
        const session = store.get(id.toString("hex"));
        offered.push({ proxy: name, known: session !== undefined });
        cb(null, session ?? null);
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      return { server, port: (server.address() as { port: number }).port };
    };
    const a = await proxy("a");
    const b = await proxy("b");
    try {
      await writeFile(join(dir, "ca.pem"), certs.ca);
      await writeFile(join(dir, "child.mts"), child);
      const { stdout } = await run(
        process.execPath,
        [
          "--import",
          "tsx",
          "--conditions=@x/source",
          join(dir, "child.mts"),
          `${a.port}`,
          `${a.port}`,
          `${b.port}`,
        ],
        { cwd: import.meta.dirname, env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, "ca.pem") } },
      );
      expect(JSON.parse(stdout)).toEqual(["tunnel", "tunnel", "tunnel"]);
      // (A client able to speak TLS 1.3 sends a random session id the first time: not a session.)
      expect(offered.filter((o) => o.known)).toEqual([{ proxy: "a", known: true }]);
    } finally {
      a.server.close();
      b.server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
