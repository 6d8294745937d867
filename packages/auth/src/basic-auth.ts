import { InvalidArgumentError } from "@x/errors";
import { type Auth, checkHeaderSafe } from "./auth.js";

/** The encodings {@link BasicAuth} supports for credentials. */
export type BasicAuthEncoding = "latin1" | "utf-8";

function normalizeEncoding(encoding: string): BasicAuthEncoding {
  const e = encoding.toLowerCase().replace(/_/g, "-");
  if (e === "latin1" || e === "latin-1" || e === "iso-8859-1") return "latin1";
  if (e === "utf-8" || e === "utf8") return "utf-8";
  throw new InvalidArgumentError(`unsupported encoding ${JSON.stringify(encoding)}; use "latin1" or "utf-8"`);
}

function toBytes(text: string, encoding: BasicAuthEncoding): Buffer {
  if (encoding === "latin1" && /[^\x00-\xff]/.test(text)) {
    throw new InvalidArgumentError(
      'the credentials have characters latin1 cannot encode; use encoding "utf-8"',
    );
  }
  return Buffer.from(text, encoding === "latin1" ? "latin1" : "utf8");
}

/**
 * HTTP Basic credentials (aiohttp's `BasicAuth`): `encode()` gives the `Authorization` value.
 * A `:` in the login is refused (it could not be decoded back), as are CR, LF and NUL anywhere.
 *
 * @example
 * new BasicAuth("ada", "lovelace").encode(); // "Basic YWRhOmxvdmVsYWNl"
 * BasicAuth.fromUrl("https://ada:pw@example.com/")?.login; // "ada"
 * @throws {InvalidArgumentError} for a `:` in the login, CR/LF/NUL, or characters the encoding cannot hold.
 */
export class BasicAuth implements Auth {
  readonly login: string;
  readonly password: string;
  readonly encoding: BasicAuthEncoding;
  readonly #header: string;

  constructor(login: string, password = "", encoding: string = "latin1") {
    checkHeaderSafe("login", login);
    checkHeaderSafe("password", password);
    if (login.includes(":")) throw new InvalidArgumentError('a ":" is not allowed in a Basic auth login');
    this.login = login;
    this.password = password;
    this.encoding = normalizeEncoding(encoding);
    // Fail now, not at the first request, when the encoding cannot hold the credentials.
    this.#header = `Basic ${toBytes(`${login}:${password}`, this.encoding).toString("base64")}`;
  }

  /** `Basic <base64(login:password)>`. */
  encode(): string {
    return this.#header;
  }

  /**
   * Parses an `Authorization: Basic …` value.
   * @throws {InvalidArgumentError} when it is not Basic, not base64, or has no `:`.
   */
  static decode(authHeader: string, encoding: string = "latin1"): BasicAuth {
    if (typeof authHeader !== "string")
      throw new InvalidArgumentError("the Authorization header must be a string");
    const match = /^\s*(\S+)\s+(\S+)\s*$/.exec(authHeader);
    if (!match) throw new InvalidArgumentError("could not parse the Authorization header");
    const scheme = match[1]!;
    const token = match[2]!;
    if (scheme.toLowerCase() !== "basic")
      throw new InvalidArgumentError(`unknown authorization method ${scheme}`);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(token) || token.length % 4 === 1) {
      throw new InvalidArgumentError("invalid base64 in the Authorization header");
    }
    const enc = normalizeEncoding(encoding);
    const decoded = Buffer.from(token, "base64").toString(enc === "latin1" ? "latin1" : "utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw new InvalidArgumentError('invalid credentials: no ":" between login and password');
    return new BasicAuth(decoded.slice(0, colon), decoded.slice(colon + 1), enc);
  }

  /** The credentials in a URL's userinfo (percent-decoded), or `null` when it has none. */
  static fromUrl(url: string | URL, encoding: string = "latin1"): BasicAuth | null {
    const parsed = url instanceof URL ? url : new URL(url);
    if (!parsed.username && !parsed.password) return null;
    return new BasicAuth(decodeURIComponent(parsed.username), decodeURIComponent(parsed.password), encoding);
  }
}

/**
 * A bearer token (RFC 6750): `encode()` gives `Bearer <token>`.
 * @throws {InvalidArgumentError} for an empty token or one with whitespace or control characters.
 */
export class BearerAuth implements Auth {
  readonly token: string;

  constructor(token: string) {
    checkHeaderSafe("token", token);
    if (token === "" || /[\s\x00-\x1f\x7f]/.test(token)) {
      throw new InvalidArgumentError(
        "a bearer token must be non-empty and hold no whitespace or control characters",
      );
    }
    this.token = token;
  }

  encode(): string {
    return `Bearer ${this.token}`;
  }
}
