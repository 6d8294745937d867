import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The README is the reference: its first example and every block marked "Runs as is" must run
// (tooling/scripts/packed.mjs runs the same blocks again from the packed tarball).

const pkg = fileURLToPath(new URL("..", import.meta.url));
// tsx comes from the workspace root; the examples run with a temporary directory as cwd.
const tsx = pathToFileURL(join(pkg, "..", "..", "node_modules", "tsx", "dist", "loader.mjs")).href;
const blocks = [...readFileSync(join(pkg, "README.md"), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map(
  (m) => m[1] ?? "",
);
const runnable = [blocks[0] ?? "", ...blocks.slice(1).filter((b) => b.startsWith("// Runs as is"))];
const cwd = mkdtempSync(join(tmpdir(), "x-cookies-readme-"));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe("README examples", () => {
  it("has the intro example and the async jar", () => {
    expect(runnable).toHaveLength(2);
  });

  it.each(runnable.map((code, i) => [i, code] as const))("example %i runs", (i, code) => {
    // Inside the package, so that `@x/cookies` resolves to this package's source.
    const file = join(pkg, `.readme-example-${i}.ts`);
    writeFileSync(file, code);
    try {
      const run = spawnSync(process.execPath, ["--import", tsx, "--conditions=@x/source", file], {
        cwd,
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(i === 0 ? /^sid=abc; theme=dark$/m : /forgets it at logout/);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
