import { startAiohttpWsServer } from "@x/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WSMsgType, wsConnect } from "../src/index.js";

// A real peer no one here wrote: an aiohttp websocket server from Debian's python3-aiohttp.
let peer: Awaited<ReturnType<typeof startAiohttpWsServer>>;
beforeAll(async () => {
  peer = await startAiohttpWsServer();
});
afterAll(() => peer.close());

describe("against an aiohttp websocket server", () => {
  it("echoes text, binary and JSON, agreeing on a subprotocol", async () => {
    await using ws = await wsConnect(`${peer.origin}/echo`, { protocols: ["superchat", "chat"] });
    expect(["chat", "superchat"]).toContain(ws.protocol);
    await ws.sendStr("héllo from node");
    expect(await ws.receiveStr()).toBe("héllo from node");
    await ws.sendBytes(Buffer.from([0, 1, 2, 255]));
    expect(await ws.receiveBytes()).toEqual(Buffer.from([0, 1, 2, 255]));
    await ws.sendStr("json:payload");
    expect(await ws.receiveJson()).toEqual({ echo: "payload", server: "aiohttp" });
    expect(await ws.close()).toBe(true);
    expect(ws.closeCode).toBe(1000);
  });

  it("receives a server-initiated close with its code and reason", async () => {
    await using ws = await wsConnect(`${peer.origin}/close`);
    expect(await ws.receiveStr()).toBe("goodbye");
    const close = await ws.receive();
    expect(close).toMatchObject({ type: WSMsgType.CLOSE, data: 4001, extra: "server says bye" });
    expect((await ws.receive()).type).toBe(WSMsgType.CLOSED);
  });

  it("answers the server's ping with a pong carrying the same data", async () => {
    await using ws = await wsConnect(`${peer.origin}/ping`);
    expect(await ws.receiveStr()).toBe("pong:are you there");
  });

  it("passes PING through with autoping off, and the server sees our pong", async () => {
    await using ws = await wsConnect(`${peer.origin}/ping`, { autoping: false });
    const ping = await ws.receive();
    expect(ping.type).toBe(WSMsgType.PING);
    await ws.pong(ping.data as Buffer);
    expect(await ws.receiveStr()).toBe("pong:are you there");
  });

  it("negotiates permessage-deflate with aiohttp", async () => {
    await using ws = await wsConnect(`${peer.origin}/echo`, { compress: 15 });
    expect(ws.compress).toBeGreaterThan(0);
    const big = "compressible ".repeat(5000);
    await ws.sendStr(big);
    expect(await ws.receiveStr()).toBe(big);
  });
});
