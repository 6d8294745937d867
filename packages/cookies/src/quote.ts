const LEGAL = /^[A-Za-z0-9!#$%&'*+\-.^_`|~:]*$/;

/**
 * Quotes a cookie value the way Python's `http.cookies` (and so aiohttp) does when it holds
 * characters outside the legal set: wrapped in double quotes, `"` and `\` escaped, `,`, `;` and
 * non-printable characters as octal escapes. Values already in quotes are left alone.
 */
export function quoteCookieValue(value: string): string {
  if (LEGAL.test(value)) return value;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return value;
  let out = '"';
  for (const ch of value) {
    const code = ch.charCodeAt(0);
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "," || ch === ";" || code < 32 || code >= 127) {
      if (code > 0xff) out += ch;
      else out += `\\${code.toString(8).padStart(3, "0")}`;
    } else out += ch;
  }
  return `${out}"`;
}
