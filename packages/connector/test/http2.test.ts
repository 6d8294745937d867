import { startHttp2Server } from "@x/fixtures";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { TCPConnector } from "../src/index.js";

describe("HTTP/2 (allowH2)", () => {
  it("negotiates h2 and carries concurrent requests on one connection, counted once", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    await using srv = await startHttp2Server((req, res) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      setTimeout(() => {
        inFlight--;
        res.end(`h2 ${req.url}`);
      }, 20);
    });
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca }, limit: 1 });
    expect(connector.allowH2).toBe(true);
    const bodies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request(srv.url(`/${i}`), { dispatcher: connector }).then((r) => r.body.text()),
      ),
    );
    expect(bodies[7]).toBe("h2 /7");
    expect(srv.versions.every((v) => v === "2.0")).toBe(true);
    expect(srv.stats.accepted).toBe(1);
    // The requests that queued while the connection opened all went out on it at once.
    expect(maxInFlight).toBe(20);
    expect(connector.stats).toEqual({ acquired: 0, idle: 1, waiting: 0 });
  });

  it("stays on HTTP/1.1 without allowH2", async () => {
    await using srv = await startHttp2Server((_req, res) => res.end("ok"));
    await using connector = new TCPConnector({ ssl: { ca: srv.ca } });
    await (await request(srv.url("/"), { dispatcher: connector })).body.text();
    expect(srv.versions).toEqual(["1.1"]);
  });
});
