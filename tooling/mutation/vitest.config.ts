import { defineConfig } from "vitest/config";
import { packageTestConfig } from "../vitest.shared.ts";

// The vitest configuration StrykerJS runs a package's tests with: that package's project only
// (`X_MUTATION_PACKAGE`, the package folder relative to the repository root).
// biome-ignore lint/suspicious/noUndeclaredEnvVars: set by tooling/scripts/mutation.mjs, never by turbo.
const folder = process.env.X_MUTATION_PACKAGE;
if (!folder) throw new Error("X_MUTATION_PACKAGE is not set (run `pnpm mutation <package folder>`)");
const root = new URL(`../../${folder}`, import.meta.url).pathname;

const config = packageTestConfig(folder.split("/").pop() ?? folder, root);
// Left out of mutation runs: tests against Debian's daemons (nginx, httpbin — started afresh for
// every mutant they cover, seconds each) and the process-exit tests (a child Node per case). They
// pin interoperability and process lifetime, which the loopback tests also reach; a mutant only
// they would kill counts as a survivor, so leaving them out can only lower the score.
config.test = {
  ...config.test,
  exclude: ["**/node_modules/**", "test/interop-*.test.ts", "test/process-exit.test.ts"],
};

// vitest needs a default export; this file is one of the two exceptions to the lint rule.
export default defineConfig(config);
