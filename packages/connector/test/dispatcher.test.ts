import { Writable } from "node:stream";
import { startHttpServer, startWsServer } from "@x/fixtures";
import { interceptors, request, stream, upgrade } from "undici";
import { describe, expect, it } from "vitest";
import { TCPConnector } from "../src/index.js";
import { until } from "./helpers.js";

describe("as an undici Dispatcher", () => {
  it("works with the global fetch", async () => {
    await using srv = await startHttpServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ path: req.url, method: req.method }));
    });
    await using connector = new TCPConnector({ limit: 2 });
    const bodies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(srv.url(`/f${i}`), {
          method: "POST",
          body: "x",
          dispatcher: connector,
        } as unknown as RequestInit).then((r) => r.json()),
      ),
    );
    expect(bodies[7]).toEqual({ path: "/f7", method: "POST" });
    expect(srv.stats.maxOpen).toBe(2);
  });

  it("works with undici.stream", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("streamed body"));
    await using connector = new TCPConnector();
    const chunks: Buffer[] = [];
    await stream(
      srv.url(),
      { dispatcher: connector, method: "GET" },
      () =>
        new Writable({
          write(chunk, _enc, cb) {
            chunks.push(chunk);
            cb();
          },
        }),
    );
    expect(Buffer.concat(chunks).toString()).toBe("streamed body");
  });

  it("works under compose() with undici's own interceptors (controller-style handlers)", async () => {
    let hits = 0;
    await using srv = await startHttpServer((req, res) => {
      hits++;
      if (req.url === "/start") {
        res.statusCode = 302;
        res.setHeader("location", "/end");
        res.end();
      } else res.end(`landed ${req.url}`);
    });
    await using connector = new TCPConnector();
    const composed = connector.compose(interceptors.redirect({ maxRedirections: 3 }));
    const res = await request(srv.url("/start"), { dispatcher: composed });
    expect(await res.body.text()).toBe("landed /end");
    expect(hits).toBe(2);
    expect(srv.stats.accepted).toBe(1);
  });

  it("honours backpressure: a paused body holds its connection", async () => {
    await using srv = await startHttpServer((_req, res) => res.end(Buffer.alloc(4 * 1024 * 1024, 1)));
    await using connector = new TCPConnector();
    const res = await request(srv.url(), { dispatcher: connector, highWaterMark: 1024 });
    await new Promise((r) => setTimeout(r, 50));
    expect(connector.stats.acquired).toBe(1);
    let total = 0;
    for await (const chunk of res.body) total += (chunk as Buffer).length;
    expect(total).toBe(4 * 1024 * 1024);
    await until(() => connector.stats.idle === 1);
  });

  it("keeps an upgraded socket counted until it closes", async () => {
    await using srv = await startWsServer();
    await using connector = new TCPConnector({ limit: 1 });
    const { socket, headers } = await upgrade(srv.url("/").replace("ws:", "http:"), {
      dispatcher: connector,
      protocol: "websocket",
      headers: { "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
    });
    expect(headers["sec-websocket-accept"]).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    expect(connector.stats.acquired).toBe(1);
    socket.destroy();
    await until(() => connector.stats.acquired === 0);
  });
});
