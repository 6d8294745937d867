import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHttpServer } from "@x/fixtures";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

// .netrc with trustEnv: which file, which entry, and what the parser skips (aiohttp reads it
// with Python's netrc module: comments, `default`, `macdef`).
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
  it.each<[string, string, string | null]>([
    ["an entry for the host", "machine 127.0.0.1 login ada password pw1\n", basic("ada", "pw1")],
    [
      "tokens split over lines, other machines around",
      "machine other.test login o password p\nmachine 127.0.0.1\n  login ada\n  password pw2\nmachine x.test login x password y\n",
      basic("ada", "pw2"),
    ],
    [
      "a commented-out entry skipped",
      "machine 127.0.0.1 login ada password pw3\n# machine 127.0.0.1 login commented password no\n  # machine 127.0.0.1 login indented password no\n",
      basic("ada", "pw3"),
    ],
    ["a login alone (empty password)", "machine 127.0.0.1 login solo\n", basic("solo", "")],
    ["default with a password alone", "default password dpw\n", basic("", "dpw")],
    ["default with a login alone", "default login dee\n", basic("dee", "")],
    [
      "default, when no machine matches",
      "machine other.test login o password p\ndefault login dee password pw4\n",
      basic("dee", "pw4"),
    ],
    [
      "the machine over default, wherever default stands",
      "default login dee password no\nmachine 127.0.0.1 login ada password pw5\n",
      basic("ada", "pw5"),
    ],
    [
      "nothing after a macdef",
      "machine 127.0.0.1 login ada password pw6\nmacdef init\ncd /\nmachine 127.0.0.1 login evil password no\n",
      basic("ada", "pw6"),
    ],
    [
      "login and password before any machine ignored",
      "login stray password no\nmachine 127.0.0.1 login ada password pw7\n",
      basic("ada", "pw7"),
    ],
    ["a password alone (empty login)", "machine 127.0.0.1 password pw8\n", basic("", "pw8")],
    [
      "a login with its password missing at the end",
      "machine 127.0.0.1 password pw9 login\n",
      basic("", "pw9"),
    ],
    ["no entry for the host", "machine other.test login o password p\n", null],
    ["a machine with no name", "machine", null],
  ])("%s", async (_what, text, expected) => {
    await using srv = await startHttpServer(sendsBack);
    process.env.NETRC = netrcFile(text);
    await using session = new ClientSession({ trustEnv: true });
    const sent = await (await session.get(srv.url("/"))).text();
    expect(sent).toBe(expected ?? "");
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
    process.env.NETRC = "";
    expect(await sent(true)).toBe(basic("home", "pw"));
    delete process.env.NETRC;
    expect(await sent(true)).toBe(basic("home", "pw"));
    expect(await sent(false)).toBe("");
    process.env.NETRC = join(dir, "no-such-file");
    expect(await sent(true)).toBe("");
  });
});
