// Leak check and soak for @x/session over @x/connector, against a loopback server in its own process.
//
// 1. Leaks: N requests (default 100,000) from 100 callers mixing bodies read whole and streamed,
//    responses released unread, responses abandoned (dropped unread), server resets, 500s with
//    raiseForStatus, total timeouts and POSTs. Then the session is closed, and the open file
//    descriptors and the event loop's active handles must be back to where they started.
// 2. Soak: M requests (default 1,000,000) from 10,000 concurrent callers through `limit: 100`. The
//    server must never see more than 100 connections at once, and RSS must stay bounded.
//
//   pnpm soak [-- --leak 100000 --soak 1000000 --callers 10000 --limit 100]
// Prints its figures and exits non-zero when a check fails.
import { readdirSync } from "node:fs";
import { parseArgs } from "node:util";
import v8 from "node:v8";
import vm from "node:vm";
import { TCPConnector } from "@x/connector";
import { ClientSession } from "@x/session";
import { startServer } from "./harness.js";

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    leak: { type: "string", default: "100000" },
    soak: { type: "string", default: "1000000" },
    callers: { type: "string", default: "10000" },
    limit: { type: "string", default: "100" },
  },
});
const LEAK_REQUESTS = Number(values.leak);
const SOAK_REQUESTS = Number(values.soak);
const CALLERS = Number(values.callers);
const LIMIT = Number(values.limit);
const MiB = 2 ** 20;

interface ServerStats {
  accepted: number;
  open: number;
  maxOpen: number;
}

async function startSoakServer() {
  const { port, child, stop } = await startServer("./soak-server.ts");
  const ask = (what: "stats" | "reset") =>
    new Promise<ServerStats>((resolve) => {
      child.once("message", (m) => resolve(m as ServerStats));
      child.send(what);
    });
  return { origin: `http://127.0.0.1:${port}`, stats: () => ask("stats"), reset: () => ask("reset"), stop };
}

const openFds = () => readdirSync("/proc/self/fd").length;
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}
function diff(before: Map<string, number>, after: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [name, n] of after)
    if (n > (before.get(name) ?? 0)) out.push(`${name} +${n - (before.get(name) ?? 0)}`);
  return out;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rss = () => process.memoryUsage.rss();
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
/** Live heap after a full collection. */
async function liveHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(20);
  }
  return process.memoryUsage().heapUsed;
}
const failures: string[] = [];
function check(ok: boolean, what: string): void {
  console.log(`  ${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
}

/** Runs `total` calls of `one(i)` from `callers` concurrent callers. */
async function drive(total: number, callers: number, one: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(callers, total) }, async () => {
      while (next < total) await one(next++);
    }),
  );
  return performance.now() - started;
}

const server = await startSoakServer();
const { origin } = server;

// ── 1. leaks ──────────────────────────────────────────────────────────────
{
  console.log(`leak check: ${LEAK_REQUESTS} mixed requests, 100 callers, limit ${LIMIT}`);
  await sleep(50);
  const fdsBefore = openFds();
  const resourcesBefore = activeResources();
  const session = new ClientSession({ connector: new TCPConnector({ limit: LIMIT }) });
  const outcomes = new Map<string, number>();
  const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  const expectFailure = async (what: string, p: Promise<unknown>) => {
    try {
      await p;
      count(`${what}: unexpectedly succeeded`);
    } catch (err) {
      count(`${what}: ${(err as Error).constructor.name}`);
    }
  };
  const payload = Buffer.alloc(16 * 1024, 1);
  const ms = await drive(LEAK_REQUESTS, 100, async (i) => {
    const kind = i % 50;
    try {
      if (kind < 20) {
        await (await session.get(`${origin}/small`)).read();
        count("read");
      } else if (kind < 25) {
        let n = 0;
        for await (const chunk of (await session.get(`${origin}/big`)).content) n += chunk.length;
        count(n === MiB ? "streamed" : "streamed short");
      } else if (kind < 32) {
        (await session.get(`${origin}/big`)).release();
        count("released");
      } else if (kind < 33) {
        // Dropped unread: collected (or, at the latest, cut by its total timeout).
        await session.get(`${origin}/big`, { timeout: { total: 2000 } });
        count("abandoned");
      } else if (kind < 38) {
        await expectFailure("reset", session.get(`${origin}/reset`));
      } else if (kind < 42) {
        await expectFailure("500", session.get(`${origin}/status/500`, { raiseForStatus: true }));
      } else if (kind < 44) {
        await expectFailure("timeout", session.get(`${origin}/slow`, { timeout: { total: 50 } }));
      } else {
        const resp = await session.post(`${origin}/echo`, { data: payload });
        count((await resp.read()).length === payload.length ? "posted" : "posted short");
      }
    } catch (err) {
      count(`unexpected ${(err as Error).constructor.name}: ${(err as Error).message}`);
    }
  });
  await session.close();
  let fdsAfter = openFds();
  let leftover = diff(resourcesBefore, activeResources());
  for (let waited = 0; waited < 5000 && (fdsAfter > fdsBefore || leftover.length > 0); waited += 50) {
    await sleep(50);
    fdsAfter = openFds();
    leftover = diff(resourcesBefore, activeResources());
  }
  console.log(
    `  ${LEAK_REQUESTS} requests in ${(ms / 1000).toFixed(1)} s (${Math.round(LEAK_REQUESTS / (ms / 1000))} req/s)`,
  );
  console.log(`  outcomes: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(", ")}`);
  console.log(`  open fds: ${fdsBefore} before, ${fdsAfter} after close`);
  check(
    ![...outcomes.keys()].some((k) => /unexpected|short/.test(k)),
    "every request ended as its kind should",
  );
  check(fdsAfter <= fdsBefore, "open file descriptors back to baseline");
  check(leftover.length === 0, `no active handles or timers left (${leftover.join(", ") || "none"})`);
}

// ── 2. soak ───────────────────────────────────────────────────────────────
{
  console.log(`soak: ${SOAK_REQUESTS} requests, ${CALLERS} concurrent callers, limit ${LIMIT}`);
  const acceptedBefore = (await server.reset()).accepted;
  const heapBefore = await liveHeap();
  const session = new ClientSession({ connector: new TCPConnector({ limit: LIMIT }) });
  const rssStart = rss();
  const peaks = [rssStart, rssStart];
  let done = 0;
  let nextReport = SOAK_REQUESTS / 10;
  const sampler = setInterval(() => {
    const half = done < SOAK_REQUESTS / 2 ? 0 : 1;
    peaks[half] = Math.max(peaks[half]!, rss());
    if (done >= nextReport) {
      nextReport += SOAK_REQUESTS / 10;
      const m = process.memoryUsage();
      console.log(
        `  … ${done} done: RSS ${(m.rss / MiB).toFixed(0)} MiB, heap ${(m.heapUsed / MiB).toFixed(0)} MiB`,
      );
    }
  }, 100);
  let errors = 0;
  const ms = await drive(SOAK_REQUESTS, CALLERS, async () => {
    try {
      await (await session.get(`${origin}/small`)).read();
    } catch {
      errors++;
    }
    done++;
  });
  clearInterval(sampler);
  const rssEnd = rss();
  const stats = await server.stats();
  await session.close();
  const heapAfter = await liveHeap();
  console.log(
    `  ${SOAK_REQUESTS} requests in ${(ms / 1000).toFixed(1)} s (${Math.round(SOAK_REQUESTS / (ms / 1000))} req/s), ${errors} errors`,
  );
  console.log(
    `  server: ${stats.accepted - acceptedBefore} connections accepted, at most ${stats.maxOpen} open at once`,
  );
  const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;
  console.log(
    `  RSS: ${mib(rssStart)} at start, peak ${mib(peaks[0]!)} in the first half and ${mib(peaks[1]!)} in the second, ${mib(rssEnd)} at the end`,
  );
  console.log(
    `  live heap after a full GC: ${mib(heapBefore)} before, ${mib(heapAfter)} after the session closed`,
  );
  check(errors === 0, "no request failed");
  check(stats.maxOpen <= LIMIT, `never more than ${LIMIT} connections at the server`);
  check(
    peaks[1]! <= peaks[0]! + 64 * MiB,
    "RSS plateaus: the second half's peak within 64 MiB of the first's",
  );
  check(heapAfter - heapBefore < 16 * MiB, "the live heap returns to within 16 MiB of where it started");
}

server.stop();
console.log(failures.length === 0 ? "soak: all checks passed" : `soak: ${failures.length} check(s) failed`);
process.exitCode = failures.length === 0 ? 0 : 1;
