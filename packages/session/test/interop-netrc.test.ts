import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEBIAN_PYTHON } from "@x/fixtures";
import { afterAll, describe, expect, it } from "vitest";
import { NETRC_CASES } from "./netrc-cases.js";

// The .netrc table of netrc.test.ts, checked against Python's own netrc module (Debian's Python,
// the one aiohttp runs on), with aiohttp's rule for the user name: the login, else the account.
const dir = mkdtempSync(join(tmpdir(), "x-netrc-py-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const script = `
import json, netrc, sys
out = []
for path in sys.argv[1:]:
    try:
        found = netrc.netrc(path).authenticators("127.0.0.1")
    except netrc.NetrcParseError:
        found = None
    if found is None:
        out.append(None)
    else:
        login, account, password = found
        out.append([login if (login or account is None) else account, password or ""])
print(json.dumps(out))
`;

describe(".netrc as Python reads it", () => {
  it("gives aiohttp's answer for every file of the table", () => {
    const paths = NETRC_CASES.map(([, text], i) => {
      const path = join(dir, `netrc-${i}`);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    });
    const run = spawnSync(DEBIAN_PYTHON, ["-c", script, ...paths], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    const answers = JSON.parse(run.stdout) as unknown[];
    expect(NETRC_CASES.map(([what], i) => [what, answers[i]])).toEqual(
      NETRC_CASES.map(([what, , expected]) => [what, expected]),
    );
  });
});
