import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

// `pnpm start` must work on a fresh clone: run the tour as a newcomer would and check it walks
// through every stop.
it("the tour runs from start to finish", () => {
  const cwd = fileURLToPath(new URL("..", import.meta.url));
  const run = spawnSync(process.execPath, ["--import", "tsx", "--conditions=@x/source", "src/tour.ts"], {
    cwd,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  for (const stop of [
    "GET with params",
    "POST json",
    "the server now sees: { cookie: 'session=abc123; theme=dark' }",
    "landed on /final after 301 /old → 302 /moved",
    "with BasicAuth: 200",
    "100 %  4096 KiB",
    "ClientResponseError: status 503",
    "ClientConnectorError: 127.0.0.1:9 ECONNREFUSED",
    'sent "hello", got "HELLO"',
    "server closed with 1000 (see you)",
    "20 more requests opened 0 new connection(s)",
    "done.",
  ]) {
    expect(run.stdout).toContain(stop);
  }
});
