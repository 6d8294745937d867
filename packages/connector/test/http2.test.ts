import type { TLSSocket } from "node:tls";
import { ClientConnectorCertificateError } from "@x/errors";
import { startHttp2Server, startHttpsServer } from "@x/fixtures";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { type ConnectionInfo, TCPConnector } from "../src/index.js";
import { send, until } from "./helpers.js";

/** A handler answering `name /path` after `ms`, counting the requests it holds at once. */
function slow(name: string, ms = 20) {
  const seen = { inFlight: 0, max: 0 };
  const handler = (req: { url?: string }, res: { end(body: string): void }) => {
    seen.max = Math.max(seen.max, ++seen.inFlight);
    setTimeout(() => {
      seen.inFlight--;
      res.end(`${name} ${req.url}`);
    }, ms);
  };
  return { seen, handler };
}

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

  it("carries 100 streams on a connection; requests past that wait for a stream to free", async () => {
    const { seen, handler } = slow("h2");
    await using srv = await startHttp2Server(handler);
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca }, limit: 1 });
    const bodies = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        request(srv.url(`/${i}`), { dispatcher: connector }).then((r) => r.body.text()),
      ),
    );
    expect(bodies).toEqual(Array.from({ length: 150 }, (_, i) => `h2 /${i}`));
    expect(srv.stats.accepted).toBe(1);
    expect(seen.max).toBe(100);
    expect(connector.stats).toEqual({ acquired: 0, idle: 1, waiting: 0 });
  });

  it("gives connect() a raw HTTP/1.1 connection of its own, never a stream of a shared one", async () => {
    const { handler } = slow("h2");
    await using srv = await startHttp2Server(handler);
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca } });
    const inFlight = request(srv.url("/shared"), { dispatcher: connector }).then((r) => r.body.text());
    await new Promise((r) => setTimeout(r, 5));
    const raw = await connector.connect({ url: srv.url("/") });
    const socket = raw.transport as TLSSocket;
    expect(socket.alpnProtocol).toBe("http/1.1");
    socket.write("GET /raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let reply = "";
    for await (const chunk of socket) reply += chunk;
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply).toContain("h2 /raw");
    expect(await inFlight).toBe("h2 /shared");
    expect(srv.stats.accepted).toBe(2);
    raw.close();
    // With only an idle HTTP/2 connection in the pool, connect() still opens one of its own.
    const again = await connector.connect({ url: srv.url("/") });
    expect((again.transport as TLSSocket).alpnProtocol).toBe("http/1.1");
    expect(srv.stats.accepted).toBe(3);
    again.close();
  });

  it("sends requests that waited for a connection speaking HTTP/1.1 after all on connections of their own", async () => {
    // The server holds each answer until all five requests are in, or for 1 s at most.
    const held: (() => void)[] = [];
    let max = 0;
    await using srv = await startHttpsServer((req, res) => {
      const answer = () => res.end(`h1 ${req.url}`);
      held.push(answer);
      max = Math.max(max, held.length);
      if (held.length === 5) for (const a of held.splice(0)) a();
      else setTimeout(() => held.includes(answer) && held.splice(held.indexOf(answer), 1)[0]?.(), 1000);
    });
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca } });
    const bodies = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        request(srv.url(`/${i}`), { dispatcher: connector }).then((r) => r.body.text()),
      ),
    );
    expect(bodies).toEqual(["h1 /0", "h1 /1", "h1 /2", "h1 /3", "h1 /4"]);
    expect(srv.stats.accepted).toBe(5);
    expect(max).toBe(5);
    expect(connector.stats).toEqual({ acquired: 0, idle: 5, waiting: 0 });
  });

  it("a request made while an HTTP/1.1 answer to allowH2 is in flight gets a connection of its own", async () => {
    const held: (() => void)[] = [];
    await using srv = await startHttpsServer((req, res) => held.push(() => res.end(`h1 ${req.url}`)));
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca } });
    const go = (path: string) => request(srv.url(path), { dispatcher: connector }).then((r) => r.body.text());
    const first = go("/1");
    await until(() => held.length === 1);
    // The first connection spoke HTTP/1.1: it is no HTTP/2 connection to share.
    const second = go("/2");
    await until(() => held.length === 2);
    for (const answer of held) answer();
    expect(await Promise.all([first, second])).toEqual(["h1 /1", "h1 /2"]);
    expect(srv.stats.accepted).toBe(2);
  });

  it("fails each request that waited for a connection that could not be opened, none hangs", async () => {
    await using srv = await startHttp2Server((_req, res) => res.end("never"));
    await using connector = new TCPConnector({ allowH2: true });
    const results = await Promise.all(
      Array.from({ length: 3 }, () => send(connector, srv.url("/")).catch((e: unknown) => e)),
    );
    for (const err of results) expect(err).toBeInstanceOf(ClientConnectorCertificateError);
    expect(srv.versions).toEqual([]);
    expect(connector.stats).toEqual({ acquired: 0, idle: 0, waiting: 0 });
  });

  it("hands freed streams only to queued requests still waiting, never to an aborted one or to connect()", async () => {
    // Held long enough that the first 100 are all in flight before any ends, even on a busy machine.
    const { seen, handler } = slow("h2", 500);
    await using srv = await startHttp2Server(handler);
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca }, limit: 1 });
    const go = (i: number, signal?: AbortSignal) =>
      request(srv.url(`/${i}`), { dispatcher: connector, signal }).then((r) => r.body.text());
    const first = Array.from({ length: 100 }, (_, i) => go(i));
    await until(() => seen.inFlight === 100);
    // The connection carries 100 streams: these queue in the pool.
    const aborts = Array.from({ length: 5 }, () => new AbortController());
    const aborted = aborts.map((ac, i) => go(100 + i, ac.signal).catch((e: unknown) => e));
    const raw = connector.connect({ url: srv.url("/") });
    const later = Array.from({ length: 10 }, (_, i) => go(200 + i));
    expect(connector.stats.waiting).toBe(16);
    for (const ac of aborts) ac.abort(new Error("gone"));
    expect(connector.stats.waiting).toBe(11);
    expect(await Promise.all(later)).toEqual(Array.from({ length: 10 }, (_, i) => `h2 /${200 + i}`));
    for (const err of await Promise.all(aborted)) expect((err as Error).message).toBe("gone");
    await Promise.all(first);
    // connect() waited for the HTTP/2 connection to have no stream left, then got a socket of its own.
    const conn = await raw;
    expect((conn.transport as TLSSocket).alpnProtocol).toBe("http/1.1");
    expect(seen.max).toBe(100);
    expect(srv.versions.filter((v) => v === "2.0")).toHaveLength(110);
    conn.close();
    expect(connector.stats).toEqual({ acquired: 0, idle: 0, waiting: 0 });
  });

  it("without a limit, requests share the h2 connection: those made while it opens and those made while it is busy", async () => {
    // Every answer is held until all five requests are in flight at once.
    const held: Array<() => void> = [];
    await using srv = await startHttp2Server((req, res) => {
      held.push(() => res.end(`h2 ${req.url}`));
      if (held.length === 5) for (const answer of held) answer();
    });
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca } });
    const infos: ConnectionInfo[] = [];
    const go = (i: number) =>
      request(srv.url(`/${i}`), {
        dispatcher: connector,
        connectorOptions: { onConnection: (info: ConnectionInfo) => infos.push(info) },
      } as never).then((r) => r.body.text());
    const opening = [go(0), go(1), go(2)];
    await until(() => held.length === 3);
    const busy = [go(3), go(4)];
    expect(await Promise.all([...opening, ...busy])).toEqual(["h2 /0", "h2 /1", "h2 /2", "h2 /3", "h2 /4"]);
    expect(srv.stats.accepted).toBe(1);
    expect(infos.map((i) => i.reused)).toEqual([false, true, true, true, true]);
    expect(new Set(infos.map((i) => i.connection)).size).toBe(1);
    expect(connector.stats).toEqual({ acquired: 0, idle: 1, waiting: 0 });
  });
});
