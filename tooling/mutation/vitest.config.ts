import { defineConfig } from "vitest/config";
import { packageTestConfig } from "../vitest.shared.ts";

// The vitest configuration StrykerJS runs a package's tests with: that package's project only
// (`X_MUTATION_PACKAGE`, the package folder relative to the repository root).
// biome-ignore lint/suspicious/noUndeclaredEnvVars: set by tooling/scripts/mutation.mjs, never by turbo.
const folder = process.env.X_MUTATION_PACKAGE;
if (!folder) throw new Error("X_MUTATION_PACKAGE is not set (run `pnpm mutation <package folder>`)");
const root = new URL(`../../${folder}`, import.meta.url).pathname;

// vitest needs a default export; this file is one of the two exceptions to the lint rule.
export default defineConfig(packageTestConfig(folder.split("/").pop() ?? folder, root));
