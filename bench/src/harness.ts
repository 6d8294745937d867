import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";

/** A client under test: one request, read to the end. */
export type Client = (path: string) => Promise<unknown>;

export interface Result {
  name: string;
  concurrency: number;
  path: string;
  requests: number;
  seconds: number;
  /** Requests per second. */
  rps: number;
  /** CPU time of this process (user + system) per 10,000 requests, in seconds. */
  cpuPer10k: number;
}

/** Starts a server script of this folder (default: the benchmark server) in a child process. */
export async function startServer(
  script = "./server.ts",
): Promise<{ port: number; child: ChildProcess; stop(): void }> {
  const child: ChildProcess = fork(fileURLToPath(new URL(script, import.meta.url)), [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once("error", reject);
  });
  return { port, child, stop: () => child.kill() };
}

/** Runs `client` with `concurrency` callers for `ms`, after a short warm-up. */
export async function measure(
  name: string,
  client: Client,
  opts: { concurrency: number; ms: number; path: string },
): Promise<Result> {
  const run = async (ms: number) => {
    let count = 0;
    const end = performance.now() + ms;
    const worker = async () => {
      while (performance.now() < end) {
        await client(opts.path);
        count++;
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    return count;
  };
  await run(Math.min(500, opts.ms / 4));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const requests = await run(opts.ms);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    name,
    concurrency: opts.concurrency,
    path: opts.path,
    requests,
    seconds,
    rps: requests / seconds,
    cpuPer10k: (cpuSeconds / requests) * 10_000,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Runs every client `rounds` times, interleaved so that drift in the machine's speed hits all
 * of them alike, and keeps the median of each.
 */
export async function compare(
  clients: Record<string, Client>,
  opts: { concurrency: number; ms: number; path: string; rounds: number },
): Promise<Result[]> {
  const runs: Record<string, Result[]> = {};
  for (let round = 0; round < opts.rounds; round++) {
    for (const [name, client] of Object.entries(clients)) {
      (runs[name] ??= []).push(await measure(name, client, opts));
    }
  }
  return Object.entries(runs).map(([name, results]) => ({
    ...results[0]!,
    name,
    rps: median(results.map((r) => r.rps)),
    cpuPer10k: median(results.map((r) => r.cpuPer10k)),
    requests: results.reduce((n, r) => n + r.requests, 0),
  }));
}

/** A table as it is saved: what `report` printed, with the baseline its ratios are to. */
export interface SavedTable {
  title: string;
  baseline: string;
  results: Result[];
}

const tables: SavedTable[] = [];

/**
 * Writes every table reported so far to `bench/results/<name>.json`, with the date, the machine
 * and the Node version of the run (what `pnpm bench:chart` draws from).
 */
export function save(name: string): void {
  saveRun(name, { tables });
}

/** Writes `bench/results/<name>.json`: `data` with the date, the machine and Node's version. */
export function saveRun(name: string, data: object): void {
  const dir = fileURLToPath(new URL("../results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  const run = {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}`,
    node: process.version,
    ...data,
  };
  writeFileSync(`${dir}${name}.json`, `${JSON.stringify(run, null, 2)}\n`);
}

/** Prints a table with each client's ratio to `baseline` (CPU per request and throughput). */
export function report(title: string, results: Result[], baseline: string): void {
  tables.push({ title, baseline, results });
  const base = results.find((r) => r.name === baseline);
  console.log(`\n${title}`);
  console.log(
    `${"client".padEnd(28)}${"req/s".padStart(10)}${"CPU s/10k".padStart(12)}${"CPU ×base".padStart(11)}${"req/s ×base".padStart(13)}`,
  );
  for (const r of results) {
    const cpuRatio = base ? r.cpuPer10k / base.cpuPer10k : Number.NaN;
    const rpsRatio = base ? r.rps / base.rps : Number.NaN;
    console.log(
      `${r.name.padEnd(28)}${r.rps.toFixed(0).padStart(10)}${r.cpuPer10k.toFixed(3).padStart(12)}${cpuRatio.toFixed(3).padStart(11)}${rpsRatio.toFixed(3).padStart(13)}`,
    );
  }
}
