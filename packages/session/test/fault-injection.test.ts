import { AsyncResolver, TCPConnector } from "@x/connector";
import type { AbstractCookieJar } from "@x/cookies";
import {
  ClientConnectorDNSError,
  ClientConnectorError,
  ClientPayloadError,
  ClientResponseError,
  ConnectorClosedError,
  ServerDisconnectedError,
  SocketTimeoutError,
  TotalTimeoutError,
} from "@x/errors";
import {
  closedPort,
  type RawTestServer,
  sleep,
  startDnsServer,
  startRawServer,
  testCertificates,
  until,
} from "@x/fixtures";
import { afterEach, describe, expect, it } from "vitest";
import { ClientSession, type ClientSessionOptions } from "../src/index.js";

// Every test ends with no socket left open on either side.
const sessions: ClientSession<AbstractCookieJar>[] = [];
const servers: RawTestServer[] = [];
function session(options: ClientSessionOptions = {}): ClientSession<AbstractCookieJar> {
  const s = new ClientSession({ connector: new TCPConnector(), ...options });
  sessions.push(s);
  return s;
}
async function raw(
  script: Parameters<typeof startRawServer>[0],
  options?: Parameters<typeof startRawServer>[1],
) {
  const srv = await startRawServer(script, options);
  servers.push(srv);
  return srv;
}
afterEach(async () => {
  for (const s of sessions.splice(0)) {
    const c = s.connector as TCPConnector;
    await sleep(5);
    expect(c.stats.acquired, "connections still acquired").toBe(0);
    await s.close();
  }
  for (const srv of servers.splice(0)) {
    await srv.stats.idle(3000);
    await srv.close();
  }
});

const OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";

describe("fault injection", () => {
  it("the server closes an idle keep-alive socket: the next request (GET or POST) gets a fresh connection", async () => {
    const srv = await raw(async (conn) => {
      await conn.readHead();
      await conn.write(OK);
      if (conn.index === 0) conn.socket.end();
      else
        await conn
          .readHead()
          .then(() => conn.write(OK))
          .catch(() => {});
    });
    const s = session();
    await (await s.get(srv.url("/1"))).read();
    // The client has seen the close once it has closed its own side.
    await until(() => srv.connections[0]?.ended === true);
    expect(await (await s.post(srv.url("/2"), { data: "x" })).text()).toBe("ok");
    expect(srv.connections).toHaveLength(2);
  });

  it("a close racing the request: GET is retried, POST fails with ServerDisconnectedError", async () => {
    const srv = await raw(async (conn) => {
      await conn.readHead();
      await conn.write(OK);
      await conn.readHead().catch(() => {});
      if (conn.index <= 1) conn.socket.end();
    });
    const s = session();
    await (await s.get(srv.url("/warm"))).read();
    await expect(s.post(srv.url("/p"), { data: "x" })).rejects.toBeInstanceOf(ServerDisconnectedError);
    const t = session();
    await (await t.get(srv.url("/warm"))).read().catch(() => {});
  });

  it("RST in the middle of a body → ClientPayloadError", async () => {
    const srv = await raw(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
      await conn.write(Buffer.alloc(1000, 1));
      await sleep(10);
      conn.reset();
    });
    const resp = await session().get(srv.url());
    await expect(resp.read()).rejects.toBeInstanceOf(ClientPayloadError);
  });

  it("a truncated chunked body → ClientPayloadError", async () => {
    const srv = await raw(async (conn) => {
      await conn.readHead();
      await conn.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly part");
    });
    await expect((await session().get(srv.url())).read()).rejects.toBeInstanceOf(ClientPayloadError);
  });

  it("a body shorter than Content-Length → ClientPayloadError; longer → exactly Content-Length bytes", async () => {
    const short = await raw(async (conn) => {
      await conn.readHead();
      await conn.end("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345");
    });
    await expect((await session().get(short.url())).read()).rejects.toBeInstanceOf(ClientPayloadError);
    const long = await raw(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabcdefgh");
      await conn.readToEnd();
    });
    const s = session();
    expect(await (await s.get(long.url())).text()).toBe("abc");
    // The extra bytes poison the connection; it is not reused.
    await sleep(20);
    expect((s.connector as TCPConnector).stats.idle).toBe(0);
  });

  it.each([
    ["two different Content-Lengths", "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"],
    [
      "Content-Length with Transfer-Encoding",
      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ],
    ["a bad Content-Length", "Content-Length: 5x\r\n\r\nhello"],
  ])("%s is refused (no request smuggling)", async (_what, head) => {
    const srv = await raw(async (conn) => {
      await conn.readHead();
      await conn.end(`HTTP/1.1 200 OK\r\n${head}`);
    });
    const err = await session()
      .get(srv.url())
      .then((r) => r.read())
      .catch((e: unknown) => e);
    expect(err instanceof ClientResponseError || err instanceof ClientPayloadError).toBe(true);
  });

  it("an unsolicited response on an idle socket is dropped with the socket", async () => {
    const srv = await raw(async (conn) => {
      await conn.readHead();
      await conn.write(OK);
      if (conn.index === 0) await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsneaky");
      await conn
        .readHead()
        .then(() => conn.write(OK))
        .catch(() => {});
    });
    const s = session();
    await (await s.get(srv.url("/1"))).read();
    await sleep(30);
    expect(await (await s.get(srv.url("/2"))).text()).toBe("ok");
    expect(srv.connections).toHaveLength(2);
  });

  it("a body dripping one byte every 100 ms trips sockRead", async () => {
    const srv = await raw(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n");
      for (let i = 0; i < 50 && !conn.ended; i++) {
        await conn.write("x").catch(() => {});
        await sleep(100);
      }
    });
    const resp = await session({ timeout: { sockRead: 60 } }).get(srv.url());
    await expect(resp.read()).rejects.toBeInstanceOf(SocketTimeoutError);
  });

  it("headers that never end trip the total timeout", async () => {
    const srv = await raw(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\n");
      for (let i = 0; i < 100 && !conn.ended; i++) {
        await conn.write(`X-H${i}: v\r\n`).catch(() => {});
        await sleep(20);
      }
    });
    await expect(session({ timeout: { total: 200 } }).get(srv.url())).rejects.toBeInstanceOf(
      TotalTimeoutError,
    );
  });

  it.each([
    ["10,000 headers", () => Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v\r\n`).join("")],
    ["one 1 MiB header", () => `X-Big: ${"v".repeat(1024 * 1024)}\r\n`],
  ])("%s: a clear error, memory bounded", async (_what, make) => {
    const headers = make();
    const srv = await raw(async (conn) => {
      await conn.readHead();
      await conn.write(`HTTP/1.1 200 OK\r\n${headers}Content-Length: 0\r\n\r\n`).catch(() => {});
    });
    const before = process.memoryUsage().rss;
    const err = await session()
      .get(srv.url())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientResponseError);
    expect((err as ClientResponseError).status).toBe(400);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it("TLS closed without close_notify: the body so far, or a clear error, never a hang", async () => {
    const certs = await testCertificates();
    const srv = await raw(
      async (conn) => {
        await conn.readHead();
        await conn.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
        // Destroy the TCP socket under TLS: no close_notify is sent.
        (conn.socket as unknown as { _parent?: { destroy(): void } })._parent?.destroy();
        conn.socket.destroy();
      },
      { tls: true },
    );
    const resp = await session({ timeout: { total: 3000 } }).get(srv.url(), { ssl: { ca: certs.ca } });
    const outcome = await resp.text().catch((e: unknown) => e);
    expect(outcome === "until the end" || outcome instanceof ClientPayloadError).toBe(true);
  });

  it("DNS failure and refusal are connector errors", async () => {
    await using dns = await startDnsServer({ "known.test": { A: ["127.0.0.1"] } });
    const resolver = new AsyncResolver({ servers: [dns.address], timeout: 1000, tries: 1 });
    const s = session({ connector: new TCPConnector({ resolver }) });
    await expect(s.get("http://nowhere.test/")).rejects.toBeInstanceOf(ClientConnectorDNSError);
    const port = await closedPort();
    await expect(session().get(`http://127.0.0.1:${port}/`)).rejects.toBeInstanceOf(ClientConnectorError);
  });

  it("closing the session while requests wait for the pool fails them with ConnectorClosedError", async () => {
    const srv = await raw(async (conn) => {
      await conn.readHead().catch(() => {});
      await conn.readToEnd().catch(() => {});
    });
    const s = new ClientSession({ connector: new TCPConnector({ limit: 1 }) });
    const results = Array.from({ length: 5 }, (_, i) => s.get(srv.url(`/${i}`)).catch((e: unknown) => e));
    await sleep(50);
    await s.close();
    for (const r of await Promise.all(results)) expect(r).toBeInstanceOf(ConnectorClosedError);
  });
});
