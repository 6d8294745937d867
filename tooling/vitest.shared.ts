import type { ViteUserConfig as UserConfig } from "vitest/config";

/**
 * The one vitest configuration every package's tests run under.
 *
 * The `@x/source` export condition makes a package's tests (and its siblings) load
 * `src/index.ts` straight from the workspace, so nothing needs to be built before testing.
 */
export const sourceConditions = ["@x/source", "module", "node", "development|production"];

export function packageTestConfig(name: string, root: string): UserConfig {
  return {
    root,
    resolve: { conditions: sourceConditions },
    ssr: { resolve: { conditions: sourceConditions, externalConditions: ["@x/source"] } },
    test: {
      name,
      root,
      include: ["test/**/*.test.ts"],
      environment: "node",
      testTimeout: 20_000,
      hookTimeout: 20_000,
      pool: "forks",
      // Loopback servers bound to port 0 never collide, so files may run in parallel;
      // tests inside one file stay sequential to keep socket counts exact.
      sequence: { concurrent: false },
    },
  };
}
