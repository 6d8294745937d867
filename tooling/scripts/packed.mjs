#!/usr/bin/env node
// The design card's three uses, proven from packed packages (run after `pnpm build`):
//   1. `pnpm pack` every package into a temporary folder;
//   2. (a) a fresh project with only @x/connector: Node's fetch pooled through TCPConnector({ limit: 2 });
//      (b) a fresh project with @x/session: an app with cookies, auth, a redirect and a websocket;
//      (c) a fresh project with a user's own 20-line cookie jar: testCookieJar under vitest, and a session;
//   3. every package's README example, taken from the README inside its tarball, run with tsx;
//   4. every package type-checked alone (every export subpath) in a fresh project with skipLibCheck: false.
// Projects are installed with npm from the tarballs (third-party dependencies from the registry).
// Prints one line per check and "packed: N passed, N failed"; exits non-zero on any failure.
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const apps = join(root, "tooling", "packed");
const work = mkdtempSync(join(tmpdir(), "x-packed-"));
const keep = process.argv.includes("--keep");
const PACKAGES = ["errors", "connector", "cookies", "auth", "websocket", "session"];
/** Each package's @x dependencies, read from its manifest, transitively. */
const manifests = Object.fromEntries(
  PACKAGES.map((p) => [p, JSON.parse(readFileSync(join(root, "packages", p, "package.json"), "utf8"))]),
);
function closure(pkg, seen = new Set()) {
  seen.add(pkg);
  for (const dep of Object.keys(manifests[pkg].dependencies ?? {}))
    if (dep.startsWith("@x/") && !seen.has(dep.slice(3))) closure(dep.slice(3), seen);
  return [...seen];
}

const results = [];
function record(name, ok, detail = "") {
  results.push({ name, ok });
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` — ${detail}` : ""}`);
}

function run(cmd, args, cwd, input) {
  const res = spawnSync(cmd, args, { cwd, encoding: "utf8", input, env: { ...process.env, NO_COLOR: "1" } });
  return { ok: res.status === 0, out: `${res.stdout ?? ""}${res.stderr ?? ""}`.trim() };
}
const tail = (text) => text.split("\n").slice(-15).join("\n");

// 1. pack
const tarballs = join(work, "tarballs");
mkdirSync(tarballs);
const tgz = {};
for (const p of PACKAGES) {
  const res = run("pnpm", ["pack", "--pack-destination", tarballs], join(root, "packages", p));
  const file = readdirSync(tarballs).find((f) => f.startsWith(`x-${p}-`) && f.endsWith(".tgz"));
  if (!res.ok || !file) {
    record(`pack @x/${p}`, false, tail(res.out));
    process.exit(1);
  }
  tgz[p] = join(tarballs, file);
}
record(
  "pack every package",
  true,
  Object.values(tgz)
    .map((f) => f.split("/").pop())
    .join(", "),
);

/** Makes a fresh npm project with the given @x packages (and their @x dependencies) and extras. */
function project(name, xPackages, extra = {}) {
  const dir = join(work, name);
  mkdirSync(dir);
  const deps = {};
  for (const p of new Set(xPackages.flatMap((x) => closure(x)))) deps[`@x/${p}`] = `file:${tgz[p]}`;
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify(
      { name: `x-packed-${name}`, private: true, type: "module", dependencies: { ...deps, ...extra } },
      null,
      2,
    ),
  );
  const res = run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], dir);
  if (!res.ok) throw new Error(`npm install in ${name} failed:\n${tail(res.out)}`);
  return dir;
}

function check(name, fn) {
  try {
    const { ok, detail } = fn();
    record(name, ok, detail);
  } catch (err) {
    record(name, false, String(err.message ?? err));
  }
}

// 2. the three uses
check("(a) only @x/connector: fetch pooled through TCPConnector({ limit: 2 })", () => {
  const dir = project("a-connector", ["connector"]);
  const installed = readdirSync(join(dir, "node_modules", "@x"))
    .sort()
    .join(", ");
  copyFileSync(join(apps, "connector-only.mjs"), join(dir, "index.mjs"));
  const res = run(process.execPath, ["index.mjs"], dir);
  return {
    ok: res.ok && installed === "connector, errors",
    detail: `@x installed: ${installed}; ${tail(res.out)}`,
  };
});

check("(b) @x/session app: cookies, auth, redirect, websocket", () => {
  const dir = project("b-session", ["session"], { ws: "^8.23.0" });
  copyFileSync(join(apps, "session-app.mjs"), join(dir, "index.mjs"));
  const res = run(process.execPath, ["index.mjs"], dir);
  return { ok: res.ok, detail: tail(res.out) };
});

check("(c) a user's 20-line async jar passes testCookieJar and drives a session", () => {
  const dir = project("c-jar", ["cookies", "session"], { vitest: "^4.0.0" });
  copyFileSync(join(apps, "my-jar.mjs"), join(dir, "my-jar.mjs"));
  copyFileSync(join(apps, "my-jar.test.mjs"), join(dir, "my-jar.test.mjs"));
  const res = run(
    process.execPath,
    [join(dir, "node_modules", "vitest", "vitest.mjs"), "run", "--root", dir],
    dir,
  );
  const summary = /Tests\s+(.*)/.exec(res.out)?.[1] ?? tail(res.out);
  return { ok: res.ok && !/failed/.test(summary), detail: summary };
});

// 3. README examples, from the READMEs inside the tarballs
await (async () => {
  let dir;
  try {
    dir = project("examples", ["session"], { ws: "^8.23.0", tsx: "^4.20.0", undici: "^7.30.2" });
  } catch (err) {
    record("README examples: install", false, err.message);
    return;
  }
  copyFileSync(join(apps, "examples-server.mjs"), join(dir, "examples-server.mjs"));
  const server = spawn(process.execPath, ["examples-server.mjs"], {
    cwd: dir,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const port = await new Promise((resolve) =>
    server.stdout.once("data", (d) => resolve(Number(String(d).trim()))),
  );
  const expected = {
    errors: /cannot reach 127\.0\.0\.1:9/,
    connector: /^$/,
    cookies: /sid=abc; theme=dark/,
    auth: /^200$/m,
    websocket: /<bot> welcome, ada[\s\S]*closed with 1000/,
    session: /^200 application\/json \{ page: 2, users: \[ 'ada', 'grace' \] \}$/m,
  };
  const runExample = (file) =>
    new Promise((resolve) => {
      const child = spawn(join(dir, "node_modules", ".bin", "tsx"), [file], { cwd: dir });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.on("exit", (status) => {
        clearTimeout(timer);
        resolve({ ok: status === 0, out: out.trim() });
      });
    });
  for (const p of PACKAGES) {
    const readme = readFileSync(join(dir, "node_modules", "@x", p, "README.md"), "utf8");
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    if (blocks.length === 0) {
      record(`README example of @x/${p}`, false, "no ```ts block");
      continue;
    }
    writeFileSync(join(dir, `example-${p}.ts`), blocks[0].replaceAll("127.0.0.1:8080", `127.0.0.1:${port}`));
    const res = await runExample(`example-${p}.ts`);
    record(`README example of @x/${p}`, res.ok && expected[p].test(res.out), tail(res.out) || "(no output)");
    // Further blocks that say "Runs as is" check themselves (node:assert): they must exit 0.
    for (const [i, code] of blocks.entries()) {
      if (i === 0 || !code.startsWith("// Runs as is")) continue;
      writeFileSync(join(dir, `example-${p}-${i}.ts`), code);
      const more = await runExample(`example-${p}-${i}.ts`);
      record(`README example ${i + 1} of @x/${p}`, more.ok, tail(more.out) || "(no output)");
    }
  }
  server.stdin.end();
})();

// 4. each package alone, type-checked with skipLibCheck: false
for (const p of PACKAGES) {
  check(`@x/${p} type-checks alone, every subpath (strict, skipLibCheck: false)`, () => {
    const subpaths = Object.keys(manifests[p].exports).filter((k) => k !== "./package.json");
    // A ./testing subpath is a vitest suite: its optional peer comes along for the check.
    const peers = subpaths.includes("./testing") ? { vitest: "^4.0.0" } : {};
    const dir = project(`types-${p}`, [p], { typescript: "~5.9.0", "@types/node": "^20.0.0", ...peers });
    writeFileSync(
      join(dir, "index.ts"),
      subpaths
        .map(
          (s, i) =>
            `import * as m${i} from "@x/${p}${s.slice(1)}";\nexport const keys${i}: string[] = Object.keys(m${i});\n`,
        )
        .join(""),
    );
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          skipLibCheck: false,
          noEmit: true,
          types: ["node"],
        },
        files: ["index.ts"],
      }),
    );
    const res = run(
      process.execPath,
      [join(dir, "node_modules", "typescript", "bin", "tsc"), "-p", "."],
      dir,
    );
    return { ok: res.ok, detail: res.ok ? "" : tail(res.out) };
  });
}

if (!keep) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
const failed = results.filter((r) => !r.ok).length;
console.log(`packed: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
