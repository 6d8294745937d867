import {
  ClientConnectionError,
  ClientConnectorError,
  ClientOSError,
  ClientPayloadError,
  ClientResponseError,
  ConnectionTimeoutError,
  InvalidArgumentError,
  ServerDisconnectedError,
  SocketTimeoutError,
} from "@x/errors";
import { closedPort, sleep, startRawServer, startUnixServer } from "@x/fixtures";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { TCPConnector, UnixConnector } from "../src/index.js";
import { requestText } from "./helpers.js";

const get = requestText;

describe("failures map to @x/errors with host, port and cause", () => {
  it("refused → ClientConnectorError", async () => {
    const port = await closedPort();
    await using connector = new TCPConnector();
    const err = await get(connector, `http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientConnectorError);
    const c = err as ClientConnectorError;
    expect([c.host, c.port, c.ssl, c.osCode]).toEqual(["127.0.0.1", port, false, "ECONNREFUSED"]);
    expect((c.cause as NodeJS.ErrnoException).code).toBe("ECONNREFUSED");
    expect(connector.stats).toEqual({ acquired: 0, idle: 0, waiting: 0 });
  });

  it("refused over IPv6 names the bracketed host", async () => {
    const port = await closedPort("::1");
    await using connector = new TCPConnector();
    const err = (await get(connector, `http://[::1]:${port}/`).catch(
      (e: unknown) => e,
    )) as ClientConnectorError;
    expect(err).toBeInstanceOf(ClientConnectorError);
    expect(err.host).toBe("::1");
    expect(err.message).toContain(`[::1]:${port}`);
  });

  it("peer closes before the response → ServerDisconnectedError", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      conn.socket.end();
    });
    await using connector = new TCPConnector();
    const err = await get(connector, srv.url()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerDisconnectedError);
    expect((err as ServerDisconnectedError).host).toBe("127.0.0.1");
    expect((err as ServerDisconnectedError).port).toBe(srv.port);
    expect((err as Error).cause).toBeDefined();
  });

  it("reset before the response → ClientOSError", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      conn.reset();
    });
    await using connector = new TCPConnector();
    const err = await get(connector, srv.url()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientOSError);
    expect(err).not.toBeInstanceOf(ClientConnectorError);
  });

  it("body cut short → ClientPayloadError, and the socket is not reused", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a little");
    });
    await using connector = new TCPConnector();
    const err = await get(connector, srv.url()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect((err as Error).message).toContain(`127.0.0.1:${srv.port}`);
    await sleep(10);
    expect(connector.stats.idle).toBe(0);
  });

  it("broken chunked framing → ClientPayloadError", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n");
    });
    await using connector = new TCPConnector();
    await expect(get(connector, srv.url())).rejects.toBeInstanceOf(ClientPayloadError);
  });

  it("a malformed status line → ClientResponseError 400 with the request info", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end("HTTX/9 nonsense\r\n\r\n");
    });
    await using connector = new TCPConnector();
    const err = await get(connector, srv.url("/path?q=1"), { headers: { "x-test": "1" } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ClientResponseError);
    const r = err as ClientResponseError;
    expect(r.status).toBe(400);
    expect(r.requestInfo.url.href).toBe(srv.url("/path?q=1"));
    expect(r.requestInfo.method).toBe("GET");
    expect(r.requestInfo.headers.get("x-test")).toBe("1");
  });

  it("headers too large → ClientResponseError 400", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`);
    });
    await using connector = new TCPConnector({ maxHeaderSize: 8192 });
    const err = await get(connector, srv.url()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientResponseError);
    expect((err as ClientResponseError).reason).toMatch(/headers exceed/);
  });

  it("no headers within headersTimeout → SocketTimeoutError", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await sleep(500);
    });
    await using connector = new TCPConnector();
    const err = await get(connector, srv.url(), { headersTimeout: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SocketTimeoutError);
  });

  it("a body stalled past bodyTimeout → SocketTimeoutError", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
      await sleep(500);
    });
    await using connector = new TCPConnector();
    await expect(get(connector, srv.url(), { bodyTimeout: 50 })).rejects.toBeInstanceOf(SocketTimeoutError);
  });

  it("timeout.sockConnect bounds each attempt, timeout.connect the whole wait", async () => {
    await using silent = await startRawServer(async (conn) => {
      await conn.readToEnd();
    });
    await using connector = new TCPConnector();
    const tls = silent.url().replace("http:", "https:");
    const a = await get(connector, tls, { connectorOptions: { timeout: { sockConnect: 50 } } }).catch(
      (e: unknown) => e,
    );
    expect(a).toBeInstanceOf(ConnectionTimeoutError);
    const b = await get(connector, tls, { connectorOptions: { timeout: { connect: 50 } } }).catch(
      (e: unknown) => e,
    );
    expect(b).toBeInstanceOf(ConnectionTimeoutError);
    await silent.stats.idle();
  });

  it("aborting while the socket is being opened cancels the attempt", async () => {
    await using silent = await startRawServer(async (conn) => {
      await conn.readToEnd();
    });
    await using connector = new TCPConnector();
    const ac = new AbortController();
    const pending = get(connector, silent.url().replace("http:", "https:"), { signal: ac.signal }).catch(
      (e: unknown) => e,
    );
    await sleep(30);
    ac.abort(new Error("stop"));
    expect(((await pending) as Error).message).toBe("stop");
    await silent.stats.idle();
    expect(connector.stats.acquired).toBe(0);
  });

  it("an invalid request is an InvalidArgumentError and frees its connection", async () => {
    await using srv = await startRawServer(async () => {});
    await using connector = new TCPConnector({ limit: 1 });
    const err = await get(connector, srv.url(), { method: "GET /x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    await sleep(5);
    expect(connector.stats.acquired).toBe(0);
    expect(srv.received().length).toBe(0);
  });

  it("a Unix socket path that does not exist → ClientConnectorError naming the path", async () => {
    await using connector = new UnixConnector("/nonexistent/x.sock");
    const err = await get(connector, "http://localhost/").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientConnectorError);
    expect((err as Error).message).toContain("/nonexistent/x.sock");
  });

  it("UnixConnector reports its path and speaks HTTP over it", async () => {
    await using srv = await startUnixServer((req, res) => res.end(`unix ${req.headers.host}`));
    await using connector = new UnixConnector(srv.path);
    expect(connector.path).toBe(srv.path);
    expect(await get(connector, "http://docker/v1")).toBe("unix docker");
    expect(() => new UnixConnector("")).toThrow(InvalidArgumentError);
  });
});

describe("dispatchError, for dispatchers other than ours", () => {
  it("maps undici Agent's connection failures too", async () => {
    const { Agent } = await import("undici");
    const { dispatchError } = await import("../src/index.js");
    const port = await closedPort();
    const agent = new Agent();
    const raw = await request(`http://127.0.0.1:${port}/`, { dispatcher: agent }).catch((e: unknown) => e);
    await agent.close();
    const failure = {
      host: "127.0.0.1",
      port,
      headersReceived: false,
      requestInfo: () => {
        const url = new URL(`http://127.0.0.1:${port}/`);
        return { url, method: "GET", headers: new Headers(), realUrl: url };
      },
    };
    const mapped = dispatchError(raw, failure);
    expect(mapped).toBeInstanceOf(ClientConnectorError);
    expect((mapped as ClientConnectorError).osCode).toBe("ECONNREFUSED");
    const dns = dispatchError(
      Object.assign(new Error("getaddrinfo ENOTFOUND x"), { code: "ENOTFOUND", syscall: "getaddrinfo" }),
      failure,
    );
    expect((dns as Error).name).toBe("ClientConnectorDNSError");
    // Anything else a dispatcher reports is still a ClientError, the original kept as cause.
    const plain = new Error("a dispatcher's own");
    const other = dispatchError(plain, failure) as ClientConnectionError;
    expect(other).toBeInstanceOf(ClientConnectionError);
    expect(other.cause).toBe(plain);
    // undici's status errors (its responseError interceptor) are ClientResponseErrors with the status.
    const status = Object.assign(new Error("Response Error"), {
      statusCode: 503,
      headers: { "retry-after": "1" },
    });
    const response = dispatchError(status, failure) as ClientResponseError;
    expect([response.status, response.headers?.get("retry-after")]).toEqual([503, "1"]);
  });
});
