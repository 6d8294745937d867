import { InvalidArgumentError } from "@x/errors";
import { rawWsHandshake, readWsFrame, sleep, startRawServer, wsFrame } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { WSMsgType, wsConnect } from "../src/index.js";

// aiohttp sends the Sec-WebSocket-Version a caller sets. ws speaks 13 and 8 (hybi-08): those are
// honoured; any other version is refused before a socket is opened.

/** A raw server that records the handshake head, accepts it, sends "hi", and answers the client's CLOSE. */
async function versionServer() {
  const heads: string[] = [];
  const srv = await startRawServer(async (conn) => {
    heads.push(await rawWsHandshake(conn));
    await conn.write(wsFrame(0x1, Buffer.from("hi")));
    const close = await readWsFrame(conn);
    if (close.opcode === 0x8) await conn.write(wsFrame(0x8, close.payload.subarray(0, 2)));
    await conn.end();
  });
  return Object.assign(srv, { heads });
}

const versionsIn = (head: string) => [...head.matchAll(/^sec-websocket-version: *(.*)$/gim)].map((m) => m[1]);

describe("Sec-WebSocket-Version from the caller", () => {
  it("8 is sent as 8, once, and the connection works", async () => {
    // Before: the caller's header was silently replaced: the handshake said 13.
    await using srv = await versionServer();
    const ws = await wsConnect(srv.url("/v8").replace("http:", "ws:"), {
      headers: { "Sec-WebSocket-Version": "8" },
    });
    const msg = await ws.receive();
    expect([msg.type, msg.data]).toEqual([WSMsgType.TEXT, "hi"]);
    await ws.close();
    expect(srv.heads).toHaveLength(1);
    expect(versionsIn(srv.heads[0]!)).toEqual(["8"]);
  });

  it("13 is sent as 13, once", async () => {
    await using srv = await versionServer();
    const ws = await wsConnect(srv.url("/v13").replace("http:", "ws:"), {
      headers: [["sec-websocket-version", "13"]],
    });
    expect((await ws.receive()).data).toBe("hi");
    await ws.close();
    expect(versionsIn(srv.heads[0]!)).toEqual(["13"]);
  });

  it("7 is an InvalidArgumentError before any I/O", async () => {
    // Before: 7 was silently replaced by 13 and the handshake went out.
    await using srv = await versionServer();
    const err = await wsConnect(srv.url("/v7").replace("http:", "ws:"), {
      headers: { "Sec-WebSocket-Version": "7" },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    await sleep(20);
    expect(srv.connections).toHaveLength(0);
    expect(srv.stats.accepted).toBe(0);
  });
});
