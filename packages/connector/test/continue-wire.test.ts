import type { Socket } from "node:net";
import { PassThrough } from "node:stream";
import { type RawConnection, sleep, startRawServer } from "@x/fixtures";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { type ConnectionInfo, TCPConnector } from "../src/index.js";
import { until } from "./helpers.js";

/**
 * `Expect: 100-continue` against servers that write exactly the bytes a test needs: answers in
 * pieces, interim answers, oversized heads, resets, and flow control of what follows the 100.
 */

const BODY = "12345";

/** Reads the request head and the 5-byte body sent after the 100; answers 201 with the body back. */
async function echoAfterContinue(conn: RawConnection, continueBytes: string[]): Promise<void> {
  await conn.readHead();
  for (const [i, piece] of continueBytes.entries()) {
    if (i > 0) await sleep(40);
    await conn.write(piece);
  }
  const body = await conn.readBytes(BODY.length);
  await conn.end(`HTTP/1.1 201 Created\r\nContent-Length: ${body.length}\r\n\r\n${body.toString()}`);
}

/** POSTs {@link BODY} with `expectContinue`, failing fast when the response head never comes. */
function post(connector: TCPConnector, url: string, extra: Record<string, unknown> = {}) {
  return request(url, {
    dispatcher: connector,
    method: "POST",
    body: BODY,
    expectContinue: true,
    headersTimeout: 2000,
    bodyTimeout: 2000,
    ...extra,
  });
}

/** Bytes the client sent after its request head, counted once it has closed the connection. */
async function bodyBytesAfterRefusal(conn: RawConnection): Promise<number> {
  return (await conn.readToEnd()).length;
}

describe("Expect: 100-continue, the server's 100 on the wire", () => {
  it("takes a 100 Continue that arrives in pieces, then sends the body", async () => {
    await using srv = await startRawServer((conn) =>
      echoAfterContinue(conn, ["HTTP/1.1 100 Cont", "inue\r\n", "\r\n"]),
    );
    await using connector = new TCPConnector();
    const res = await post(connector, srv.url("/upload"));
    expect([res.statusCode, await res.body.text()]).toEqual([201, BODY]);
  });

  it("waits for up to 64 KiB of an unfinished 100 head", async () => {
    // Exactly 65536 bytes of a 100 Continue head without its blank line, then the blank line.
    const start = "HTTP/1.1 100 Continue\r\nX-Pad: ";
    const head = start + "a".repeat(64 * 1024 - start.length);
    await using srv = await startRawServer((conn) => echoAfterContinue(conn, [head, "\r\n\r\n"]));
    await using connector = new TCPConnector();
    const res = await post(connector, srv.url("/upload"));
    expect([res.statusCode, await res.body.text()]).toEqual([201, BODY]);
  });

  it("gives up on a response head longer than 64 KiB without its end: no body, undici's overflow error", async () => {
    const sent: number[] = [];
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70 * 1024)}`);
      sent.push(await bodyBytesAfterRefusal(conn));
    });
    await using connector = new TCPConnector();
    const err = await post(connector, srv.url("/upload")).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "UND_ERR_HEADERS_OVERFLOW" });
    await until(() => sent.length === 1);
    expect(sent).toEqual([0]);
  });

  it("hands interim answers before and after the 100 to the caller, and still sends the body", async () => {
    await using srv = await startRawServer((conn) =>
      echoAfterContinue(conn, [
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" +
          "HTTP/1.1 100 Continue\r\n\r\n" +
          "HTTP/1.1 102 Processing\r\nX-Step: 2\r\n\r\n",
      ]),
    );
    await using connector = new TCPConnector();
    const infos: Array<{ statusCode: number; headers: Record<string, unknown> }> = [];
    const res = await post(connector, srv.url("/upload"), {
      onInfo: (i: (typeof infos)[0]) => infos.push(i),
    });
    expect([res.statusCode, res.headers["content-length"], await res.body.text()]).toEqual([201, "5", BODY]);
    expect(infos).toEqual([
      { statusCode: 103, headers: { link: "</style.css>; rel=preload" } },
      { statusCode: 102, headers: { "x-step": "2" } },
    ]);
  });

  it("does not take a 100 that does not start the response: no body is sent", async () => {
    const sent: number[] = [];
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n");
      sent.push(await bodyBytesAfterRefusal(conn));
    });
    await using connector = new TCPConnector();
    const started = Date.now();
    const err = await post(connector, srv.url("/upload")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toMatchObject({ code: "UND_ERR_HEADERS_TIMEOUT" });
    expect(Date.now() - started).toBeLessThan(1500);
    await until(() => sent.length === 1);
    expect(sent).toEqual([0]);
  });

  it("takes a second 100 Continue (an interim answer like any other) without failing the request", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 100 Continue\r\n\r\n");
      const body = await conn.readBytes(BODY.length);
      await conn.write("HTTP/1.1 100 Continue\r\n\r\n");
      await sleep(40);
      await conn.end(`HTTP/1.1 201 Created\r\nContent-Length: ${body.length}\r\n\r\n${body.toString()}`);
    });
    await using connector = new TCPConnector();
    const res = await post(connector, srv.url("/upload"));
    expect([res.statusCode, await res.body.text()]).toEqual([201, BODY]);
  });

  it("after the 100, the body goes on while the response has already begun", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 100 Continue\r\n\r\n");
      const first = await conn.readBytes(2);
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
      const rest = await conn.readBytes(3);
      await conn.end(Buffer.concat([first, rest]));
    });
    await using connector = new TCPConnector();
    const upload = new PassThrough();
    upload.write("12");
    const res = await post(connector, srv.url("/upload"), {
      body: upload,
      headers: { "content-length": "5" },
    });
    expect(res.statusCode).toBe(200);
    upload.end("345");
    expect(await res.body.text()).toBe("12345");
  });

  it("after the 100, a response arriving in pieces reaches the caller whole", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 100 Continue\r\n\r\n");
      const body = await conn.readBytes(BODY.length);
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
      await sleep(40);
      await conn.write("de");
      await sleep(40);
      await conn.end(body);
    });
    await using connector = new TCPConnector();
    const res = await post(connector, srv.url("/upload"));
    expect([res.statusCode, await res.body.text()]).toEqual([200, `abcde${BODY}`]);
  });

  it("a final answer instead of the 100, in pieces, reaches the caller whole; the body stays home", async () => {
    const sent: number[] = [];
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 10\r\n\r\nno ");
      await sleep(40);
      await conn.write("than");
      await sleep(40);
      await conn.write("ks!");
      sent.push(await bodyBytesAfterRefusal(conn));
    });
    await using connector = new TCPConnector();
    const res = await post(connector, srv.url("/upload"));
    expect([res.statusCode, await res.body.text()]).toEqual([417, "no thanks!"]);
    await until(() => sent.length === 1);
    expect(sent).toEqual([0]);
  });
});

describe("Expect: 100-continue, the connection failing while the client waits for 100", () => {
  it("a reset is the system error ECONNRESET, as undici's Agent reports it", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      conn.reset();
    });
    await using connector = new TCPConnector();
    const err = await post(connector, srv.url("/upload")).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ECONNRESET" });
  });

  it("a server that closes is undici's SocketError 'other side closed'", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end();
    });
    await using connector = new TCPConnector();
    const err = await post(connector, srv.url("/upload")).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "SocketError", message: "other side closed" });
  });

  it("a connection closed on the client side ends the request at once", async () => {
    const heads: string[] = [];
    await using srv = await startRawServer(async (conn) => {
      heads.push(await conn.readHead());
      await conn.readToEnd();
    });
    await using connector = new TCPConnector();
    const transports: Socket[] = [];
    const pending = post(connector, srv.url("/upload"), {
      headersTimeout: 3000,
      connectorOptions: {
        onConnection: (info: ConnectionInfo) => transports.push(info.connection.transport as Socket),
      },
    }).catch((e: unknown) => e);
    await until(() => heads.length === 1 && transports.length === 1);
    const started = Date.now();
    transports[0]?.destroy();
    const err = await pending;
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toMatchObject({ code: "UND_ERR_HEADERS_TIMEOUT" });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe("Expect: 100-continue, flow control after the 100", () => {
  it("a response nobody reads holds the server back; reading it later gets every byte", async () => {
    const total = 48 * 1024 * 1024;
    const piece = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    let done = false;
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 100 Continue\r\n\r\n");
      await conn.readBytes(BODY.length);
      await conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${total}\r\n\r\n`);
      while (written < total) {
        await conn.write(piece);
        written += piece.length;
      }
      done = true;
    });
    await using connector = new TCPConnector();
    const res = await post(connector, srv.url("/upload"), { bodyTimeout: 10_000 });
    expect(res.statusCode).toBe(200);
    // Wait until the server cannot write any further (or has written everything).
    let last = -1;
    while (!done && written !== last) {
      last = written;
      await sleep(100);
    }
    expect(done).toBe(false);
    expect(written).toBeLessThan(total / 2);
    let received = 0;
    for await (const chunk of res.body) received += (chunk as Buffer).length;
    expect(received).toBe(total);
  });
});
