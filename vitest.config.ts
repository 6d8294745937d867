import { existsSync, readdirSync } from "node:fs";
import { defineConfig } from "vitest/config";
import { packageTestConfig } from "./tooling/vitest.shared.ts";

const roots = ["packages", "tooling", "examples"].flatMap((dir) =>
  readdirSync(dir, { withFileTypes: true })
    .filter(
      (d) =>
        d.isDirectory() && existsSync(`${dir}/${d.name}/package.json`) && existsSync(`${dir}/${d.name}/test`),
    )
    .map((d) => `${dir}/${d.name}`),
);

// vitest needs a default export; this file is the one exception to the lint rule.
export default defineConfig({
  test: {
    projects: roots.map((root) => {
      const cfg = packageTestConfig(root.split("/")[1] ?? root, `${import.meta.dirname}/${root}`);
      return { ...cfg, extends: false };
    }),
  },
});
