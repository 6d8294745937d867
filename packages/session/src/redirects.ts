import { type HistoryEntry, InvalidUrlRedirectClientError, NonHttpUrlRedirectClientError } from "@x/errors";
import { malformedHttpUrl } from "./url.js";

/** Statuses a session follows. */
export const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * The method and body after a redirect, as aiohttp does it: 303 turns anything but HEAD into a
 * bodiless GET; 301 and 302 turn only POST into GET; 307 and 308 keep both.
 */
export function redirectMethod(status: number, method: string): { method: string; dropBody: boolean } {
  if ((status === 303 && method !== "HEAD") || ((status === 301 || status === 302) && method === "POST")) {
    return { method: "GET", dropBody: true };
  }
  return { method, dropBody: false };
}

/**
 * Resolves a redirect target against the URL that answered. The fragment is dropped (a new
 * request's URL has none); userinfo stays for the caller to turn into credentials.
 * @throws {InvalidUrlRedirectClientError} when it does not parse or has an empty host (`history` holds the redirects so far).
 * @throws {NonHttpUrlRedirectClientError} for `file:`, `data:`, `ftp:` and every other non-http scheme.
 */
export function redirectTarget(location: string, current: URL, history: readonly HistoryEntry[] = []): URL {
  const invalid = (description: string, cause?: unknown) =>
    new InvalidUrlRedirectClientError(location, description, { cause, history });
  // CR, LF and NUL cannot be here: a response header holding them fails the response first.
  // WHATWG parsing would repair `http:/x`, `http:///x` and `http:` into URLs on some host; aiohttp
  // (RFC 3986) refuses them, and so do we.
  const malformed = malformedHttpUrl(location);
  if (malformed) throw invalid(malformed);
  let url: URL;
  try {
    url = new URL(location, current);
  } catch (err) {
    throw invalid("the redirect target is not a valid URL", err);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new NonHttpUrlRedirectClientError(location, `refusing to follow a redirect to ${url.protocol}`, {
      history,
    });
  }
  // http and https are "special" schemes: WHATWG URL parsing gives them a host or fails.
  return url;
}

/**
 * The path and query of a `Location` as written, for `requoteRedirectUrl: false`; `undefined`
 * when it is relative to the current path or holds characters that cannot go on the wire as they are.
 */
export function rawTargetOf(location: string): string | undefined {
  let rest: string;
  if (location.startsWith("/") && !location.startsWith("//")) rest = location;
  else {
    const authority = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(location);
    if (!authority) return undefined;
    rest = location.slice(authority[0].length);
  }
  rest = rest.replace(/#.*/, "");
  if (!rest.startsWith("/")) rest = `/${rest}`;
  return /^[\x21-\x7e]+$/.test(rest) ? rest : undefined;
}
