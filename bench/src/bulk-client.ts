// One client of the bulk benchmark, in a process of its own (so its CPU and peak RSS are its
// own): runs `concurrency` callers against `url` for `ms` milliseconds after a warm-up and prints
// one JSON line { requests, bytes, seconds, cpuSeconds, maxRssMiB, startRssMiB, firstGrowthMiB }
// (the last: the peak RSS of the very first request over the RSS before it — what one body costs).
//   node --import tsx src/bulk-client.ts <client> <url> <concurrency> <ms>
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { TCPConnector } from "@x/connector";
import { ClientSession } from "@x/session";
import { Agent, interceptors, request } from "undici";

const [name = "", url = "", concurrencyText = "1", msText = "3000"] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const ms = Number(msText);
const target = new URL(url);
/** A JSON scenario: every client parses the body. A gzip one: every client decompresses it. */
const parsesJson = target.pathname.endsWith(".json");
const gzipped = target.pathname.endsWith(".gz");

type Client = () => Promise<number>;

/** The floor: keep-alive raw sockets, the response head parsed by hand, the body copied once. */
function rawFloor(): { client: Client; close(): void } {
  const idle: Socket[] = [];
  const all: Socket[] = [];
  const head = Buffer.from(`GET ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`);
  const one = (socket: Socket) =>
    new Promise<number>((resolve, reject) => {
      let body: Buffer | undefined;
      let filled = 0;
      let pending: Buffer | undefined;
      const onData = (chunk: Buffer) => {
        if (!body) {
          const data = pending ? Buffer.concat([pending, chunk]) : chunk;
          const end = data.indexOf("\r\n\r\n");
          if (end < 0) {
            pending = data;
            return;
          }
          const length = Number(
            /content-length: *(\d+)/i.exec(data.subarray(0, end).toString("latin1"))?.[1],
          );
          body = Buffer.allocUnsafe(length);
          chunk = data.subarray(end + 4);
        }
        filled += chunk.copy(body, filled);
        if (filled === body.length) {
          socket.off("data", onData);
          socket.off("error", reject);
          resolve(body.length);
        }
      };
      socket.on("data", onData);
      socket.once("error", reject);
      socket.write(head);
    });
  const client: Client = async () => {
    const socket =
      idle.pop() ??
      (await new Promise<Socket>((resolve, reject) => {
        const s = connect({ host: target.hostname, port: Number(target.port) }, () => resolve(s));
        s.setNoDelay(true);
        s.once("error", reject);
        all.push(s);
      }));
    const n = await one(socket);
    idle.push(socket);
    return n;
  };
  return {
    client,
    close: () => {
      for (const s of all) s.destroy();
    },
  };
}

async function make(): Promise<{ client: Client; close(): Promise<void> | void }> {
  const agent = () => new Agent({ connections: concurrency, keepAliveTimeout: 60_000 });
  const session = () =>
    new ClientSession({ connector: new TCPConnector({ limit: concurrency, keepaliveTimeout: 60_000 }) });
  switch (name) {
    case "undici.request": {
      const base = agent();
      // What an undici user writes: body.json() for JSON; the decompress interceptor for gzip.
      const dispatcher = parsesJson || !gzipped ? base : base.compose(interceptors.decompress());
      return {
        client: async () => {
          const res = await request(url, { dispatcher });
          if (!parsesJson) return (await res.body.arrayBuffer()).byteLength;
          await res.body.json();
          return Number(res.headers["content-length"]);
        },
        close: () => base.close(),
      };
    }
    case "node:http": {
      const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
      return {
        client: () =>
          new Promise<number>((resolve, reject) => {
            httpRequest(url, { agent: httpAgent }, (res) => {
              const chunks: Buffer[] = [];
              res.on("data", (d: Buffer) => chunks.push(d));
              res.on("end", () => resolve(Buffer.concat(chunks).length));
              res.on("error", reject);
            })
              .on("error", reject)
              .end();
          }),
        close: () => httpAgent.destroy(),
      };
    }
    case "node:http to a file": {
      const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
      const dir = mkdtempSync(join(tmpdir(), "x-bulk-"));
      let n = 0;
      return {
        client: () =>
          new Promise<number>((resolve, reject) => {
            httpRequest(url, { agent: httpAgent }, (res) => {
              const file = join(dir, `f${n++ % concurrency}`);
              pipeline(res, createWriteStream(file)).then(
                () => resolve(Number(res.headers["content-length"])),
                reject,
              );
            })
              .on("error", reject)
              .end();
          }),
        close: () => {
          httpAgent.destroy();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    case "raw floor":
      return rawFloor();
    case "@x/session read()":
    case "@x/session text()":
    case "@x/session json()":
    case "@x/session for await":
    case "@x/session to a file": {
      const s = session();
      const dir = mkdtempSync(join(tmpdir(), "x-bulk-"));
      let n = 0;
      const how = name.slice("@x/session ".length);
      return {
        client: async () => {
          const resp = await s.get(url);
          if (how === "read()") return (await resp.read()).length;
          if (how === "text()") return (await resp.text()).length;
          if (how === "json()") {
            await resp.json();
            return resp.content.totalBytes;
          }
          if (how === "for await") {
            let size = 0;
            for await (const chunk of resp.content) size += chunk.length;
            return size;
          }
          const file = join(dir, `f${n++ % concurrency}`);
          await pipeline(resp.content.toNodeReadable(), createWriteStream(file));
          return resp.content.totalBytes;
        },
        close: async () => {
          await s.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    default:
      throw new Error(`unknown client ${name}`);
  }
}

const { client, close } = await make();
const startRssMiB = process.memoryUsage.rss() / 2 ** 20;
// What one body costs: the peak RSS of a single request over the RSS before it.
await client();
const firstGrowthMiB = process.resourceUsage().maxRSS / 1024 - startRssMiB;
const run = async (duration: number) => {
  let requests = 0;
  let bytes = 0;
  const end = performance.now() + duration;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        // (`bytes += await client()` would read `bytes` before the await and lose updates.)
        const n = await client();
        bytes += n;
        requests++;
      }
    }),
  );
  return { requests, bytes };
};
await run(Math.min(500, ms / 4));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const { requests, bytes } = await run(ms);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await close();
console.log(
  JSON.stringify({
    requests,
    bytes,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    startRssMiB,
    firstGrowthMiB,
  }),
);
process.exit(0);
