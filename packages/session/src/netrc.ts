import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Credentials for one machine in a `.netrc` file. */
export interface NetrcEntry {
  readonly login: string;
  readonly password: string;
}

/**
 * Reads the `.netrc` file named by `$NETRC`, or `$HOME/.netrc`, and returns the entry for `host`
 * (falling back to `default`). Missing or unreadable files give `undefined`.
 */
export function netrcFor(host: string, env: NodeJS.ProcessEnv = process.env): NetrcEntry | undefined {
  // The home directory as Python's expanduser finds it for aiohttp: $HOME first.
  const path = env.NETRC || join(env.HOME || env.USERPROFILE || homedir(), ".netrc");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const tokens = text
    .replace(/^\s*#.*$/gm, "")
    .split(/\s+/)
    .filter(Boolean);
  let current: string | undefined;
  const entries = new Map<string, { login: string; password: string }>();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t === "machine") {
      current = tokens[++i];
      if (current !== undefined) entries.set(current, { login: "", password: "" });
    } else if (t === "default") {
      current = "\0default";
      entries.set(current, { login: "", password: "" });
    } else if ((t === "login" || t === "password") && current !== undefined) {
      const entry = entries.get(current);
      const value = tokens[++i] ?? "";
      if (entry) entry[t] = value;
    } else if (t === "macdef") {
      // A macro runs to the next blank line; tokens split on whitespace lose that, so stop here.
      break;
    }
  }
  return entries.get(host) ?? entries.get("\0default");
}
