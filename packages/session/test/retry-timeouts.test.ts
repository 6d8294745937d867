import { TCPConnector } from "@x/connector";
import {
  ConnectionTimeoutError,
  InvalidArgumentError,
  ServerDisconnectedError,
  SocketTimeoutError,
  TimeoutError,
  TotalTimeoutError,
} from "@x/errors";
import { sleep, startHttpServer, startRawServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession, DEFAULT_TIMEOUT } from "../src/index.js";

describe("the stale keep-alive retry", () => {
  it("retries an idempotent request once when the reused connection turns out closed", async () => {
    // Connection 0 answers once, then takes the next request and closes without answering: what
    // a server that timed the idle connection out at that moment does.
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
      if (conn.index === 0) {
        await conn.readHead();
        conn.socket.end();
      }
    });
    await using session = new ClientSession();
    expect(await (await session.get(srv.url("/1"))).text()).toBe("ok");
    expect(await (await session.get(srv.url("/2"))).text()).toBe("ok");
    expect(srv.connections).toHaveLength(2);
  });

  it("never retries POST or PATCH", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
      await conn.readHead();
      conn.socket.end();
    });
    await using session = new ClientSession();
    await (await session.get(srv.url())).read();
    const err = await session.post(srv.url(), { data: "x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerDisconnectedError);
    expect(srv.connections).toHaveLength(1);
  });

  it("retries once only", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      if (conn.index === 0) {
        await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
        await conn.readHead();
      }
      conn.socket.end();
    });
    await using session = new ClientSession();
    await (await session.get(srv.url())).read();
    await expect(session.get(srv.url())).rejects.toBeInstanceOf(ServerDisconnectedError);
    expect(srv.connections).toHaveLength(2);
  });

  it("does not retry on a fresh connection", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      conn.socket.end();
    });
    await using session = new ClientSession();
    await expect(session.get(srv.url())).rejects.toBeInstanceOf(ServerDisconnectedError);
    expect(srv.connections).toHaveLength(1);
  });
});

describe("timeouts", () => {
  it("default to aiohttp's: 5 minutes total, 30 s per connection attempt", async () => {
    await using session = new ClientSession();
    expect(session.timeout).toEqual({ total: 300_000, connect: null, sockConnect: 30_000, sockRead: null });
    expect(DEFAULT_TIMEOUT.total).toBe(300_000);
  });

  it("total covers reading the body", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstart");
      await sleep(10_000);
    });
    await using session = new ClientSession({ timeout: { total: 1000 } });
    const started = Date.now();
    const resp = await session.get(srv.url());
    const err = await resp.read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TotalTimeoutError);
    expect(err instanceof TimeoutError).toBe(true);
    // The total's second, not the rest of the body (which never comes).
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("total stops counting once the body is read", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("quick"));
    await using session = new ClientSession({ timeout: { total: 1000 } });
    const resp = await session.get(srv.url());
    expect(await resp.text()).toBe("quick");
    await sleep(1100);
    expect(await resp.text()).toBe("quick");
  });

  it("connect covers the wait for a free connection", async () => {
    let release = () => {};
    await using srv = await startHttpServer((_req, res) => {
      release = () => res.end("slow");
    });
    await using session = new ClientSession({ connector: new TCPConnector({ limit: 1 }) });
    const held = session.get(srv.url());
    const err = await session.get(srv.url(), { timeout: { connect: 50 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionTimeoutError);
    release();
    expect(await (await held).text()).toBe("slow");
  });

  it("sockConnect covers each attempt, TLS handshake included", async () => {
    await using silent = await startRawServer(async (conn) => {
      await conn.readToEnd();
    });
    await using session = new ClientSession({ timeout: { sockConnect: 60 } });
    await expect(session.get(silent.url().replace("http:", "https:"))).rejects.toBeInstanceOf(
      ConnectionTimeoutError,
    );
  });

  it("sockRead limits the gap between reads, not the whole body", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (let i = 0; i < 6; i++) {
        await sleep(conn.index === 0 ? 250 : 1500);
        await conn.write("1\r\nx\r\n");
      }
      await conn.end("0\r\n\r\n");
    });
    // The first body takes 1.5 s in six gaps of 250 ms: more than sockRead in all, less in each gap.
    await using session = new ClientSession({ timeout: { sockRead: 1000 } });
    expect(await (await session.get(srv.url())).text()).toBe("xxxxxx");
    const resp = await session.get(srv.url());
    await expect(resp.read()).rejects.toBeInstanceOf(SocketTimeoutError);
  });

  it("a request's timeout is laid over the session's field by field; a number is total", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await sleep(1000);
    });
    await using session = new ClientSession({ timeout: { total: 5000 } });
    const started = Date.now();
    await expect(session.get(srv.url(), { timeout: 100 })).rejects.toBeInstanceOf(TotalTimeoutError);
    await expect(session.get(srv.url(), { timeout: { sockRead: 100 } })).rejects.toBeInstanceOf(
      SocketTimeoutError,
    );
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it("resolves a session's timeout over aiohttp's defaults; refuses a bad one saying which field", async () => {
    await using plain = new ClientSession();
    expect(plain.timeout).toEqual({ total: 300_000, connect: null, sockConnect: 30_000, sockRead: null });
    await using some = new ClientSession({ timeout: { connect: 5, sockRead: 7 } });
    expect(some.timeout).toEqual({ total: 300_000, connect: 5, sockConnect: 30_000, sockRead: 7 });
    await using off = new ClientSession({ timeout: null as never });
    expect(off.timeout).toEqual({ total: null, connect: null, sockConnect: null, sockRead: null });
    await using zeros = new ClientSession({ timeout: { total: 0, connect: 0, sockConnect: 0, sockRead: 0 } });
    expect(zeros.timeout).toEqual({ total: null, connect: null, sockConnect: null, sockRead: null });
    await using total = new ClientSession({ timeout: 1500 as never });
    expect(total.timeout).toEqual({ total: 1500, connect: null, sockConnect: 30_000, sockRead: null });
    for (const field of ["total", "connect", "sockConnect", "sockRead"]) {
      for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, "5", true]) {
        expect(() => new ClientSession({ timeout: { [field]: bad } as never })).toThrow(
          new InvalidArgumentError(
            `timeout.${field} must be a non-negative number of milliseconds or null, got ${String(bad)}`,
          ),
        );
      }
    }
    expect(() => new ClientSession({ timeout: -5 as never })).toThrow(
      new InvalidArgumentError("timeout.total must be a non-negative number of milliseconds or null, got -5"),
    );
    for (const bad of ["fast", true]) {
      expect(() => new ClientSession({ timeout: bad as never })).toThrow(
        new InvalidArgumentError("timeout must be a ClientTimeout object or a number"),
      );
    }
  });

  it("accepts the seed's readTimeout and connTimeout, but not mixed with timeout", async () => {
    await using seed = new ClientSession({ readTimeout: 1234, connTimeout: 56 });
    expect(seed.timeout).toMatchObject({ total: 1234, connect: 56 });
    expect(() => new ClientSession({ readTimeout: 1, timeout: { total: 2 } })).toThrow(InvalidArgumentError);
    expect(() => new ClientSession({ timeout: { total: -1 } })).toThrow(InvalidArgumentError);
    await expect(seed.get("http://127.0.0.1:1/", { timeout: 1, readTimeout: 2 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await using off = new ClientSession({ timeout: { total: null, sockConnect: 0 } });
    expect(off.timeout).toMatchObject({ total: null, sockConnect: null });
  });
});

describe("AbortSignal", () => {
  it("cancels before the response arrives, with the signal's reason", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await sleep(1000);
    });
    await using session = new ClientSession();
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("user gave up")), 50);
    await expect(session.get(srv.url(), { signal: ac.signal })).rejects.toThrow("user gave up");
    await srv.stats.idle();
  });

  it("cancels the body read, and an already-aborted signal sends nothing", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart");
      await sleep(1000);
    });
    await using session = new ClientSession();
    const ac = new AbortController();
    const resp = await session.get(srv.url(), { signal: ac.signal });
    ac.abort(new Error("stop reading"));
    await expect(resp.read()).rejects.toThrow("stop reading");
    await expect(session.get(srv.url(), { signal: AbortSignal.abort(new Error("already")) })).rejects.toThrow(
      "already",
    );
    expect(srv.connections).toHaveLength(1);
  });
});
