#!/usr/bin/env node
// After the suite: nothing a fixture started may still run. Exits 1 and lists the processes if any
// does, 0 otherwise. A process counts as the suite's when (zombies aside, which are already dead):
//   - it is in a process group the fixtures registered (tooling/fixtures/src/process-group.ts
//     writes one file per daemon into the registry: $X_FIXTURES_REGISTRY, else
//     .test-results/daemons in this workspace), which catches nginx workers; or
//   - its environment carries the fixtures' marker for this registry (X_FIXTURES_DAEMON), which
//     catches helpers that left the group (squid's call setsid); or
//   - it is an orphan (parent 1) named like one of the suite's daemons whose working directory is
//     inside this workspace: a daemon some test started without the fixtures.
// Linux only (/proc).
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const registry = process.env.X_FIXTURES_REGISTRY ?? join(root, ".test-results", "daemons");
const MARKER = "X_FIXTURES_DAEMON";
const DAEMON_NAMES = /\b(nginx|squid|redis-server|httpbin|aiohttp|basic_ncsa_auth|pinger)\b/;

const groups = new Map();
if (existsSync(registry)) {
  for (const file of readdirSync(registry).filter((f) => f.endsWith(".group"))) {
    try {
      const entry = JSON.parse(readFileSync(join(registry, file), "utf8"));
      groups.set(entry.pgid, entry);
    } catch {
      console.log(`no-leftovers: unreadable registry entry ${file}`);
    }
  }
}

function read(path) {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

const leftovers = [];
for (const name of readdirSync("/proc")) {
  if (!/^\d+$/.test(name)) continue;
  const pid = Number(name);
  if (pid === process.pid) continue;
  const stat = read(`/proc/${name}/stat`);
  if (!stat) continue;
  const [state, ppid, pgid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (state === "Z") continue;
  const command = (read(`/proc/${name}/cmdline`) ?? "").replaceAll("\0", " ").trim();
  const environ = (read(`/proc/${name}/environ`) ?? "").split("\0");
  let cwd = "";
  try {
    cwd = readlinkSync(`/proc/${name}/cwd`);
  } catch {}
  let why;
  if (groups.has(Number(pgid))) why = `in the group of ${groups.get(Number(pgid)).command}`;
  else if (environ.includes(`${MARKER}=${registry}`)) why = "carries the fixtures' marker";
  else if (ppid === "1" && DAEMON_NAMES.test(command) && `${cwd}/`.startsWith(root))
    why = "an orphaned daemon started from this workspace";
  if (why) leftovers.push({ pid, ppid: Number(ppid), pgid: Number(pgid), command, why });
}

if (leftovers.length > 0) {
  console.log(`no-leftovers: ${leftovers.length} process(es) started by the suite are still running:`);
  for (const p of leftovers) {
    console.log(`  pid ${p.pid} ppid ${p.ppid} pgid ${p.pgid}  ${p.command}  (${p.why})`);
  }
  process.exit(1);
}
console.log(`no leftovers: ${groups.size} daemon group(s) started by the suite, none still running`);
