import zlib from "node:zlib";
import { ClientPayloadError } from "@x/errors";
import {
  wsFrame as frame,
  peakRssGrowth,
  type RawConnection,
  rawWsHandshake,
  sleep,
  startRawServer,
} from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { WSMsgType, wsConnect } from "../src/index.js";

// Memory a hostile server can make a websocket client spend: frames that inflate far past their
// size (the permessage-deflate bomb ws fixed in CVE-2024-37890's neighbourhood), floods of tiny
// fragments, and floods of pings while nobody reads.

/** Writes `chunk` `times` times, respecting backpressure, stopping if the socket goes away. */
async function flood(conn: RawConnection, chunk: Buffer, times: number): Promise<void> {
  for (let i = 0; i < times && !conn.socket.destroyed; i++) {
    if (!conn.socket.write(chunk)) {
      await new Promise<void>((resolve) => {
        conn.socket.once("drain", resolve);
        conn.socket.once("close", resolve);
      });
    }
  }
}

describe("websocket resource limits", () => {
  it("a permessage-deflate bomb closes with 1009 at maxMsgSize, with bounded memory", async () => {
    // 512 MiB of zeros deflates to about half a megabyte.
    const inflated = 512 * 2 ** 20;
    const deflated = zlib.deflateRawSync(Buffer.alloc(inflated), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    const bomb = frame(0x2, deflated.subarray(0, deflated.length - 4), { rsv1: true });
    await using srv = await startRawServer(async (conn) => {
      await rawWsHandshake(conn, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
      await conn.write(bomb);
      await conn.readToEnd();
    });
    let closeCode: number | null = null;
    const growth = await peakRssGrowth(async () => {
      await using ws = await wsConnect(srv.url("/"), { compress: 15, timeout: { wsClose: 100 } });
      const msg = await ws.receive();
      expect(msg.type).toBe(WSMsgType.ERROR);
      expect(msg.data).toBeInstanceOf(ClientPayloadError);
      await ws.receive();
      closeCode = ws.closeCode;
    });
    expect(closeCode).toBe(1009);
    expect(growth).toBeLessThan(96);
  });

  it("a flood of one-byte fragments is cut off, with bounded memory", async () => {
    const fragments = Buffer.concat(
      Array.from({ length: 10_000 }, () => frame(0x0, Buffer.from("a"), { fin: false })),
    );
    await using srv = await startRawServer(async (conn) => {
      await rawWsHandshake(conn);
      await conn.write(frame(0x1, Buffer.from("a"), { fin: false }));
      await flood(conn, fragments, 300); // three million fragments of one byte
      await conn.readToEnd().catch(() => {});
    });
    const growth = await peakRssGrowth(async () => {
      await using ws = await wsConnect(srv.url("/"), { timeout: { wsClose: 100 } });
      const msg = await ws.receive(10_000);
      expect(msg.type).toBe(WSMsgType.ERROR);
      expect(msg.data).toBeInstanceOf(ClientPayloadError);
      expect((msg.data as Error).message).toMatch(/fragments/);
      await ws.receive();
      expect(ws.closeCode).toBe(1008);
    });
    expect(growth).toBeLessThan(96);
  });

  /** A server that handshakes, never reads, and writes ten million empty pings (20 MB). */
  async function pingFlood() {
    const pings = Buffer.concat(Array.from({ length: 10_000 }, () => frame(0x9, Buffer.alloc(0))));
    const state: { conn?: RawConnection; total: number } = { total: pings.length * 1000 };
    const srv = await startRawServer(async (conn) => {
      state.conn = conn;
      await rawWsHandshake(conn);
      conn.socket.pause();
      await flood(conn, pings, 1000);
    });
    return { srv, state };
  }

  it("a ping flood with autoping: ERROR, then the connection is cut (CLOSED, code 1006) once 60 pongs are pending; memory bounded", async () => {
    const { srv, state } = await pingFlood();
    await using _srv = srv;
    const growth = await peakRssGrowth(async () => {
      await using ws = await wsConnect(srv.url("/"), { timeout: { wsClose: 50 } });
      const error = await ws.receive(5000);
      expect(error.type).toBe(WSMsgType.ERROR);
      expect(error.data).toBeInstanceOf(ClientPayloadError);
      expect(ws.exception()).toBe(error.data);
      // The connection was dropped, not closed with a CLOSE frame: CLOSED, as aiohttp gives.
      expect((await ws.receive()).type).toBe(WSMsgType.CLOSED);
      expect(ws.closeCode).toBe(1006);
    });
    expect(state.conn!.socket.bytesWritten).toBeLessThan(state.total / 2);
    expect(growth).toBeLessThan(64);
  });

  it("a ping flood without autoping: queued PINGs pause the socket, memory bounded", async () => {
    const { srv, state } = await pingFlood();
    await using _srv = srv;
    const growth = await peakRssGrowth(async () => {
      await using ws = await wsConnect(srv.url("/"), { autoping: false, timeout: { wsClose: 50 } });
      await sleep(1500);
      expect(ws.closed).toBe(false);
      // The client stopped reading: what the server got out is what fits in socket buffers.
      expect(state.conn!.socket.bytesWritten).toBeLessThan(state.total / 2);
      expect((await ws.receive()).type).toBe(WSMsgType.PING);
    });
    expect(growth).toBeLessThan(64);
  });
});
