#!/usr/bin/env node
// The design card's three uses, proven from packed packages (run after `pnpm build`):
//   1. `pnpm pack` every package into a temporary folder;
//   2. (a) a fresh project with only @x/connector: Node's fetch pooled through TCPConnector({ limit: 2 });
//      (b) a fresh project with @x/session: an app with cookies, auth, a redirect and a websocket;
//      (c) a fresh project with a user's own 20-line cookie jar: testCookieJar under vitest, and a session;
//   3. every package's README example, taken from the README inside its tarball, run with tsx;
//   4. every package type-checked alone (every export subpath) in a fresh project with skipLibCheck: false;
//   5. undici 8, on Node 24 and Node 26 (from npm's node@24 / node@26): a project with undici@8 beside
//      the packages runs tooling/packed/undici8-connector.mjs (TCPConnector as undici 8's dispatcher,
//      composed with its interceptors, Node 26's own fetch) and undici8-session.mjs (ClientSession
//      over every undici 8 dispatcher); a second project whose npm `overrides` put the packages
//      themselves on undici 8 (`npm ls undici` must show only 8.x) runs the connector script again;
//   6. every ```ts block of the READMEs in README_TYPES compiles under tsc --strict (nodenext,
//      skipLibCheck: false) against the installed tarballs, with @types/node 20, 22 and 24, then with
//      undici 8 as the `undici` the blocks import.
// Projects are installed with npm from the tarballs (third-party dependencies from the registry).
// Prints one line per check and "packed: N passed, N failed"; exits non-zero on any failure.
// `--only=uses,examples,types,undici8,readme-types` runs some sections; `--keep` keeps the projects.
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
const only = process.argv
  .find((a) => a.startsWith("--only="))
  ?.slice(7)
  .split(",");
/** Whether a section runs (all do unless `--only=` names some). */
const want = (section) => !only || only.includes(section);
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
  // `stdout` alone for answers that are parsed: npm warns on stderr (under `pnpm test:all` it warns
  // about every npm_config_* variable pnpm sets).
  return {
    ok: res.status === 0,
    stdout: (res.stdout ?? "").trim(),
    out: `${res.stdout ?? ""}${res.stderr ?? ""}`.trim(),
  };
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

/**
 * Makes a fresh npm project with the given @x packages (and their @x dependencies) and extras;
 * `manifest` adds fields to its package.json (e.g. `overrides`).
 */
function project(name, xPackages, extra = {}, manifest = {}) {
  const dir = join(work, name);
  mkdirSync(dir);
  const deps = {};
  for (const p of new Set(xPackages.flatMap((x) => closure(x)))) deps[`@x/${p}`] = `file:${tgz[p]}`;
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify(
      {
        name: `x-packed-${name}`,
        private: true,
        type: "module",
        dependencies: { ...deps, ...extra },
        ...manifest,
      },
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
if (want("uses")) {
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
}

// 3. README examples, from the READMEs inside the tarballs
if (want("examples"))
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
      writeFileSync(
        join(dir, `example-${p}.ts`),
        blocks[0].replaceAll("127.0.0.1:8080", `127.0.0.1:${port}`),
      );
      const res = await runExample(`example-${p}.ts`);
      record(
        `README example of @x/${p}`,
        res.ok && expected[p].test(res.out),
        tail(res.out) || "(no output)",
      );
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
if (want("types"))
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

/** Runs a command without blocking the others: its status and its output (stdout then stderr). */
function spawnCollect(cmd, args, cwd, { timeout = 300_000, env = {} } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, NO_COLOR: "1", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
    child.on("error", (err) => (stderr += String(err)));
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, out: `${stdout}${stderr}`.trim() });
    });
  });
}

/** The binary of npm's `node@<major>` package (fetched once by npx, then cached). */
function nodeBinary(major) {
  const res = run("npx", ["-y", "-p", `node@${major}`, "node", "-p", "process.execPath"], work);
  const path = res.stdout.split("\n").pop();
  if (!res.ok || !path?.startsWith("/")) throw new Error(`npx -p node@${major} failed:\n${tail(res.out)}`);
  return path;
}

/**
 * Records the lines a tooling/packed script reports (`@@check {"name","ok","detail"}`, then
 * `@@done`; see undici8-harness.mjs), each prefixed with `label`; a script that stops before
 * `@@done` adds a failing line with its output's tail.
 */
function recordScript(label, script, res) {
  let finished = false;
  const other = [];
  for (const line of res.out.split("\n")) {
    if (line.startsWith("@@check ")) {
      try {
        const { name, ok, detail } = JSON.parse(line.slice(8));
        record(`${label} · ${name}`, ok, detail);
      } catch {
        other.push(line);
      }
    } else if (line === "@@done") finished = true;
    else other.push(line);
  }
  if (!finished) {
    const how = res.signal ? `killed by ${res.signal}` : `exited with ${res.status}`;
    record(
      `${label} · ${script} ran to the end`,
      false,
      `${how}: ${tail(other.join("\n")) || "(no output)"}`,
    );
  }
}

// 5. undici 8: our packages beside it (Node 24 and 26), and on it through npm overrides.
if (want("undici8")) {
  const nodes = {};
  for (const major of ["24", "26"]) {
    try {
      nodes[major] = nodeBinary(major);
    } catch (err) {
      record(`Node ${major} from npm's node@${major}`, false, err.message);
    }
  }
  const scripts = ["undici8-harness.mjs", "undici8-connector.mjs", "undici8-session.mjs"];
  const setUp = (name, extra, manifest) => {
    try {
      const dir = project(name, ["session"], extra, manifest);
      for (const f of scripts) copyFileSync(join(apps, f), join(dir, f));
      return dir;
    } catch (err) {
      record(`${name}: install`, false, err.message);
      return undefined;
    }
  };
  /** Each run: a script on one Node in one project; all run at once, recorded in this order. */
  const runs = [];
  // (a) undici@8 beside the packages, which keep their own undici 7.
  const beside = setUp("undici8", { undici: "^8" });
  for (const major of Object.keys(nodes)) {
    if (!beside) break;
    for (const script of ["undici8-connector.mjs", "undici8-session.mjs"])
      runs.push({ label: `undici 8 · Node ${major}`, node: nodes[major], dir: beside, script });
  }
  // (b) npm overrides move the packages' own undici dependency to 8: a version change only.
  const overridden = setUp("undici8-overrides", { undici: "^8" }, { overrides: { undici: "^8" } });
  if (overridden) {
    check("undici 8 overrides · npm ls undici: every copy is 8.x", () => {
      const res = run("npm", ["ls", "undici", "--all", "--json"], overridden);
      const found = [];
      const walk = (deps, path) => {
        for (const [name, info] of Object.entries(deps ?? {})) {
          if (name === "undici") found.push(`${info.version} (${path || "the project"})`);
          walk(info.dependencies, path ? `${path} > ${name}` : name);
        }
      };
      walk(JSON.parse(res.stdout).dependencies, "");
      const ok = found.length > 0 && found.every((f) => f.startsWith("8."));
      return { ok, detail: `${[...new Set(found)].join("; ")}${res.ok ? "" : `; npm ls: ${tail(res.out)}`}` };
    });
    for (const major of Object.keys(nodes))
      runs.push({
        label: `undici 8 overrides · Node ${major}`,
        node: nodes[major],
        dir: overridden,
        script: "undici8-connector.mjs",
        env: { X_EXPECT_CONNECTOR_UNDICI: "8" },
      });
  }
  const outcomes = await Promise.all(
    runs.map((r) => spawnCollect(r.node, [r.script], r.dir, { env: r.env ?? {} })),
  );
  for (const [i, r] of runs.entries()) recordScript(r.label, r.script, outcomes[i]);
}

/**
 * Section 6's READMEs: add one line per README. `variants` also compile a block with one edit —
 * what its prose tells readers to write instead.
 */
const README_TYPES = [
  { pkg: "errors", variants: [] },
  { pkg: "auth", variants: [] },
  { pkg: "cookies", variants: [] },
  { pkg: "connector", variants: [] },
  { pkg: "websocket", variants: [] },
  { pkg: "session", variants: [] },
];
/**
 * The type-check passes, in order, each after installing its packages into the same project:
 * @types/node 20, 22 and 24. (undici 8's own typings do not take an undici 7 dispatcher; the
 * READMEs say so.)
 */
const TYPE_PASSES = [
  { label: "@types/node 20", install: [] },
  { label: "@types/node 22", install: ["@types/node@^22"] },
  { label: "@types/node 24", install: ["@types/node@^24"] },
];

/** The ```ts blocks of a README: `{ index (1-based), line (of its first code line), code }`. */
function tsBlocks(readme) {
  const blocks = [];
  for (const m of readme.matchAll(/^```(?:ts|typescript)\n([\s\S]*?)^```/gm)) {
    const line = readme.slice(0, m.index).split("\n").length + 1;
    blocks.push({ index: blocks.length + 1, line, code: m[1] });
  }
  return blocks;
}

/** Names a package's types entry exports (`export { … }`, `export declare class X`, …). */
function exportedNames(dir, pkg) {
  const entry = manifests[pkg].exports["."];
  const dts = readFileSync(join(dir, "node_modules", "@x", pkg, entry.types), "utf8");
  const names = new Set();
  for (const m of dts.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g))
    for (const part of m[1].split(",")) {
      const name = part
        .trim()
        .replace(/^type\s+/, "")
        .split(/\s+as\s+/)
        .pop();
      if (name) names.add(name);
    }
  for (const m of dts.matchAll(
    /export\s+(?:declare\s+)?(?:abstract\s+)?(?:class|function|const|let|interface|type|enum)\s+([A-Za-z_$][\w$]*)/g,
  ))
    names.add(m[1]);
  return names;
}

/**
 * A block as a module. A block with an import or export is compiled exactly as written; any other
 * is a fragment of the README's story: it gets the imports of the README's earlier blocks and of
 * its package's exports, for the names it uses and does not declare (a `const`, `let`, `var`,
 * `function`, `class`, `interface`, `type` or `enum` of that name), plus `export {}`.
 */
function blockSource(block, earlierImports, pkgExports, pkg) {
  if (/^\s*(?:import|export)\s/m.test(block.code)) return { header: 0, source: block.code };
  const uses = (name) =>
    new RegExp(`(?<![\\w$.])${name.replace(/\$/g, "\\$")}(?![\\w$])`).test(block.code) &&
    !new RegExp(
      `(?:const|let|var|function|class|interface|type|enum)\\s+${name.replace(/\$/g, "\\$")}(?![\\w$])`,
    ).test(block.code);
  const imports = new Map(); // specifier → names
  for (const [spec, names] of earlierImports)
    for (const n of names)
      if (uses(n.split(/\s+as\s+/).pop())) imports.set(spec, [...(imports.get(spec) ?? []), n]);
  const taken = new Set([...imports.values()].flat().map((n) => n.split(/\s+as\s+/).pop()));
  for (const n of pkgExports)
    if (!taken.has(n) && uses(n)) imports.set(`@x/${pkg}`, [...(imports.get(`@x/${pkg}`) ?? []), n]);
  const header = [...imports].map(
    ([spec, names]) => `import { ${[...new Set(names)].join(", ")} } from "${spec}";`,
  );
  return { header: header.length, source: `${[...header, block.code].join("\n")}\nexport {};\n` };
}

// 6. README ```ts blocks type-check against the tarballs (see TYPE_PASSES).
if (want("readme-types"))
  await (async () => {
    const readmes = README_TYPES.map((r) => {
      const res = run("tar", ["-xzOf", tgz[r.pkg], "package/README.md"], work);
      return { ...r, blocks: res.ok ? tsBlocks(res.out) : [] };
    });
    // Third-party modules the blocks import, at the range their package's manifest gives.
    const extra = { typescript: "~5.9.0", "@types/node": "^20" };
    for (const r of readmes)
      for (const b of r.blocks)
        for (const m of b.code.matchAll(/from\s+"([^"]+)"/g)) {
          const spec = m[1];
          if (spec.startsWith("node:") || spec.startsWith("@x/") || spec.startsWith(".")) continue;
          const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
          const { dependencies = {}, peerDependencies = {} } = manifests[r.pkg];
          extra[name] = dependencies[name] ?? peerDependencies[name] ?? "latest";
        }
    let dir;
    try {
      dir = project(
        "readme-types",
        readmes.map((r) => r.pkg),
        extra,
      );
    } catch (err) {
      record("README types: install", false, err.message);
      return;
    }
    /** Each compiled file: its README, block, and where the block's lines start in it. */
    const files = [];
    for (const r of readmes) {
      if (r.blocks.length === 0) {
        record(`README types · @x/${r.pkg}`, false, "no ```ts block in the packed README");
        continue;
      }
      const pkgExports = exportedNames(dir, r.pkg);
      const earlierImports = new Map();
      for (const b of r.blocks) {
        const { header, source } = blockSource(b, earlierImports, pkgExports, r.pkg);
        const file = `readme-${r.pkg}-${b.index}.ts`;
        writeFileSync(join(dir, file), source);
        files.push({
          file,
          header,
          name: `@x/${r.pkg} README block ${b.index} (line ${b.line})`,
          line: b.line,
        });
        for (const v of r.variants ?? []) {
          if (v.block !== b.index) continue;
          const vfile = `readme-${r.pkg}-${b.index}-variant.ts`;
          const edited = source.replace(v.from, v.to);
          writeFileSync(join(dir, vfile), edited === source ? "MISSING_VARIANT_TEXT;\n" : edited);
          files.push({
            file: vfile,
            header,
            name: `@x/${r.pkg} README block ${b.index} ${v.name}`,
            line: b.line,
          });
        }
        for (const m of b.code.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
          const names = m[1]
            .split(",")
            .map((n) => n.trim())
            .filter(Boolean);
          earlierImports.set(m[2], [...(earlierImports.get(m[2]) ?? []), ...names]);
        }
      }
    }
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2023",
          lib: ["es2023", "esnext.disposable"],
          skipLibCheck: false,
          noEmit: true,
          types: ["node"],
        },
        files: files.map((f) => f.file),
      }),
    );
    for (const [n, pass] of TYPE_PASSES.entries()) {
      if (pass.when && !pass.when(extra)) continue;
      if (pass.install.length > 0) {
        const res = run(
          "npm",
          ["install", "-D", "--no-audit", "--no-fund", "--loglevel=error", ...pass.install],
          dir,
        );
        if (!res.ok) {
          record(`README types · ${pass.label}: install`, false, tail(res.out));
          continue;
        }
      }
      const installed = (name) =>
        JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8")).version;
      const label = `@types/node ${installed("@types/node")}${"undici" in extra ? `, undici ${installed("undici")}` : ""}`;
      const res = run(
        process.execPath,
        [join(dir, "node_modules", "typescript", "bin", "tsc"), "-p", ".", "--pretty", "false"],
        dir,
      );
      writeFileSync(join(dir, `tsc-pass-${n + 1}.txt`), res.out);
      // tsc's diagnostics: `file(line,col): error TSnnnn: headline`, then indented elaboration lines.
      // A line shows the headline, the innermost property elaboration and the innermost one (all of it
      // in tsc-pass-N.txt, kept with --keep).
      const diagnostics = [];
      for (const line of res.out.split("\n")) {
        const m = /^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/.exec(line);
        if (m) diagnostics.push({ file: m[1], line: Number(m[2]), code: m[3], text: m[4], chain: [] });
        else if (diagnostics.length > 0 && /^\s/.test(line)) diagnostics.at(-1).chain.push(line.trim());
        else if (line.trim()) diagnostics.push({ file: "", line: 0, code: "", text: line.trim(), chain: [] });
      }
      const summary = (d) => {
        const property = d.chain.findLast((l) => /^Types of property|^The types returned by/.test(l));
        const innermost = d.chain.at(-1);
        const why = [...new Set([property, innermost].filter(Boolean))].map((l) => ` … ${l}`).join("");
        return `${d.code} ${d.text}${why}`.replaceAll(`${join(dir, "node_modules")}/`, "");
      };
      for (const f of files) {
        const mine = diagnostics.filter((d) => d.file === f.file);
        const at = (d) =>
          d.line > f.header
            ? `README line ${f.line + d.line - 1 - f.header}`
            : "an import this harness added";
        const detail = mine.map((d) => `${at(d)}: ${summary(d)}`).join(" | ");
        record(`README types · ${f.name} · ${label}`, mine.length === 0, detail);
      }
      const elsewhere = diagnostics.filter((d) => !files.some((f) => f.file === d.file));
      if (elsewhere.length > 0 || (!res.ok && diagnostics.length === 0))
        record(
          `README types · declaration files · ${label}`,
          false,
          elsewhere.map((d) => (d.file ? `${d.file}(${d.line}): ${summary(d)}` : d.text)).join(" | ") ||
            tail(res.out),
        );
    }
  })();

if (!keep) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
const failed = results.filter((r) => !r.ok).length;
console.log(`packed: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
