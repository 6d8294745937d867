#!/usr/bin/env node
// Mutation testing of one package with StrykerJS (vitest runner, TypeScript checker):
//   pnpm mutation packages/cookies [--files src/cookie-jar.ts,src/parse.ts] [--full] [--table]
//     [--concurrency N]  (default 3: the checker and two test runners)
//     [--survivors]      (with --table: also list each survivor not in tooling/mutation-equivalents.md)
// Every file of the package's src/ is mutated (its `testing/` conformance suite and index.ts
// excepted); only that package's tests run. Incremental: results are kept in
// reports/mutation/<package>/incremental.json, so a rerun tests only what changed (--full
// forgets them). A --files run keeps its results apart (reports/mutation/<package>/files/...),
// so a large package can be run a few files at a time. Prints a table per file, from the
// newest result of each file over every run of the package, and, last, "mutation score: N%"
// (--table prints that from the runs so far, without running anything).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("../..", import.meta.url));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    files: { type: "string" },
    full: { type: "boolean", default: false },
    table: { type: "boolean", default: false },
    concurrency: { type: "string" },
    survivors: { type: "boolean", default: false },
  },
});
const folder = positionals[0]?.replace(/\/$/, "");
if (!folder || !existsSync(join(root, folder, "src"))) {
  console.error("usage: pnpm mutation <package folder, e.g. packages/cookies> [--files a.ts,b.ts] [--full]");
  process.exit(2);
}
const name = folder.split("/").pop();
const packageReports = join(root, "reports", "mutation", name);
// A long list of files makes a folder name past what the file system takes: cut it, and keep it
// apart from other lists with a digest of the whole.
const fullSlug = values.files?.replace(/[^A-Za-z0-9.-]+/g, "_");
const slug =
  fullSlug && fullSlug.length > 100
    ? `${fullSlug.slice(0, 80)}-${createHash("sha256").update(fullSlug).digest("hex").slice(0, 12)}`
    : fullSlug;
// A run over line ranges (`src/pool.ts:320-330`) tests part of a file: its result is shown alone
// and kept out of the package's table, where it would stand for the whole file.
const ranged = values.files?.includes(":") ?? false;
const reports = ranged
  ? join(root, "reports", "mutation-ranges", name, slug)
  : values.files
    ? join(packageReports, "files", slug)
    : packageReports;
const tableFrom = ranged ? reports : packageReports;
mkdirSync(reports, { recursive: true });
const mutate = values.files
  ? values.files.split(",").map((f) => join(folder, f.trim()))
  : [`${folder}/src/**/*.ts`, `!${folder}/src/testing/**`, `!${folder}/src/index.ts`];
// pnpm keeps each package's dependencies to itself: Stryker's plugins are named by path.
const resolve = createRequire(join(root, "package.json")).resolve;
const config = {
  $schema: "../../node_modules/@stryker-mutator/core/schema/stryker-schema.json",
  packageManager: "pnpm",
  plugins: [resolve("@stryker-mutator/vitest-runner"), resolve("@stryker-mutator/typescript-checker")],
  testRunner: "vitest",
  vitest: { configFile: "tooling/mutation/vitest.config.ts" },
  checkers: ["typescript"],
  tsconfigFile: join(folder, "tsconfig.json"),
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: "perTest",
  mutate,
  // The package's tests run against the copy of its sources; sibling packages come from the
  // workspace as they are.
  ignorePatterns: ["**/dist", "reports", ".test-results", "bench", "examples", "**/.turbo"],
  // One TypeScript checker and two test runners: the runners spend part of each test waiting on
  // loopback sockets, so two keep both cores busier than one.
  concurrency: values.concurrency ? Number(values.concurrency) : 3,
  timeoutMS: 20_000,
  timeoutFactor: 2,
  incremental: true,
  incrementalFile: relative(root, join(reports, "incremental.json")),
  force: values.full,
  reporters: ["json", "progress"],
  jsonReporter: { fileName: relative(root, join(reports, "mutation.json")) },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
  thresholds: { high: 90, low: 80, break: null },
};
if (!values.table) run();

// The equivalent mutants listed in tooling/mutation-equivalents.md, as "file:line" (a line may
// name several: `file.ts:268,289`, or a range: `file.ts:53-54`).
const listed = new Set();
for (const line of readFileSync(join(root, "tooling", "mutation-equivalents.md"), "utf8").split("\n")) {
  const m = /^(packages\/\S+?\.ts):([\d,-]+)\s/.exec(line);
  if (!m) continue;
  for (const part of m[2].split(",")) {
    const [from, to = from] = part.split("-").map(Number);
    for (let n = from; n <= to; n++) listed.add(`${m[1]}:${n}`);
  }
}

function run() {
  const configFile = join(reports, "stryker.config.json");
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const res = spawnSync(
    process.execPath,
    [join(root, "node_modules", "@stryker-mutator", "core", "bin", "stryker.js"), "run", configFile],
    { cwd: root, stdio: "inherit", env: { ...process.env, X_MUTATION_PACKAGE: folder } },
  );
  if (res.status !== 0) process.exit(res.status ?? 1);
}

// The per-file table, from Stryker's JSON reports: each file's newest result over every run of
// this package (the whole package, or some --files), for files that still exist.
const newest = new Map();
const reportFiles = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? reportFiles(join(dir, e.name)) : e.name === "mutation.json" ? [join(dir, e.name)] : [],
  );
for (const path of reportFiles(tableFrom)) {
  const when = statSync(path).mtimeMs;
  for (const [file, result] of Object.entries(JSON.parse(readFileSync(path, "utf8")).files)) {
    if (!existsSync(join(root, file))) continue;
    const seen = newest.get(file);
    if (!seen || seen.when < when) newest.set(file, { when, mutants: result.mutants });
  }
}
const rows = [];
let killedAll = 0;
let validAll = 0;
const unlisted = [];
for (const [file, { mutants }] of newest) {
  const count = (...statuses) => mutants.filter((m) => statuses.includes(m.status)).length;
  const detected = count("Killed", "Timeout");
  const survived = count("Survived");
  const noCoverage = count("NoCoverage");
  const valid = detected + survived + noCoverage;
  const left = mutants.filter((m) => m.status === "Survived" || m.status === "NoCoverage");
  const equivalent = left.filter((m) => listed.has(`${file}:${m.location.start.line}`)).length;
  killedAll += detected;
  validAll += valid;
  rows.push({
    file: relative(folder, file),
    mutants: mutants.length,
    detected,
    survived,
    noCoverage,
    equivalent,
    valid,
  });
  const source = readFileSync(join(root, file), "utf8").split("\n");
  for (const m of left) {
    if (listed.has(`${file}:${m.location.start.line}`)) continue;
    const at = `${relative(folder, file)}:${m.location.start.line}:${m.location.start.column}`;
    const code = (source[m.location.start.line - 1] ?? "").trim().slice(0, 90);
    unlisted.push(
      `${at} ${m.status === "NoCoverage" ? "(no coverage) " : ""}${m.mutatorName}: ${code}  →  ${m.replacement.replace(/\s+/g, " ").slice(0, 70)}`,
    );
  }
}
rows.sort((a, b) => a.file.localeCompare(b.file));
const pct = (a, b) => (b === 0 ? "n/a" : `${((100 * a) / b).toFixed(1)}%`);
if (values.survivors)
  console.log(`\nsurvivors not listed as equivalent (${unlisted.length}):\n${unlisted.join("\n")}`);
// "listed": survivors tooling/mutation-equivalents.md explains; they still count against the score.
console.log(
  `\n${"file".padEnd(34)}${"mutants".padStart(9)}${"killed".padStart(8)}${"survived".padStart(10)}${"no cover".padStart(10)}${"listed".padStart(8)}${"score".padStart(8)}`,
);
for (const r of rows) {
  console.log(
    `${r.file.padEnd(34)}${String(r.mutants).padStart(9)}${String(r.detected).padStart(8)}${String(r.survived).padStart(10)}${String(r.noCoverage).padStart(10)}${String(r.equivalent).padStart(8)}${pct(r.detected, r.valid).padStart(8)}`,
  );
}
console.log(`mutation score: ${validAll === 0 ? "n/a" : `${((100 * killedAll) / validAll).toFixed(1)}%`}`);
