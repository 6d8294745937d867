// Bulk bodies: every client reads the same bytes from one nginx (Debian's, on loopback, static
// files with sendfile), each client in a process of its own, rounds interleaved, medians kept.
//   pnpm bench:bulk [-- --ms 3000 --rounds 3 --only "1 MiB"]
// Prints a table per scenario with ratios to undici.request and writes bench/results/bulk.json
// (with --only, the scenarios it ran replace theirs in the file, marked with their date and rounds).
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { startNginx } from "@x/fixtures";
import { saveRun } from "./harness.js";

const { values } = parseArgs({
  allowPositionals: true,
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    ms: { type: "string", default: "3000" },
    rounds: { type: "string", default: "3" },
    only: { type: "string" },
  },
});
const ms = Number(values.ms);
const rounds = Number(values.rounds);

// A JSON document of about 8 MiB (records, as an API would send), and a compressible text.
const records = Array.from({ length: 60_000 }, (_, i) => ({
  id: i,
  name: `user ${i}`,
  email: `user${i}@example.test`,
  tags: ["a", "b", "c"],
  score: i * 1.5,
}));
const json = Buffer.from(JSON.stringify(records));
const text = Buffer.from("The quick brown fox jumps over the lazy dog. ".repeat(24_000)).subarray(
  0,
  1024 * 1024,
);

const nginx = await startNginx({
  files: { "/64b": Buffer.alloc(64, 97), "/1m": 1024 * 1024, "/64m": 64 * 1024 * 1024, "/data.json": json },
  gzipped: { "/text.gz": { bytes: gzipSync(text), type: "text/plain" } },
});

interface Sample {
  requests: number;
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  maxRssMiB: number;
  startRssMiB: number;
  firstGrowthMiB: number;
}

interface Scenario {
  title: string;
  path: string;
  concurrency: number;
  clients: string[];
  /** Report throughput as MiB/s (bulk) or requests/s (small). */
  unit: "MiB/s" | "req/s";
}

const base = ["undici.request", "node:http", "raw floor", "aiohttp", "@x/session read()"];
const scenarios: Scenario[] = [
  { title: "64 B, concurrency 1", path: "/64b", concurrency: 1, clients: base, unit: "req/s" },
  { title: "64 B, concurrency 64", path: "/64b", concurrency: 64, clients: base, unit: "req/s" },
  { title: "1 MiB, concurrency 8", path: "/1m", concurrency: 8, clients: base, unit: "MiB/s" },
  {
    title: "1 MiB, concurrency 8, other ways to read",
    path: "/1m",
    concurrency: 8,
    clients: [
      "undici.request",
      "node:http",
      "@x/session for await",
      "node:http to a file",
      "@x/session to a file",
    ],
    unit: "MiB/s",
  },
  { title: "64 MiB, concurrency 1", path: "/64m", concurrency: 1, clients: base, unit: "MiB/s" },
  {
    title: "6 MiB JSON, parsed, concurrency 4",
    path: "/data.json",
    concurrency: 4,
    clients: ["undici.request", "aiohttp", "@x/session json()", "@x/session text()"],
    unit: "MiB/s",
  },
  {
    title: "1 MiB gzip text, concurrency 8",
    path: "/text.gz",
    concurrency: 8,
    clients: ["undici.request", "aiohttp", "@x/session read()"],
    unit: "MiB/s",
  },
];

function runOnce(client: string, url: string, concurrency: number): Promise<Sample> {
  const [cmd, args] =
    client === "aiohttp"
      ? ["/usr/bin/python3", [fileURLToPath(new URL("../py/bulk_client.py", import.meta.url)), url]]
      : [
          process.execPath,
          [
            // undici's decompress interceptor announces itself as experimental on every start.
            "--disable-warning=ExperimentalWarning",
            "--import",
            "tsx",
            fileURLToPath(new URL("./bulk-client.ts", import.meta.url)),
            client,
            url,
          ],
        ];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args, String(concurrency), String(ms)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0) reject(new Error(`${client} exited with ${code}: ${out}`));
      else resolve(JSON.parse(line) as Sample);
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

interface Row {
  client: string;
  throughput: number;
  cpuPerUnit: number;
  peakRssMiB: number;
  /** Peak RSS of the first request over the RSS before it: what one body costs. */
  oneBodyMiB: number;
}

const all: Array<{ scenario: string; unit: string; rows: Row[] }> = [];
for (const scenario of scenarios) {
  if (values.only && !scenario.title.includes(values.only)) continue;
  const samples: Record<string, Sample[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const client of scenario.clients) {
      (samples[client] ??= []).push(
        await runOnce(client, `${nginx.origin}${scenario.path}`, scenario.concurrency),
      );
    }
  }
  const rows: Row[] = scenario.clients.map((client) => {
    const list = samples[client]!;
    const mib = (s: Sample) => s.bytes / 2 ** 20;
    return {
      client,
      throughput: median(list.map((s) => (scenario.unit === "MiB/s" ? mib(s) : s.requests) / s.seconds)),
      // CPU seconds per GiB (bulk) or per 10,000 requests (small).
      cpuPerUnit: median(
        list.map((s) =>
          scenario.unit === "MiB/s" ? (s.cpuSeconds / mib(s)) * 1024 : (s.cpuSeconds / s.requests) * 10_000,
        ),
      ),
      peakRssMiB: median(list.map((s) => s.maxRssMiB)),
      oneBodyMiB: median(list.map((s) => s.firstGrowthMiB)),
    };
  });
  const baseRow = rows.find((r) => r.client === "undici.request") ?? rows[0]!;
  const cpuUnit = scenario.unit === "MiB/s" ? "CPU s/GiB" : "CPU s/10k";
  console.log(`\n${scenario.title} (${rounds}×${ms} ms, median; ratios to ${baseRow.client})`);
  console.log(
    `${"client".padEnd(24)}${scenario.unit.padStart(10)}${"×".padStart(7)}${cpuUnit.padStart(12)}${"×".padStart(7)}${"peak RSS".padStart(10)}${"1 body".padStart(9)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.client.padEnd(24)}${r.throughput.toFixed(0).padStart(10)}${(r.throughput / baseRow.throughput).toFixed(2).padStart(7)}${r.cpuPerUnit.toFixed(2).padStart(12)}${(r.cpuPerUnit / baseRow.cpuPerUnit).toFixed(2).padStart(7)}${r.peakRssMiB.toFixed(0).padStart(10)}${r.oneBodyMiB.toFixed(0).padStart(9)}`,
    );
  }
  all.push({ scenario: scenario.title, unit: scenario.unit, rows });
}
await nginx.close();

const saved = fileURLToPath(new URL("../results/bulk.json", import.meta.url));
if (values.only && existsSync(saved)) {
  // A partial run updates the scenarios it ran and keeps the others of the last full run.
  const last = JSON.parse(readFileSync(saved, "utf8")) as {
    ms: number;
    rounds: number;
    scenarios: typeof all;
  };
  const date = new Date().toISOString().slice(0, 10);
  const fresh = new Map(all.map((s) => [s.scenario, { ...s, date, rounds }]));
  const merged = last.scenarios.map((s) => fresh.get(s.scenario) ?? s);
  for (const s of fresh.values()) if (!last.scenarios.some((l) => l.scenario === s.scenario)) merged.push(s);
  saveRun("bulk", { ms: last.ms, rounds: last.rounds, scenarios: merged });
} else saveRun("bulk", { ms, rounds, scenarios: all });
