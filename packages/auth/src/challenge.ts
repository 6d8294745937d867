/** One challenge of a `WWW-Authenticate` header: the scheme and its parameters (names lower-cased). */
export interface ParsedChallenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;

/**
 * Parses `WWW-Authenticate` values (RFC 9110 §11.6.1): several challenges per header, quoted
 * strings with escapes, token68 forms. Malformed parts end the parse; what came before is kept.
 */
export function parseChallenges(values: Iterable<string>): ParsedChallenge[] {
  const out: ParsedChallenge[] = [];
  for (const text of values) {
    let i = 0;
    const skip = () => {
      while (text[i] === " " || text[i] === "\t" || text[i] === ",") i++;
    };
    const token = (): string | undefined => {
      TOKEN.lastIndex = i;
      const m = TOKEN.exec(text);
      if (!m) return undefined;
      i = TOKEN.lastIndex;
      return m[0];
    };
    /** A quoted-string starting at the `"` under `i`; `undefined` when it never ends. */
    const quoted = (): string | undefined => {
      let value = "";
      for (;;) {
        const ch = text.charAt(++i);
        if (ch === "") return undefined;
        if (ch === '"') {
          i++;
          return value;
        }
        value += ch === "\\" ? text.charAt(++i) : ch;
      }
    };
    for (;;) {
      skip();
      const scheme = token();
      if (!scheme) break;
      const params: Record<string, string> = Object.create(null);
      for (;;) {
        const mark = i;
        while (text[i] === " " || text[i] === "\t") i++;
        if (text[i] === ",") {
          i++;
          while (text[i] === " " || text[i] === "\t" || text[i] === ",") i++;
        }
        const name = token();
        if (!name) {
          i = mark;
          break;
        }
        while (text[i] === " " || text[i] === "\t") i++;
        if (text[i] !== "=") {
          // The next challenge's scheme.
          i = mark;
          break;
        }
        i++;
        while (text[i] === " " || text[i] === "\t") i++;
        const value = text[i] === '"' ? quoted() : token();
        if (value === undefined) {
          i = text.length;
          break;
        }
        params[name.toLowerCase()] = value;
      }
      out.push({ scheme: scheme.toLowerCase(), params });
    }
  }
  return out;
}
