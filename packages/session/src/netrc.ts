import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Credentials for one machine in a `.netrc` file. */
export interface NetrcEntry {
  readonly login: string;
  readonly password: string;
}

/**
 * Reads the `.netrc` file named by `$NETRC` (when set at all, even empty, as aiohttp does), or
 * `$HOME/.netrc`, and returns the entry for `host`, falling back to `default`. It is read as aiohttp
 * reads it with Python's `netrc` module: quoted tokens and backslash escapes, `#` comments, `user`
 * for `login`, `account` standing in for a missing login, macros skipped up to their blank line. A
 * missing or unreadable file, or one Python's parser refuses, gives `undefined` (no credentials).
 */
export function netrcFor(host: string, env: NodeJS.ProcessEnv = process.env): NetrcEntry | undefined {
  // The home directory as Python's expanduser finds it for aiohttp: $HOME first.
  const path = env.NETRC ?? join(env.HOME || env.USERPROFILE || homedir(), ".netrc");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const hosts = parseNetrc(text);
  const entry = hosts?.get(host) ?? hosts?.get("default");
  return entry && { login: entry.login || entry.account, password: entry.password };
}

interface Entry {
  login: string;
  account: string;
  password: string;
}

/** The entries by machine name (`default` under its own name), or undefined for a refused file. */
function parseNetrc(text: string): Map<string, Entry> | undefined {
  // Python reads the file in text mode, where \r\n and \r are line ends.
  const lex = new NetrcLexer(text.replace(/\r\n?/g, "\n"));
  const hosts = new Map<string, Entry>();
  for (;;) {
    const lineBefore = lex.line;
    const top = lex.token();
    if (top === "") return hosts;
    if (top.startsWith("#")) {
      // A lone `#` comments out the rest of its line; `#word` is skipped alone.
      if (top === "#" && lex.line === lineBefore) lex.restOfLine();
      continue;
    }
    let name: string;
    if (top === "machine") name = lex.token();
    else if (top === "default") name = "default";
    else if (top === "macdef") {
      lex.token();
      // A macro's lines run to an empty line; a file that ends inside one is refused.
      for (let line = lex.restOfLine(); line !== "\n"; line = lex.restOfLine()) {
        if (line === "") return undefined;
      }
      continue;
    } else return undefined;
    if (name === "") return undefined;
    const entry: Entry = { login: "", account: "", password: "" };
    for (;;) {
      const lineBefore = lex.line;
      const t = lex.token();
      if (t.startsWith("#")) {
        if (lex.line === lineBefore) lex.restOfLine();
      } else if (t === "login" || t === "user") entry.login = lex.token();
      else if (t === "account") entry.account = lex.token();
      else if (t === "password") entry.password = lex.token();
      else {
        // The entry ends here: the top level takes the next entry, or refuses anything else.
        lex.pushBack(t);
        break;
      }
    }
    hosts.set(name, entry);
  }
}

const WHITESPACE = new Set(["\n", "\t", "\r", " "]);

/**
 * Python netrc's tokens: whitespace-separated, or double-quoted; a backslash takes the next
 * character as it is. `line` counts the newlines the tokens consumed; `restOfLine()` skips ahead
 * without counting, as Python's lexer does when it reads the stream directly.
 */
class NetrcLexer {
  line = 1;
  #at = 0;
  #pushed: string | undefined;
  constructor(readonly text: string) {}

  #next(): string {
    const ch = this.text.charAt(this.#at++);
    if (ch === "\n") this.line++;
    return ch;
  }

  token(): string {
    const pushed = this.#pushed;
    if (pushed !== undefined) {
      this.#pushed = undefined;
      return pushed;
    }
    let ch = this.#next();
    while (WHITESPACE.has(ch)) ch = this.#next();
    let token = "";
    if (ch === '"') {
      for (ch = this.#next(); ch !== "" && ch !== '"'; ch = this.#next())
        token += ch === "\\" ? this.#next() : ch;
      return token;
    }
    for (; ch !== "" && !WHITESPACE.has(ch); ch = this.#next()) token += ch === "\\" ? this.#next() : ch;
    return token;
  }

  pushBack(token: string): void {
    this.#pushed = token;
  }

  /** The rest of the current line with its newline ("" at the end of the file). */
  restOfLine(): string {
    const end = this.text.indexOf("\n", this.#at);
    const stop = end < 0 ? this.text.length : end + 1;
    const rest = this.text.slice(this.#at, stop);
    this.#at = stop;
    return rest;
  }
}
