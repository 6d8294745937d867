import { InvalidArgumentError } from "@x/errors";
import type { CookieAttributes, CookieInput } from "./abstract-cookie-jar.js";

/** Characters a cookie name may not contain (RFC 6265 token). */
const BAD_NAME = /[\x00-\x20\x7f()<>@,;:\\"/[\]?={}\u0100-\uffff]/;
/** Characters a cookie value may not contain: controls, `;`, and anything a header cannot carry. */
const BAD_VALUE = /[\x00-\x1f\x7f;\u0100-\uffff]/;
/** Characters a Domain or Path attribute may not contain: they would end or break the attribute. */
const BAD_ATTRIBUTE = /[\x00-\x1f\x7f;,\s\u0100-\uffff]/;
const SAME_SITE = new Map([
  ["strict", "Strict"],
  ["lax", "Lax"],
  ["none", "None"],
]);

/**
 * Turns what users give as cookies — a record of name → value or attributes, `[name, value]`
 * pairs, one `Set-Cookie` value or many — into `Set-Cookie` header values, the one shape a jar's
 * `updateCookiesFromHeaders` takes. `Set-Cookie` strings pass through unchanged (a jar ignores the
 * malformed ones); records and pairs are checked first, all of them before any is returned.
 * A value with leading or trailing spaces is wrapped in double quotes, which a header would
 * otherwise drop. `expires` keeps whole seconds.
 *
 * @example
 * await jar.updateCookiesFromHeaders(toSetCookieHeaders({ token: "t", theme: { value: "dark", path: "/app" } }));
 * @throws {InvalidArgumentError} for input of another shape, an invalid name, a non-string value,
 * a control character, `;` or a character above U+00FF in a value, or a bad attribute.
 */
export function toSetCookieHeaders(cookies: CookieInput): string[] {
  if (typeof cookies === "string") return [cookies];
  if (typeof cookies !== "object" || cookies === null) {
    throw new InvalidArgumentError(
      `cookies must be a record, [name, value] pairs or Set-Cookie strings, got ${cookies === null ? "null" : typeof cookies}`,
    );
  }
  const entries: Iterable<unknown> =
    Symbol.iterator in cookies
      ? (cookies as Iterable<unknown>)
      : Object.entries(cookies as Record<string, string | CookieAttributes>);
  const out: string[] = [];
  for (const entry of entries) {
    if (typeof entry === "string") out.push(entry);
    else if (Array.isArray(entry) && entry.length === 2 && typeof entry[0] === "string") {
      out.push(fromAttributes(entry[0], entry[1] as string | CookieAttributes));
    } else {
      throw new InvalidArgumentError("cookies must be a record, [name, value] pairs or Set-Cookie strings");
    }
  }
  return out;
}

function fromAttributes(name: string, given: string | CookieAttributes): string {
  const attrs: CookieAttributes = typeof given === "string" ? { value: given } : given;
  if (typeof attrs?.value !== "string") {
    throw new InvalidArgumentError(`cookie ${JSON.stringify(name)} needs a string value`);
  }
  if (name === "" || BAD_NAME.test(name)) {
    throw new InvalidArgumentError(`invalid cookie name ${JSON.stringify(name)}`);
  }
  if (BAD_VALUE.test(attrs.value)) {
    throw new InvalidArgumentError(
      `cookie ${JSON.stringify(name)} has a control character or ';' in its value`,
    );
  }
  const bad = (what: string, expected: string) =>
    new InvalidArgumentError(`cookie ${JSON.stringify(name)}: ${what} must be ${expected}`);
  const value = /^\s|\s$/.test(attrs.value) ? `"${attrs.value}"` : attrs.value;
  let header = `${name}=${value}`;
  if (attrs.domain !== undefined && attrs.domain !== "") {
    if (typeof attrs.domain !== "string" || BAD_ATTRIBUTE.test(attrs.domain))
      throw bad("domain", "a domain name");
    header += `; Domain=${attrs.domain}`;
  }
  if (attrs.path !== undefined && attrs.path !== "") {
    if (typeof attrs.path !== "string" || BAD_ATTRIBUTE.test(attrs.path)) throw bad("path", "a URL path");
    header += `; Path=${attrs.path}`;
  }
  if (attrs.expires !== undefined && attrs.expires !== null) {
    if (!(attrs.expires instanceof Date) || Number.isNaN(attrs.expires.getTime()))
      throw bad("expires", "a valid Date");
    header += `; Expires=${attrs.expires.toUTCString()}`;
  }
  if (attrs.maxAge !== undefined) {
    if (!Number.isInteger(attrs.maxAge)) throw bad("maxAge", "a whole number of seconds");
    header += `; Max-Age=${attrs.maxAge}`;
  }
  if (attrs.secure) header += "; Secure";
  if (attrs.httpOnly) header += "; HttpOnly";
  if (attrs.sameSite !== undefined) {
    const sameSite = SAME_SITE.get(String(attrs.sameSite).toLowerCase());
    if (!sameSite) throw bad("sameSite", '"strict", "lax" or "none"');
    header += `; SameSite=${sameSite}`;
  }
  return header;
}
