import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

// The conformance suite is only worth something if it fails broken jars. broken/broken.jars.ts
// runs it against jars broken one way each; this test runs that file in its own vitest and reads
// which checks failed.

it("testCookieJar fails each broken jar exactly where it is broken", () => {
  const root = fileURLToPath(new URL("../../..", import.meta.url));
  const out = mkdtempSync(join(tmpdir(), "x-cookies-broken-"));
  try {
    const run = spawnSync(
      process.execPath,
      [
        join(root, "node_modules", "vitest", "vitest.mjs"),
        "run",
        "--config",
        join(root, "packages", "cookies", "test", "broken", "vitest.broken.config.ts"),
        "--reporter=json",
        `--outputFile=${join(out, "report.json")}`,
      ],
      { cwd: root, encoding: "utf8", timeout: 120_000 },
    );
    expect(run.status).toBe(1);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as {
      testResults: { assertionResults: { ancestorTitles: string[]; title: string; status: string }[] }[];
    };
    const failed = new Map<string, string[]>();
    let passed = 0;
    for (const file of report.testResults)
      for (const t of file.assertionResults) {
        if (t.status === "passed") passed++;
        if (t.status !== "failed") continue;
        const jar = (t.ancestorTitles.find((a) => a.startsWith("cookie jar conformance: ")) ?? "").slice(24);
        failed.set(jar, [...(failed.get(jar) ?? []), t.title].sort());
      }
    expect(Object.fromEntries(failed)).toEqual({
      "ignores expiry": [
        "a cookie that expires while stored is no longer sent, counted or listed",
        "drops expired cookies and lets Max-Age win over Expires",
        "removes a cookie when the server sets it again already expired (a logout)",
      ],
      "drops Secure": [
        "does not let an http response overwrite or delete a Secure cookie",
        "refuses a Secure cookie from an insecure origin",
        "sends Secure cookies only over https and wss",
      ],
      "sends every cookie everywhere": ["does not send a host's cookies to another host"],
      "keeps nothing but claims to": [
        "clear() removes everything, clear(predicate) what it selects",
        "clearDomain removes a domain and its subdomains, nothing else",
        "ignores Set-Cookie values that are not cookies",
        "iteration (sync or async) yields every stored cookie as a record",
        "replaces a cookie set again under the same name",
        "size counts what it stores",
        "stores Set-Cookie values and sends the cookies back to the same host",
        "takes records and [name, value] pairs through toSetCookieHeaders",
      ],
      "keeps cookies but claims not to": [
        "accepts Set-Cookie values, records and shared cookies, and sends none back",
      ],
    });
    expect(passed).toBeGreaterThan(40);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 120_000);
