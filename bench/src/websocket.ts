// @x/websocket against raw ws, on the same ws echo server (its own process): echo round trips per
// second (send, wait for the echo, repeat) and messages per second (64 in flight), for 16-byte
// and 64 KiB messages. Goal: ≥ 90 % of raw ws.
//   pnpm bench:websocket [-- --ms 2000 --rounds 3]
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { wsConnect } from "@x/websocket";
import { WebSocket } from "ws";
import { saveRun } from "./harness.js";

const { values } = parseArgs({
  allowPositionals: true,
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: { ms: { type: "string", default: "2000" }, rounds: { type: "string", default: "3" } },
});
const ms = Number(values.ms);
const rounds = Number(values.rounds);

const child = fork(fileURLToPath(new URL("./ws-server.ts", import.meta.url)), [], {
  execArgv: ["--import", "tsx"],
  stdio: ["ignore", "pipe", "inherit", "ipc"],
});
const port = await new Promise<number>((resolve) =>
  child.stdout?.once("data", (d: Buffer) => resolve(Number(String(d).trim()))),
);
const url = `ws://127.0.0.1:${port}/`;

/** A client: send one message, and wait for the next incoming one. */
interface Peer {
  send(data: Buffer): void;
  next(): Promise<unknown>;
  close(): Promise<void>;
}

async function ours(): Promise<Peer> {
  const ws = await wsConnect(url, { maxMsgSize: 0 });
  return {
    send: (d) => void ws.sendBytes(d),
    next: () => ws.receive(),
    close: async () => {
      await ws.close();
    },
  };
}

async function raw(): Promise<Peer> {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 0 });
  await new Promise((r) => ws.once("open", r));
  const queue: unknown[] = [];
  let wake: (() => void) | undefined;
  ws.on("message", (d) => {
    queue.push(d);
    wake?.();
  });
  return {
    send: (d) => ws.send(d),
    next: async () => {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      return queue.shift();
    },
    close: () =>
      new Promise<void>((r) => {
        ws.once("close", () => r());
        ws.close();
      }),
  };
}

async function roundTrips(peer: Peer, payload: Buffer): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    peer.send(payload);
    await peer.next();
    n++;
  }
  return n / (ms / 1000);
}

async function throughput(peer: Peer, payload: Buffer, window = 64): Promise<number> {
  let received = 0;
  const end = performance.now() + ms;
  for (let i = 0; i < window; i++) peer.send(payload);
  while (performance.now() < end) {
    await peer.next();
    received++;
    peer.send(payload);
  }
  for (let i = 0; i < window; i++) await peer.next();
  return received / (ms / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const cases: Array<{ case: string; rawWs: number; x: number; ratio: number }> = [];
console.log(`${"case".padEnd(34)}${"raw ws".padStart(12)}${"@x".padStart(12)}${"@x / ws".padStart(10)}`);
for (const size of [16, 64 * 1024]) {
  const payload = Buffer.alloc(size, 7);
  for (const [label, measure] of [
    ["round trips/s", roundTrips],
    ["messages/s (64 in flight)", throughput],
  ] as const) {
    const results: Record<string, number[]> = { raw: [], ours: [] };
    for (let r = 0; r < rounds; r++) {
      for (const [name, make] of [
        ["raw", raw],
        ["ours", ours],
      ] as const) {
        const peer = await make();
        await measure(peer, payload);
        results[name]!.push(await measure(peer, payload));
        await peer.close();
      }
    }
    const a = median(results.raw!);
    const b = median(results.ours!);
    cases.push({ case: `${size === 16 ? "16 B" : "64 KiB"} ${label}`, rawWs: a, x: b, ratio: b / a });
    console.log(
      `${`${size === 16 ? "16 B" : "64 KiB"} ${label}`.padEnd(34)}${a.toFixed(0).padStart(12)}${b.toFixed(0).padStart(12)}${(b / a).toFixed(3).padStart(10)}`,
    );
  }
}
child.kill();
saveRun("websocket", { rounds, ms, cases });
