import { InvalidArgumentError, InvalidUrlClientError, NonHttpUrlClientError } from "@x/errors";

/** Query parameters as a request takes them. */
/** A query value: numbers and booleans become text, `null`/`undefined` leave the name out. */
export type ParamValue = string | number | boolean | null | undefined;

export type ParamsInput =
  | URLSearchParams
  | string
  | Readonly<Record<string, ParamValue | readonly ParamValue[]>>
  | Iterable<readonly [string, ParamValue]>;

const UNSAFE = /[\r\n\0]/;

/**
 * Why `text` is not a URL aiohttp would take, when it names an http(s) or ws(s) scheme without
 * `//` and a host (`http:/x`, `http:///x`, `https:`): WHATWG parsing repairs those into URLs on
 * some host, RFC 3986 does not. `undefined` for anything else (relative references included).
 */
export function malformedHttpUrl(text: string): string | undefined {
  const m = /^\s*(https?|wss?):/i.exec(text);
  if (!m) return undefined;
  const rest = text.slice(m[0].length);
  if (!rest.startsWith("//")) return `${m[1]}: must be followed by // and a host`;
  if (/^\/\/[/?#]|^\/\/$/.test(rest)) return "the URL has an empty host";
  return undefined;
}

/**
 * Checks a base URL the way aiohttp 3.12 does: absolute http(s), ending in `/`, no query or
 * fragment.
 */
export function checkBaseUrl(base: string | URL): URL {
  const text = String(base);
  if (UNSAFE.test(text)) throw new InvalidUrlClientError(text, "CR, LF and NUL are not allowed in a URL");
  let url: URL;
  try {
    url = new URL(text);
  } catch (err) {
    throw new InvalidUrlClientError(text, "baseUrl must be an absolute URL", { cause: err });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new NonHttpUrlClientError(text, "baseUrl must be http or https");
  if (!url.pathname.endsWith("/")) throw new InvalidArgumentError(`baseUrl must end with "/" (got ${text})`);
  if (url.search || url.hash) throw new InvalidArgumentError("baseUrl must not have a query or fragment");
  return url;
}

/**
 * Resolves the URL of a request: relative references against `base` per RFC 3986 (so with base
 * `/api/`, `"users"` is `/api/users` and `"/users"` is `/users`), absolute ones as they are.
 * @throws {InvalidUrlClientError} for an unparsable URL, CR/LF/NUL, or an empty host.
 * @throws {NonHttpUrlClientError} for a scheme other than `schemes`.
 */
export function resolveUrl(
  input: string | URL,
  base: URL | undefined,
  schemes: readonly string[] = ["http:", "https:"],
): URL {
  const text = input instanceof URL ? input.href : input;
  if (typeof text !== "string")
    throw new InvalidUrlClientError(String(input), "the URL must be a string or a URL");
  if (UNSAFE.test(text)) throw new InvalidUrlClientError(text, "CR, LF and NUL are not allowed in a URL");
  const malformed = malformedHttpUrl(text);
  if (malformed) throw new InvalidUrlClientError(text, malformed);
  let url: URL;
  try {
    url = base ? new URL(text, base) : new URL(text);
  } catch (err) {
    throw new InvalidUrlClientError(text, base ? "not a valid URL reference" : "not a valid absolute URL", {
      cause: err,
    });
  }
  if (!schemes.includes(url.protocol)) {
    throw new NonHttpUrlClientError(
      text,
      `unsupported scheme ${url.protocol} (expected ${schemes.join(" or ")})`,
    );
  }
  // http(s) and ws(s) are "special" schemes: WHATWG URL parsing gives them a host or fails.
  return url;
}

/** Appends `params` to `url`'s query (a string is taken as already encoded). */
export function withParams(url: URL, params: ParamsInput | undefined): URL {
  if (params === undefined || params === null) return url;
  const out = new URL(url.href);
  if (typeof params === "string") {
    if (UNSAFE.test(params)) throw new InvalidArgumentError("params must not contain CR, LF or NUL");
    const extra = params.replace(/^\?/, "");
    if (extra) out.search = out.search ? `${out.search}&${extra}` : `?${extra}`;
    return out;
  }
  const add = new URLSearchParams();
  const entries =
    params instanceof URLSearchParams
      ? params.entries()
      : typeof (params as Iterable<unknown>)[Symbol.iterator] === "function"
        ? (params as Iterable<readonly [string, string | number | boolean]>)
        : Object.entries(params as Record<string, unknown>);
  for (const entry of entries as Iterable<readonly [string, unknown]>) {
    if (!Array.isArray(entry) || entry.length !== 2)
      throw new InvalidArgumentError("params must be [name, value] pairs");
    const [name, value] = entry;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === undefined || v === null) continue;
      if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
        throw new InvalidArgumentError(`param ${JSON.stringify(name)} must be a string, number or boolean`);
      }
      add.append(String(name), String(v));
    }
  }
  const extra = add.toString();
  if (extra) out.search = out.search ? `${out.search}&${extra}` : `?${extra}`;
  return out;
}

/**
 * The URL without user name and password, as aiohttp takes them out before the request (they
 * become its auth): `realUrl` keeps the fragment, never credentials.
 */
export function withoutCredentials(url: URL): URL {
  if (!url.username && !url.password) return url;
  const out = new URL(url.href);
  out.username = "";
  out.password = "";
  return out;
}

/** The URL without userinfo and fragment: what goes on the wire and into `resp.url`. */
export function wireUrl(url: URL): URL {
  if (!url.username && !url.password && !url.hash) return url;
  const out = new URL(url.href);
  out.username = "";
  out.password = "";
  out.hash = "";
  return out;
}
