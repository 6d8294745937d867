import { InvalidArgumentError } from "@x/errors";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 field-value characters: tab, visible ASCII, and obs-text (0x80–0xFF). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const LINE_BREAK = /[\r\n\0]/;

/** True when `text` is an RFC 9110 token (a valid method or header name). */
export function isToken(text: string): boolean {
  return typeof text === "string" && TOKEN.test(text);
}

/**
 * Throws `InvalidArgumentError` unless `name` is a token. `what` names the field in the
 * message ("header", "proxy header", …).
 */
export function checkHeaderName(name: string, what = "header"): void {
  if (!isToken(name)) throw new InvalidArgumentError(`invalid ${what} name ${JSON.stringify(name)}`);
}

/**
 * Throws `InvalidArgumentError` if `value` could break out of its header line: CR, LF or NUL,
 * any other control character, or a character above U+00FF (which would be truncated to one
 * byte on the wire, turning U+010A into a line feed).
 */
export function checkHeaderValue(name: string, value: string, what = "header"): void {
  if (typeof value !== "string") throw new InvalidArgumentError(`${what} ${name} must be a string`);
  if (FIELD_VALUE.test(value)) return;
  if (LINE_BREAK.test(value))
    throw new InvalidArgumentError(`${what} ${name} must not contain CR, LF or NUL`);
  throw new InvalidArgumentError(
    `${what} ${name} has a control character or a character above U+00FF; encode such text (e.g. with encodeURIComponent) first`,
  );
}
