import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GuideServer, startGuideServer } from "./guide-server.js";

// The migration guides in docs/ promise code that works: every ```ts block of each guide is
// written to a module of its own and run with tsx in a child process, against one local server
// (the guides say http://127.0.0.1:8080; that origin is replaced with the server's). A block must
// be self-contained, finish on its own and exit 0; where a line ends with `// → text`, `text`
// must appear in what it printed, in that order. The blocks also type-check together under
// `tsc --strict`, as a reader's project would compile them. ```js and ```python blocks are prose,
// not run.

const here = fileURLToPath(new URL(".", import.meta.url));
const pkgDir = join(here, "..");
const docsDir = join(here, "..", "..", "..", "docs");
const GUIDES = ["from-aiohttp.md", "from-axios-got.md"];
const ORIGIN = "127.0.0.1:8080";
/** Where nothing listens (the discard port): blocks that show a refused connection use it. */
const REFUSED = "127.0.0.1:9";

interface Block {
  /** The line of the guide the code starts on. */
  line: number;
  code: string;
}

/** Every ```ts block of a Markdown file. */
function tsBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  for (const m of markdown.matchAll(/^```(?:ts|typescript)\n([\s\S]*?)^```/gm)) {
    blocks.push({ line: markdown.slice(0, m.index).split("\n").length + 1, code: m[1] ?? "" });
  }
  return blocks;
}

/** The `// → text` expectations of a block, in order. */
function expectedOutput(code: string): string[] {
  return [...code.matchAll(/\/\/ → (.+)$/gm)].map((m) => (m[1] ?? "").trim());
}

function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: pkgDir, env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 25_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

let server: GuideServer;
// In the package's node_modules: the blocks' imports resolve to the workspace packages, and
// neither git nor the linter looks there if a run is cut short.
const tmp = mkdtempSync(join(pkgDir, "node_modules", ".guide-blocks-"));
writeFileSync(join(tmp, "package.json"), '{ "type": "module" }\n');

beforeAll(async () => {
  server = await startGuideServer();
});
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const guides = GUIDES.map((guide) => ({
  guide,
  blocks: tsBlocks(readFileSync(join(docsDir, guide), "utf8")),
}));

it("every block of the guides type-checks (tsc --strict, Node's types)", { timeout: 60_000 }, async () => {
  const dir = join(tmp, "types");
  mkdirSync(dir);
  for (const { guide, blocks } of guides)
    for (const [i, b] of blocks.entries())
      writeFileSync(join(dir, `${guide.replace(/\.md$/, "")}-${i + 1}.ts`), b.code);
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2023",
        lib: ["es2023", "esnext.disposable"],
        types: ["node"],
        customConditions: ["@x/source"],
        skipLibCheck: true,
        noEmit: true,
      },
      include: ["*.ts"],
    }),
  );
  const tsc = join(pkgDir, "..", "..", "node_modules", "typescript", "bin", "tsc");
  const { status, stdout, stderr } = await run([tsc, "-p", dir, "--pretty", "false"]);
  expect(`${stdout}${stderr}`).toBe("");
  expect(status).toBe(0);
});

for (const { guide, blocks } of guides) {
  describe(`docs/${guide}`, () => {
    it("has runnable blocks, each talking only to the guide server", () => {
      expect(blocks.length).toBeGreaterThan(5);
      for (const b of blocks) {
        const hosts = [...b.code.matchAll(/\b(?:https?|wss?):\/\/(?:[^/\s"'`@]*@)?([^/\s"'`]+)/g)].map(
          (m) => m[1],
        );
        expect(
          hosts.filter((h) => h !== ORIGIN && h !== REFUSED),
          `block at line ${b.line}`,
        ).toEqual([]);
        expect(b.code, `block at line ${b.line} imports what it uses`).toMatch(/^import /m);
      }
    });

    for (const [i, block] of blocks.entries()) {
      it(`block ${i + 1} (line ${block.line}) runs`, { timeout: 30_000 }, async () => {
        const host = server.origin.slice("http://".length);
        const file = join(tmp, `${guide.replace(/\.md$/, "")}-${i + 1}.ts`);
        writeFileSync(file, block.code.replaceAll(ORIGIN, host));
        const { status, stdout, stderr } = await run(["--import", "tsx", "--conditions=@x/source", file]);
        const report = `docs/${guide} line ${block.line}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
        expect(status, report).toBe(0);
        expect(stderr, report).toBe("");
        let from = 0;
        for (const text of expectedOutput(block.code).map((t) => t.replaceAll(ORIGIN, host))) {
          const at = stdout.indexOf(text, from);
          expect(at, `${report}\n--- expected, in order: ${text}`).toBeGreaterThanOrEqual(0);
          from = at + text.length;
        }
      });
    }
  });
}
