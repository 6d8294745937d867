import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { readBody, sleep, startRawServer } from "@x/fixtures";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { TCPConnector } from "../src/index.js";
import { until } from "./helpers.js";

/** A node:http server that decides on `Expect: 100-continue` itself (its 'checkContinue' event). */
async function continueServer(decide: (req: IncomingMessage, res: ServerResponse) => boolean) {
  const seen: Array<{ expect: string | undefined; body: string }> = [];
  const server = createServer((req, res) => {
    readBody(req).then((body) => {
      seen.push({ expect: req.headers.expect, body: body.toString() });
      res.end(`got ${body.length}`);
    });
  });
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (decide(req, res)) {
      res.writeContinue();
      server.emit("request", req, res);
    } else {
      seen.push({ expect: req.headers.expect, body: "" });
      res.writeHead(417, { connection: "close" }).end("no thanks");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/upload`,
    seen,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("Expect: 100-continue over HTTP/1.1 (undici's expectContinue option)", () => {
  it("sends the header, and the body once the server says 100 Continue", async () => {
    await using srv = await continueServer(() => true);
    await using connector = new TCPConnector();
    const res = await request(srv.url, {
      dispatcher: connector,
      method: "POST",
      body: Buffer.from("hello body"),
      expectContinue: true,
    });
    expect([res.statusCode, await res.body.text()]).toEqual([200, "got 10"]);
    expect(srv.seen).toEqual([{ expect: "100-continue", body: "hello body" }]);
  });

  it("streams a body of unknown length after 100 Continue", async () => {
    await using srv = await continueServer(() => true);
    await using connector = new TCPConnector();
    const res = await request(srv.url, {
      dispatcher: connector,
      method: "PUT",
      body: Readable.from(["a", "bb", "ccc"]),
      expectContinue: true,
    });
    expect(await res.body.text()).toBe("got 6");
    expect(srv.seen[0]?.body).toBe("abbccc");
  });

  it("never sends the body when the server answers with a final status instead", async () => {
    const bodyBytes: number[] = [];
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      if (conn.index === 0) {
        await conn.write("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 9\r\n\r\nno thanks");
        // Everything the client sends after the head, until it closes the connection.
        bodyBytes.push((await conn.readToEnd()).length);
        await conn.end();
      } else await conn.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    await using connector = new TCPConnector({ limit: 1 });
    const res = await request(srv.url("/upload"), {
      dispatcher: connector,
      method: "POST",
      body: Buffer.alloc(1024 * 1024, 1),
      expectContinue: true,
    });
    expect([res.statusCode, await res.body.text()]).toEqual([417, "no thanks"]);
    // The refused connection closes without the body; the pool's one slot is free again.
    const next = await request(srv.url("/"), { dispatcher: connector });
    expect(await next.body.text()).toBe("ok");
    await until(() => bodyBytes.length === 1);
    expect(bodyBytes).toEqual([0]);
    expect(srv.connections.length).toBe(2);
  });

  it("a server that refuses through node:http's checkContinue gets no body either", async () => {
    await using srv = await continueServer(() => false);
    await using connector = new TCPConnector();
    const res = await request(srv.url, {
      dispatcher: connector,
      method: "POST",
      body: "data",
      expectContinue: true,
    });
    expect([res.statusCode, await res.body.text()]).toEqual([417, "no thanks"]);
    expect(srv.seen).toEqual([{ expect: "100-continue", body: "" }]);
  });

  it("holds the body back until 100 arrives, however long the server takes", async () => {
    const early: number[] = [];
    await using srv = await startRawServer(async (conn) => {
      const head = await conn.readHead();
      expect(head).toMatch(/\r\nExpect: 100-continue\r\n/i);
      await sleep(80);
      early.push(srv.received().length - head.length);
      await conn.write("HTTP/1.1 100 Continue\r\n\r\n");
      const body = await conn.readBytes(5);
      await conn.end(`HTTP/1.1 201 Created\r\nContent-Length: ${body.length}\r\n\r\n${body.toString()}`);
    });
    await using connector = new TCPConnector();
    const res = await request(srv.url(), {
      dispatcher: connector,
      method: "POST",
      body: "12345",
      expectContinue: true,
    });
    expect([res.statusCode, await res.body.text()]).toEqual([201, "12345"]);
    expect(early).toEqual([0]);
  });

  it("says so: expectContinueHttp1 is true", () => {
    expect(new TCPConnector().expectContinueHttp1).toBe(true);
  });
});
