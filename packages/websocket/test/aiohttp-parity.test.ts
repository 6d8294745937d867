import { ClientPayloadError, ServerTimeoutError, TimeoutError } from "@x/errors";
import { rawWsHandshake, readWsFrame, sleep, startRawServer, startWsServer, wsFrame } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { WSMsgType, wsConnect } from "../src/index.js";

// What aiohttp's ClientWebSocketResponse does at the edges of a connection's life, checked
// against servers that behave exactly as each case needs.

describe("a websocket's end, as aiohttp has it", () => {
  it("getExtraInfo gives the socket while open and the fallback once closed", async () => {
    await using srv = await startWsServer();
    const ws = await wsConnect(srv.url("/"));
    expect(ws.getExtraInfo("socket")).not.toBeNull();
    expect(ws.getExtraInfo("peername")).toEqual(["127.0.0.1", srv.port]);
    await ws.close();
    expect(ws.getExtraInfo("socket")).toBeNull();
    expect(ws.getExtraInfo("peername", "gone")).toBe("gone");
  });

  it("a receive() waiting when close() is called gets CLOSING; later ones get CLOSED", async () => {
    await using srv = await startWsServer({ onConnection: () => {} });
    const ws = await wsConnect(srv.url("/"));
    const waiting = ws.receive();
    await sleep(10);
    const closed = ws.close();
    expect((await waiting).type).toBe(WSMsgType.CLOSING);
    expect(await closed).toBe(true);
    expect((await ws.receive()).type).toBe(WSMsgType.CLOSED);
  });

  it("when the server never answers our CLOSE within wsClose, exception() is a timeout error and the code 1006", async () => {
    await using srv = await startRawServer(async (conn) => {
      await rawWsHandshake(conn);
      // Reads the client's CLOSE and says nothing.
      await readWsFrame(conn);
      await sleep(5000);
    });
    const ws = await wsConnect(srv.url("/").replace("http:", "ws:"), { timeout: { wsClose: 100 } });
    const started = performance.now();
    expect(await ws.close()).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    expect(ws.exception()).toBeInstanceOf(ServerTimeoutError);
    expect(ws.exception()).toBeInstanceOf(TimeoutError);
    expect(ws.closeCode).toBe(1006);
  });

  it("a server that drops the TCP connection without a CLOSE gives CLOSED, never CLOSE 1006", async () => {
    await using srv = await startRawServer(async (conn) => {
      await rawWsHandshake(conn);
      await conn.write(wsFrame(0x1, Buffer.from("last words")));
      await sleep(20);
      conn.socket.destroy();
    });
    const ws = await wsConnect(srv.url("/").replace("http:", "ws:"));
    const first = await ws.receive();
    expect([first.type, first.data]).toEqual([WSMsgType.TEXT, "last words"]);
    expect((await ws.receive()).type).toBe(WSMsgType.CLOSED);
    expect(ws.closeCode).toBe(1006);
    expect((await ws.receive()).type).toBe(WSMsgType.CLOSED);
  });

  it("a message that came with a broken frame is delivered and can still be answered before the connection fails", async () => {
    const seen: Array<{ opcode: number; payload: string }> = [];
    await using srv = await startRawServer(async (conn) => {
      await rawWsHandshake(conn);
      // A valid TEXT frame and a frame with a reserved opcode, in one TCP write.
      await conn.write(
        Buffer.concat([wsFrame(0x1, Buffer.from("question")), wsFrame(0x3, Buffer.from("?"))]),
      );
      for (let i = 0; i < 2; i++) {
        const f = await readWsFrame(conn);
        seen.push({
          opcode: f.opcode,
          payload: f.opcode === 0x8 ? String(f.payload.readUInt16BE(0)) : f.payload.toString(),
        });
      }
      await conn.end();
    });
    const ws = await wsConnect(srv.url("/").replace("http:", "ws:"), { timeout: { wsClose: 500 } });
    const question = await ws.receive();
    expect([question.type, question.data]).toEqual([WSMsgType.TEXT, "question"]);
    await ws.sendStr("answer");
    const error = await ws.receive();
    expect(error.type).toBe(WSMsgType.ERROR);
    expect(error.data).toBeInstanceOf(ClientPayloadError);
    expect((await ws.receive()).type).toBe(WSMsgType.CLOSED);
    // The answer went out before the client's CLOSE with 1002 (protocol error).
    expect(seen).toEqual([
      { opcode: 0x1, payload: "answer" },
      { opcode: 0x8, payload: "1002" },
    ]);
  });
});

describe("maxMsgFragments", () => {
  /** One 4 MiB message in 65,536 frames of 64 bytes. */
  const fragmented = () => {
    const parts: Buffer[] = [];
    const piece = Buffer.alloc(64, 0x61);
    for (let i = 0; i < 65_536; i++) {
      parts.push(wsFrame(i === 0 ? 0x2 : 0x0, piece, { fin: i === 65_535 }));
    }
    return Buffer.concat(parts);
  };

  it("refuses more than 16,384 fragments by default (1008), and takes 65,536 when allowed", async () => {
    const message = fragmented();
    await using srv = await startRawServer(async (conn) => {
      await rawWsHandshake(conn);
      await conn.write(message);
      await sleep(2000);
    });
    const url = srv.url("/").replace("http:", "ws:");
    const strict = await wsConnect(url, { timeout: { wsClose: 100 } });
    const refused = await strict.receive();
    expect(refused.type).toBe(WSMsgType.ERROR);
    expect(strict.closeCode).toBe(1008);
    await strict.close();
    const allowed = await wsConnect(url, { maxMsgFragments: 65_536, timeout: { wsClose: 100 } });
    const whole = await allowed.receive();
    expect(whole.type).toBe(WSMsgType.BINARY);
    expect((whole.data as Buffer).length).toBe(4 * 1024 * 1024);
    await allowed.close({ code: 1000 });
  });

  it("is checked", async () => {
    await expect(wsConnect("ws://127.0.0.1:9/", { maxMsgFragments: -1 })).rejects.toThrow(/maxMsgFragments/);
  });
});
