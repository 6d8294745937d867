import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Runs broken.jars.ts alone, for suite-catches.test.ts, with the workspace's source conditions.
// vitest needs a default export.
const conditions = ["@x/source", "module", "node", "development|production"];
export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["@x/source"] } },
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/broken/broken.jars.ts"],
    environment: "node",
    pool: "forks",
    testTimeout: 20_000,
  },
});
