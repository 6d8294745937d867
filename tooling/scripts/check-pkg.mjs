#!/usr/bin/env node
// Packaging test for the package in the current directory: what would be published must be
// lint-free (publint --strict) and its types must resolve for ESM consumers (attw --pack).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const bin = (name) => fileURLToPath(new URL(`../../node_modules/.bin/${name}`, import.meta.url));
const run = (cmd, args) =>
  execFileSync(cmd, args, { stdio: "inherit", env: { ...process.env, NO_COLOR: "1" } });

run(bin("publint"), ["--strict"]);
run(bin("attw"), ["--pack", ".", "--profile", "esm-only", "--format", "ascii"]);
