import { createHash } from "node:crypto";
import { createSecureServer } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { BasicAuth } from "@x/auth";
import { TCPConnector } from "@x/connector";
import {
  ClientConnectionResetError,
  ClientConnectorCertificateError,
  ClientPayloadError,
  ClientStateError,
  InvalidArgumentError,
  ServerTimeoutError,
  SocketTimeoutError,
  WSMessageTypeError,
  WSServerHandshakeError,
} from "@x/errors";
import { rawWsHandshake, sleep, startRawServer, startWsServer, until } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { WSMsgType, wsConnect } from "../src/index.js";

describe("messages", () => {
  it("sends and receives text, bytes, JSON and frames", async () => {
    await using srv = await startWsServer();
    await using ws = await wsConnect(srv.url("/echo"));
    await ws.sendStr("text");
    expect(await ws.receiveStr()).toBe("text");
    await ws.sendBytes(new Uint8Array([1, 2, 3]));
    expect(await ws.receiveBytes()).toEqual(Buffer.from([1, 2, 3]));
    await ws.sendJson({ a: [1] });
    expect(await ws.receiveJson()).toEqual({ a: [1] });
    await ws.sendJson({ b: 2 }, { dumps: (v) => JSON.stringify(v, null, 2) });
    const msg = await ws.receive();
    expect(msg.type).toBe(WSMsgType.TEXT);
    expect(msg.json()).toEqual({ b: 2 });
    await ws.sendFrame(Buffer.from("frame"), WSMsgType.BINARY);
    expect((await ws.receiveBytes()).toString()).toBe("frame");
  });

  it("receiveStr/receiveBytes refuse the other type with WSMessageTypeError", async () => {
    await using srv = await startWsServer();
    await using ws = await wsConnect(srv.url("/"));
    await ws.sendBytes(Buffer.from("b"));
    await expect(ws.receiveStr()).rejects.toBeInstanceOf(WSMessageTypeError);
    await ws.sendStr("t");
    await expect(ws.receiveBytes()).rejects.toBeInstanceOf(WSMessageTypeError);
    await ws.sendStr("not json");
    await expect(ws.receiveJson()).rejects.toBeInstanceOf(SyntaxError);
  });

  it("refuses wrong data types to send", async () => {
    await using srv = await startWsServer();
    await using ws = await wsConnect(srv.url("/"));
    await expect(ws.sendStr(Buffer.from("x") as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(ws.sendBytes("x" as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(ws.sendFrame("x", WSMsgType.CLOSED)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("a second concurrent receive() is a ClientStateError; receive(timeout) times out", async () => {
    await using srv = await startWsServer({ onConnection: () => {} });
    await using ws = await wsConnect(srv.url("/"));
    const first = ws.receive(200).catch((e: unknown) => e);
    await expect(ws.receive()).rejects.toBeInstanceOf(ClientStateError);
    expect(await first).toBeInstanceOf(SocketTimeoutError);
    await using slow = await wsConnect(srv.url("/"), { timeout: { wsReceive: 50 } });
    await expect(slow.receive()).rejects.toBeInstanceOf(SocketTimeoutError);
    await using seed = await wsConnect(srv.url("/"), { receiveTimeout: 50 });
    await expect(seed.receive()).rejects.toBeInstanceOf(SocketTimeoutError);
  });

  it("iterates until the connection closes", async () => {
    await using srv = await startWsServer({
      onConnection: (s) => {
        for (const m of ["a", "b", "c"]) s.send(m);
        s.close(1000, "done");
      },
    });
    await using ws = await wsConnect(srv.url("/"));
    const got: unknown[] = [];
    for await (const msg of ws) got.push(msg.data);
    expect(got).toEqual(["a", "b", "c"]);
    expect(ws.closed).toBe(true);
    expect((await ws.receive()).type).toBe(WSMsgType.CLOSED);
  });
});

describe("closing", () => {
  it("a server CLOSE arrives as CLOSE, then CLOSED, and is answered", async () => {
    let clientCode = 0;
    await using srv = await startWsServer({
      onConnection: (s) => {
        s.on("close", (code) => {
          clientCode = code;
        });
        s.close(4000, "bye now");
      },
    });
    // The server sees its close completed only once it has read the client's answer.
    await using ws = await wsConnect(srv.url("/"));
    const msg = await ws.receive();
    expect(msg).toMatchObject({ type: WSMsgType.CLOSE, data: 4000, extra: "bye now" });
    expect((await ws.receive()).type).toBe(WSMsgType.CLOSED);
    expect(ws.closeCode).toBe(4000);
    expect(ws.closed).toBe(true);
    await until(() => clientCode !== 0);
    expect(clientCode).toBe(4000);
    expect(await ws.close()).toBe(false);
  });

  it("close() sends the code and waits for the server's CLOSE", async () => {
    const seen: Array<[number, string]> = [];
    await using srv = await startWsServer({
      onConnection: (s) => s.on("close", (code, reason) => seen.push([code, String(reason)])),
    });
    const ws = await wsConnect(srv.url("/"));
    expect(await ws.close({ code: 4321, message: "client bye" })).toBe(true);
    expect(ws.closed).toBe(true);
    expect(ws.closeCode).toBe(4321);
    await until(() => seen.length > 0);
    expect(seen).toEqual([[4321, "client bye"]]);
    await expect(ws.sendStr("late")).rejects.toBeInstanceOf(ClientConnectionResetError);
  });

  it("close() gives up after wsClose when the server never answers", async () => {
    await using srv = await startRawServer(async (conn) => {
      await rawWsHandshake(conn);
      await conn.readToEnd();
    });
    const ws = await wsConnect(srv.url("/").replace("http:", "ws:"), { timeout: { wsClose: 100 } });
    const started = Date.now();
    await ws.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(ws.closed).toBe(true);
  });
});

describe("ping, pong and heartbeat", () => {
  it("answers PINGs and hides them with autoping (the default)", async () => {
    const pongs: string[] = [];
    await using srv = await startWsServer({
      onConnection: (s) => {
        s.on("pong", (d) => pongs.push(String(d)));
        s.ping("p1");
        s.send("after ping");
      },
    });
    await using ws = await wsConnect(srv.url("/"));
    expect(await ws.receiveStr()).toBe("after ping");
    await until(() => pongs.length > 0);
    expect(pongs).toEqual(["p1"]);
  });

  it("delivers PING and PONG without autoping, and the caller answers", async () => {
    const pongs: string[] = [];
    await using srv = await startWsServer({
      autoPong: false,
      onConnection: (s) => {
        s.on("pong", (d) => pongs.push(String(d)));
        s.on("ping", (d) => s.pong(d));
        s.ping("hello?");
      },
    });
    await using ws = await wsConnect(srv.url("/"), { autoping: false });
    const ping = await ws.receive();
    expect(ping.type).toBe(WSMsgType.PING);
    expect(String(ping.data)).toBe("hello?");
    await ws.pong(ping.data as Buffer);
    await ws.ping("mine");
    const pong = await ws.receive();
    expect(pong.type).toBe(WSMsgType.PONG);
    expect(String(pong.data)).toBe("mine");
    await until(() => pongs.length > 0);
    expect(pongs).toEqual(["hello?"]);
  });

  it("heartbeat keeps a live connection, and closes with 1006 when no PONG comes", async () => {
    // A live peer: every PING (one a second) is answered; after two the connection is still open.
    let pings = 0;
    await using live = await startWsServer({ onConnection: (s) => s.on("ping", () => pings++) });
    await using ok = await wsConnect(live.url("/"), { heartbeat: 1000 });
    await until(() => pings >= 2, 10_000);
    expect(ok.closed).toBe(false);

    await using dead = await startWsServer({ autoPong: false, onConnection: () => {} });
    const ws = await wsConnect(dead.url("/"), { heartbeat: 60 });
    const err = await ws.receive();
    expect(err.type).toBe(WSMsgType.ERROR);
    expect(err.data).toBeInstanceOf(ServerTimeoutError);
    expect((await ws.receive()).type).toBe(WSMsgType.CLOSED);
    expect(ws.closeCode).toBe(1006);
    expect(ws.exception()).toBeInstanceOf(ServerTimeoutError);
  });

  it("heartbeat counts any data from the server as a sign of life", async () => {
    await using srv = await startWsServer({
      autoPong: false,
      onConnection: (s) => {
        const t = setInterval(() => s.send("tick"), 50);
        s.on("close", () => clearInterval(t));
      },
    });
    // Ticks every 50 ms; a heartbeat of 500 ms whose PONG never comes would close by 750 ms.
    await using ws = await wsConnect(srv.url("/"), { heartbeat: 500 });
    for (let i = 0; i < 20; i++) expect(await ws.receiveStr()).toBe("tick");
    expect(ws.closed).toBe(false);
  });
});

describe("limits and protocol errors", () => {
  it("a message over maxMsgSize closes with 1009 and an ERROR message", async () => {
    await using srv = await startWsServer({ onConnection: (s) => s.send(Buffer.alloc(2048)) });
    await using ws = await wsConnect(srv.url("/"), { maxMsgSize: 1024 });
    const msg = await ws.receive();
    expect(msg.type).toBe(WSMsgType.ERROR);
    expect(msg.data).toBeInstanceOf(ClientPayloadError);
    await ws.receive();
    expect(ws.closeCode).toBe(1009);
  });

  it("a frame with RSV1 and no compression negotiated is a protocol error: 1002", async () => {
    await using srv = await startRawServer(async (conn) => {
      await rawWsHandshake(conn);
      await conn.write(Buffer.from([0xc1, 0x02, 0x68, 0x69]));
      await conn.readToEnd();
    });
    await using ws = await wsConnect(srv.url("/").replace("http:", "ws:"), { timeout: { wsClose: 50 } });
    const msg = await ws.receive();
    expect(msg.type).toBe(WSMsgType.ERROR);
    expect(msg.data).toBeInstanceOf(ClientPayloadError);
    await ws.receive();
    expect(ws.closeCode).toBe(1002);
  });

  it("negotiates permessage-deflate with compress", async () => {
    await using srv = await startWsServer({ perMessageDeflate: true });
    await using ws = await wsConnect(srv.url("/"), { compress: 15 });
    expect(ws.compress).toBe(15);
    await ws.sendStr("squash ".repeat(1000));
    expect(await ws.receiveStr()).toBe("squash ".repeat(1000));
    await using plain = await wsConnect(srv.url("/"));
    expect(plain.compress).toBe(0);
    await expect(wsConnect(srv.url("/"), { compress: 7 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe("the handshake", () => {
  it("sends headers, origin, auth and protocols, and reports the chosen protocol", async () => {
    await using srv = await startWsServer({ handleProtocols: (set) => (set.has("b") ? "b" : false) });
    await using ws = await wsConnect(srv.url("/path?q=1"), {
      protocols: ["a", "b"],
      headers: { "X-Custom": "yes" },
      origin: "http://app.test",
      auth: new BasicAuth("u", "p"),
    });
    expect(ws.protocol).toBe("b");
    const req = srv.upgrades[0]!;
    expect(req.url).toBe("/path?q=1");
    expect(req.headers["x-custom"]).toBe("yes");
    expect(req.headers.origin).toBe("http://app.test");
    expect(req.headers.authorization).toBe(new BasicAuth("u", "p").encode());
    expect(req.headers["sec-websocket-protocol"]).toBe("a, b".replace(" ", ""));
    expect(ws.headers.get("sec-websocket-protocol")).toBe("b");
    expect(ws.getExtraInfo("peername")).toEqual(["127.0.0.1", srv.port]);
    expect(ws.getExtraInfo("nope", "fallback")).toBe("fallback");
  });

  it("sends each line of a repeated header, in order, and auth replaces a given Authorization", async () => {
    await using srv = await startWsServer();
    await using _ws = await wsConnect(srv.url("/"), {
      headers: [
        ["X-Rep", "1"],
        ["authorization", "Bearer given"],
        ["x-rep", "2"],
        ["X-Other", "o"],
        ["X-REP", "3"],
      ],
      auth: new BasicAuth("u", "p"),
    });
    const raw = srv.upgrades[0]!.rawHeaders;
    const lines: string[] = [];
    for (let i = 0; i < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
    const ours = lines.filter((l) => /^(x-rep|x-other|authorization):/i.test(l));
    expect(ours).toEqual([
      "X-Rep: 1",
      "X-Rep: 2",
      "X-Rep: 3",
      "X-Other: o",
      `Authorization: ${new BasicAuth("u", "p").encode()}`,
    ]);
    await using _plain = await wsConnect(srv.url("/"), { headers: { Authorization: "Bearer kept" } });
    expect(srv.upgrades[1]!.headers.authorization).toBe("Bearer kept");
  });

  it("accepts a server that picks no subprotocol (RFC 6455), and refuses one it did not offer", async () => {
    await using none = await startWsServer({ handleProtocols: () => false });
    await using ws = await wsConnect(none.url("/"), { protocols: ["a"] });
    expect(ws.protocol).toBeNull();
    await using rogue = await startRawServer(async (conn) => {
      await rawWsHandshake(conn, "Sec-WebSocket-Protocol: other\r\n");
    });
    await expect(
      wsConnect(rogue.url("/").replace("http:", "ws:"), { protocols: ["a"] }),
    ).rejects.toBeInstanceOf(WSServerHandshakeError);
  });

  it("turns URL credentials into Basic auth", async () => {
    await using srv = await startWsServer();
    await using ws = await wsConnect(srv.url("/").replace("ws://", "ws://us%40r:pw@"));
    expect(srv.upgrades[0]?.headers.authorization).toBe(new BasicAuth("us@r", "pw").encode());
    expect(ws.closed).toBe(false);
  });

  it("a non-101 answer is a WSServerHandshakeError with the status and headers", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end("HTTP/1.1 403 Forbidden\r\nX-Why: nope\r\nContent-Length: 0\r\n\r\n");
    });
    const err = await wsConnect(srv.url("/").replace("http:", "ws:")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WSServerHandshakeError);
    expect((err as WSServerHandshakeError).status).toBe(403);
    expect((err as WSServerHandshakeError).headers?.get("x-why")).toBe("nope");
    await srv.stats.idle();
  });

  it.each([
    ["a wrong Sec-WebSocket-Accept", "", "bm90IHRoZSByaWdodCBvbmU="],
    ["no Connection: upgrade", "CONNECTION-SWAP", undefined],
  ])("refuses %s", async (_what, extra, accept) => {
    await using srv = await startRawServer(async (conn) => {
      if (extra === "CONNECTION-SWAP") {
        const head = await conn.readHead();
        const key = /sec-websocket-key: (.+)\r\n/i.exec(head)?.[1] ?? "";
        const digest = createHash("sha1")
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest("base64");
        await conn.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: ${digest}\r\n\r\n`,
        );
      } else {
        await rawWsHandshake(conn, extra, accept);
      }
      await conn.readToEnd().catch(() => {});
    });
    const err = await wsConnect(srv.url("/").replace("http:", "ws:")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WSServerHandshakeError);
    expect((err as WSServerHandshakeError).status).toBe(101);
  });

  it("sends another method when asked", async () => {
    let line = "";
    await using srv = await startRawServer(async (conn) => {
      const head = await rawWsHandshake(conn);
      line = head.split("\r\n")[0] ?? "";
      await conn.readToEnd();
    });
    await using ws = await wsConnect(srv.url("/m").replace("http:", "ws:"), {
      method: "POST",
      timeout: { wsClose: 50 },
    });
    expect(line).toBe("POST /m HTTP/1.1");
    expect(ws.closed).toBe(false);
  });

  it("times out a handshake the server never answers", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readToEnd();
    });
    await expect(wsConnect(srv.url("/").replace("http:", "ws:"), { timeout: 100 })).rejects.toBeInstanceOf(
      ServerTimeoutError,
    );
    await srv.stats.idle();
  });

  it("refuses bad input before connecting", async () => {
    await expect(wsConnect("ftp://x.test/")).rejects.toThrow(/scheme/);
    await expect(wsConnect("ws://x.test/", { protocols: ["bad proto"] })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(wsConnect("ws://x.test/", { headers: { "X-A": "1\r\nX-B: 2" } })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(wsConnect("ws://x.test/", { heartbeat: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe("through a connector", () => {
  it("an open websocket counts against the connector's limit until closed", async () => {
    await using srv = await startWsServer();
    await using connector = new TCPConnector({ limit: 1 });
    const ws = await wsConnect(srv.url("/"), { connector });
    expect(connector.stats.acquired).toBe(1);
    let second = false;
    const pending = wsConnect(srv.url("/"), { connector }).then((w) => {
      second = true;
      return w;
    });
    await sleep(50);
    expect(second).toBe(false);
    await ws.close();
    const ws2 = await pending;
    expect(second).toBe(true);
    await ws2.close();
    await until(() => connector.stats.acquired === 0);
  });

  it("verifies wss certificates, and accepts the CA or a pin", async () => {
    await using srv = await startWsServer({ tls: true });
    const { testCertificates } = await import("@x/fixtures");
    const certs = await testCertificates();
    await expect(wsConnect(srv.url("/"))).rejects.toBeInstanceOf(ClientConnectorCertificateError);
    await using viaCa = await wsConnect(srv.url("/"), { ssl: { ca: certs.ca } });
    await viaCa.sendStr("secure");
    expect(await viaCa.receiveStr()).toBe("secure");
    await using pinned = await wsConnect(srv.url("/"), { fingerprint: certs.server.sha256 });
    expect(pinned.getExtraInfo("cipher")).toBeTruthy();
  });

  it("works through a connector that offers HTTP/2: the websocket gets an HTTP/1.1 connection of its own", async () => {
    // A server that speaks both: it would pick h2 if the client offered it.
    const { testCertificates } = await import("@x/fixtures");
    const certs = await testCertificates();
    const server = createSecureServer({ key: certs.server.key, cert: certs.server.cert, allowHTTP1: true });
    const wss = new WebSocketServer({ noServer: true });
    server.on("upgrade", (req, socket, head) =>
      wss.handleUpgrade(req, socket as Socket, head, (ws) =>
        ws.on("message", (m, binary) => ws.send(m, { binary })),
      ),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      await using connector = new TCPConnector({ allowH2: true, ssl: { ca: certs.ca } });
      // A client offering h2 gets it from this server…
      const probe = tlsConnect({
        port,
        host: "127.0.0.1",
        servername: "localhost",
        ca: certs.ca,
        ALPNProtocols: ["h2", "http/1.1"],
      });
      await new Promise((r) => probe.once("secureConnect", r));
      expect(probe.alpnProtocol).toBe("h2");
      probe.destroy();
      // …but the connector's websocket asks for HTTP/1.1 only.
      await using ws = await wsConnect(`wss://localhost:${port}/`, { connector });
      await ws.sendStr("over h1");
      expect(await ws.receiveStr()).toBe("over h1");
      expect((ws.getExtraInfo("socket") as { alpnProtocol?: string }).alpnProtocol).toBe("http/1.1");
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
