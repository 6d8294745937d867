import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHttpServer } from "@x/fixtures";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";
import { NETRC_CASES } from "./netrc-cases.js";

// .netrc with trustEnv: which file, which entry, and how it is read (as aiohttp reads it, with
// Python's netrc module: quoting, comments, `default`, `macdef`, files it refuses).
const dir = mkdtempSync(join(tmpdir(), "x-netrc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const saved = { NETRC: process.env.NETRC, HOME: process.env.HOME };
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
/** Answers with the request's Authorization header, or nothing. */
const sendsBack = (req: { headers: { authorization?: string } }, res: { end(text: string): void }) =>
  res.end(req.headers.authorization ?? "");
let n = 0;
function netrcFile(text: string): string {
  const path = join(dir, `netrc-${n++}`);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

describe(".netrc", () => {
  it.each(NETRC_CASES)("%s", async (_what, text, expected) => {
    await using srv = await startHttpServer(sendsBack);
    process.env.NETRC = netrcFile(text);
    await using session = new ClientSession({ trustEnv: true });
    const sent = await (await session.get(srv.url("/"))).text();
    expect(sent).toBe(expected ? basic(...expected) : "");
  });

  it("reads $NETRC, else ~/.netrc; a missing file means no credentials; never without trustEnv", async () => {
    await using srv = await startHttpServer(sendsBack);
    const home = mkdtempSync(join(dir, "home-"));
    writeFileSync(join(home, ".netrc"), "machine 127.0.0.1 login home password pw\n", { mode: 0o600 });
    process.env.HOME = home;
    const sent = async (trustEnv: boolean) => {
      await using session = new ClientSession({ trustEnv });
      return (await session.get(srv.url("/"))).text();
    };
    // NETRC set, even empty, names the file (aiohttp: an empty path is the current directory,
    // which cannot be read as a file, so no credentials).
    process.env.NETRC = "";
    expect(await sent(true)).toBe("");
    delete process.env.NETRC;
    expect(await sent(true)).toBe(basic("home", "pw"));
    expect(await sent(false)).toBe("");
    process.env.NETRC = join(dir, "no-such-file");
    expect(await sent(true)).toBe("");
  });
});
