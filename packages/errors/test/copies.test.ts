import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as here from "../src/index.js";

// A second installed copy of the package: the same sources at another path, so every class
// object is different and only the Symbol.for brands are shared.
const dir = mkdtempSync(join(tmpdir(), "x-errors-copy-"));
cpSync(new URL("../src", import.meta.url), join(dir, "src"), { recursive: true });
const other = (await import(join(dir, "src", "index.ts"))) as typeof here;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("two installed copies", () => {
  it("have distinct class objects", () => {
    expect(other.ClientError).not.toBe(here.ClientError);
  });

  it("agree on instanceof in both directions", () => {
    const theirs = new other.ClientConnectorDNSError({ host: "h", port: 1 });
    expect(theirs instanceof here.ClientConnectorDNSError).toBe(true);
    expect(theirs instanceof here.ClientConnectorError).toBe(true);
    expect(theirs instanceof here.ClientError).toBe(true);
    expect(theirs instanceof here.ClientSSLError).toBe(false);
    const ours = new here.SocketTimeoutError();
    expect(ours instanceof other.ServerTimeoutError).toBe(true);
    expect(ours instanceof other.ConnectionTimeoutError).toBe(false);
  });

  it("agree on traits", () => {
    expect(new other.TotalTimeoutError(1) instanceof here.TimeoutError).toBe(true);
    expect(new other.InvalidURL("x") instanceof here.ValueError).toBe(true);
    expect(new here.ClientOSError("x") instanceof other.OSError).toBe(true);
  });
});
