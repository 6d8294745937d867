import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { TCPConnector, UnixConnector } from "../src/index.js";
import { testConnector } from "../src/testing/index.js";

testConnector("TCPConnector", async (server, options) => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { connector: new TCPConnector(options), url: `http://127.0.0.1:${port}` };
});

const dir = mkdtempSync(join(tmpdir(), "x-unix-conformance-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

testConnector("UnixConnector", async (server, options) => {
  const path = join(dir, `s${n++}.sock`);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { connector: new UnixConnector(path, options), url: "http://localhost" };
});
