import { MIMEType } from "node:util";

/** A parsed `Content-Type`: the lower-case media type and its parameters (names lower-cased). */
export interface ContentType {
  readonly mimetype: string;
  readonly params: Readonly<Record<string, string>>;
}

const DEFAULT: ContentType = Object.freeze({
  mimetype: "application/octet-stream",
  params: Object.freeze({}),
});

/**
 * Parses a `Content-Type` value with Node's WHATWG `MIMEType` (quoted parameters may hold `;`);
 * RFC 9110 says a missing one means `application/octet-stream`, and so does one too broken to
 * parse, except that its type before any `;` is kept when it looks like one.
 */
export function parseContentType(value: string | null | undefined): ContentType {
  if (!value) return DEFAULT;
  try {
    const mime = new MIMEType(value);
    const params: Record<string, string> = Object.create(null);
    for (const [name, v] of mime.params) params[name] = v;
    return { mimetype: mime.essence, params };
  } catch {
    // A limit of 1 always gives exactly one piece: the text before the first `;` (or all of it).
    const [head] = value.split(";", 1) as [string];
    const type = head.trim().toLowerCase();
    return /^[\w.+-]+\/[\w.+-]+$/.test(type) ? { mimetype: type, params: Object.freeze({}) } : DEFAULT;
  }
}

const JSON_TYPE = /^(?:application\/|[\w.-]+\/[\w.+-]+?\+)json$/;

/** True for `application/json` and any `…+json` type, as aiohttp's `json()` accepts. */
export function isJsonType(mimetype: string): boolean {
  return JSON_TYPE.test(mimetype);
}

/** One entry of a `Link` header. */
export interface LinkEntry {
  /** The target, resolved against the response URL. */
  readonly url: URL;
  /** `rel` and every other parameter, as given. */
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses `Link` headers (RFC 8288) into a map keyed by `rel` (or by the URL when there is none),
 * as aiohttp's `resp.links` does.
 */
export function parseLinks(values: readonly string[], base: URL): Map<string, LinkEntry> {
  const out = new Map<string, LinkEntry>();
  for (const value of values) {
    // A parameter's name stops at `=`, so a quoted value may hold `,` and `;` (RFC 8288).
    for (const m of value.matchAll(
      /<([^>]*)>\s*((?:;\s*[^;,=]+(?:=\s*(?:"(?:[^"\\]|\\.)*"|[^;,]*))?\s*)*)/g,
    )) {
      let url: URL;
      try {
        url = new URL(m[1] ?? "", base);
      } catch {
        continue;
      }
      const params: Record<string, string> = Object.create(null);
      for (const p of (m[2] ?? "").matchAll(/;\s*([^;=\s]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^;,]*)))?/g)) {
        params[(p[1] ?? "").toLowerCase()] = (p[2] ?? p[3] ?? "").trim();
      }
      out.set(params.rel ?? url.href, { url, params });
    }
  }
  return out;
}
