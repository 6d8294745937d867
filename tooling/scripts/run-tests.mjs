#!/usr/bin/env node
// The README's test command: builds, type-checks, lints and packaging-checks every package
// (turbo), runs every test lane (this Node, Node 22, Node 24, Node 26), proves the packed tarballs
// (packed.mjs), then prints one plain summary line counted from vitest's JSON results:
//   N passed, N failed
// Exits non-zero if any step or lane failed or any test failed.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const results = join(root, ".test-results");
rmSync(results, { recursive: true, force: true });
mkdirSync(results, { recursive: true });

const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
const bin = (name) => join(root, "node_modules", ".bin", name);
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: "1" };

/** Checks that are not vitest tests; each must exit 0. */
const steps = [
  {
    name: "build, typecheck, lint, check:pkg",
    cmd: bin("turbo"),
    args: ["run", "build", "typecheck", "lint", "check:pkg", "--output-logs=errors-only", "--continue"],
  },
  {
    name: "lint (workspace root)",
    cmd: bin("biome"),
    args: [
      "check",
      "tooling/scripts",
      "tooling/mutation",
      "tooling/vitest.shared.ts",
      "vitest.config.ts",
      "biome.json",
      "turbo.json",
      "package.json",
    ],
  },
];

/** The vitest arguments of a lane writing its JSON results to .test-results/<name>.json. */
const vitestArgs = (name) => [
  vitest,
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${join(results, `${name}.json`)}`,
];

/**
 * Each lane runs the whole suite: on this Node, then on Node 22, 24 and 26 from npm's `node@22`,
 * `node@24` and `node@26` packages (`LANES=node-current` or `LANES=node-26,node-24` runs those only).
 */
const allLanes = [
  { name: "node-current", cmd: process.execPath, args: vitestArgs("node-current") },
  ...["22", "24", "26"].map((major) => ({
    name: `node-${major}`,
    cmd: "npx",
    args: ["-y", "-p", `node@${major}`, "node", ...vitestArgs(`node-${major}`)],
  })),
];
const only = process.env.LANES?.split(",").map((s) => s.trim());
const lanes = only ? allLanes.filter((l) => only.includes(l.name)) : allLanes;

/** After the lanes: the design card's three uses from packed tarballs (see packed.mjs). */
const after = [
  { name: "packed tarballs", cmd: process.execPath, args: [join(root, "tooling", "scripts", "packed.mjs")] },
  // Last: no daemon a fixture started (nginx, squid, redis-server, Python peers) still runs.
  {
    name: "no leftovers",
    cmd: process.execPath,
    args: [join(root, "tooling", "scripts", "no-leftovers.mjs")],
  },
];

const failedSteps = [];
for (const step of [...steps, ...lanes, ...after]) {
  console.log(`\n=== ${step.name} ===`);
  const res = spawnSync(step.cmd, step.args, { cwd: root, stdio: "inherit", env });
  if (res.status !== 0) {
    failedSteps.push(step.name);
    console.log(`${step.name}: exited with ${res.status ?? res.signal}`);
  }
}

let passed = 0;
let failed = 0;
for (const file of readdirSync(results).filter((f) => f.endsWith(".json"))) {
  try {
    const report = JSON.parse(readFileSync(join(results, file), "utf8"));
    passed += report.numPassedTests ?? 0;
    failed += (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
  } catch {
    failed += 1;
    console.log(`unreadable results: ${file}`);
  }
}
if (failedSteps.length > 0) console.log(`failed steps: ${failedSteps.join("; ")}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || failedSteps.length > 0 ? 1 : 0);
