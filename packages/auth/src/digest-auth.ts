import { createHash, randomBytes } from "node:crypto";
import { InvalidArgumentError } from "@x/errors";
import { type Auth, type AuthChallenge, type AuthRequest, type AuthRetry, checkHeaderSafe } from "./auth.js";
import { parseChallenges } from "./challenge.js";

/** The RFC 7616 algorithms {@link DigestAuth} answers, strongest last. */
export type DigestAlgorithm =
  | "MD5"
  | "MD5-sess"
  | "SHA-256"
  | "SHA-256-sess"
  | "SHA-512-256"
  | "SHA-512-256-sess";

/** Lower-case algorithm (without `-sess`) → Node's hash name, weakest first. */
const HASHES = new Map([
  ["md5", "md5"],
  ["sha-256", "sha256"],
  ["sha-512-256", "sha512-256"],
]);
const STRENGTH = [...HASHES.keys()];

/** Options of {@link DigestAuth}. */
export interface DigestAuthOptions {
  /**
   * After the first challenge is answered, send credentials with later requests to the same
   * origin without waiting for a 401 (counting the nonce up). Default `true`, as aiohttp 3.12.8.
   */
  preemptive?: boolean;
}

interface Session {
  origin: string;
  realm: string;
  nonce: string;
  opaque: string | undefined;
  /** Node's name of the hash. */
  hash: string;
  /** A `-sess` algorithm: the hash of the credentials takes the nonces too. */
  sess: boolean;
  /** The name to send in the header; `-sess` and case as the server wrote it. */
  algorithmName: string;
  qops: string[];
  userhash: boolean;
  utf8: boolean;
  nc: number;
}

function quote(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * HTTP Digest authentication (RFC 7616): MD5, SHA-256 and SHA-512-256 with their `-sess` forms,
 * qop `auth` and `auth-int`, nonce counting, `userhash`, UTF-8 user names. It answers one 401
 * challenge per request, and is pinned to the origin of the first challenge it answers: its
 * credentials never go to another origin, redirects included.
 *
 * @example
 * const session = new ClientSession({ auth: new DigestAuth("ada", "secret") });
 * @throws {InvalidArgumentError} for CR, LF or NUL in the login or password.
 */
export class DigestAuth implements Auth {
  readonly login: string;
  readonly #password: string;
  readonly #preemptive: boolean;
  #session: Session | undefined;
  #pinnedOrigin: string | undefined;

  constructor(login: string, password: string, options: DigestAuthOptions = {}) {
    checkHeaderSafe("login", login);
    checkHeaderSafe("password", password);
    this.login = login;
    this.#password = password;
    this.#preemptive = options.preemptive ?? true;
  }

  /** The origin this auth answers challenges for, once pinned by the first challenge. */
  get origin(): string | undefined {
    return this.#pinnedOrigin;
  }

  /** Preemptive credentials for a request to the pinned origin, once a challenge was answered. */
  encode(request?: AuthRequest): string | undefined {
    const session = this.#session;
    if (!this.#preemptive || !request || !session || request.url.origin !== session.origin) return undefined;
    return this.#authorize(session, request);
  }

  challenge(request: AuthRequest, response: AuthChallenge): AuthRetry | undefined {
    const origin = response.url.origin;
    if (this.#pinnedOrigin !== undefined && origin !== this.#pinnedOrigin) return undefined;
    if (request.url.origin !== origin) return undefined;
    // Headers joins repeated WWW-Authenticate lines with ", ", which the parser splits again.
    const header = response.headers.get("www-authenticate");
    if (header === null) return undefined;
    const candidates = parseChallenges([header])
      .flatMap(({ scheme, params }) => {
        const { realm, nonce, algorithm = "MD5" } = params;
        if (scheme !== "digest" || !nonce || realm === undefined) return [];
        const lower = algorithm.toLowerCase();
        const base = lower.replace(/-sess$/, "");
        const hash = HASHES.get(base);
        return hash === undefined
          ? []
          : [{ params, realm, nonce, algorithm, hash, base, sess: lower !== base }];
      })
      .sort((a, b) => STRENGTH.indexOf(b.base) - STRENGTH.indexOf(a.base));
    for (const { params, realm, nonce, algorithm, hash, sess } of candidates) {
      const session: Session = {
        origin,
        realm,
        nonce,
        opaque: params.opaque,
        hash,
        sess,
        algorithmName: algorithm,
        qops: (params.qop ?? "")
          .split(",")
          .map((q) => q.trim().toLowerCase())
          .filter(Boolean),
        userhash: params.userhash?.toLowerCase() === "true",
        utf8: params.charset?.toLowerCase() === "utf-8",
        nc: 0,
      };
      const header = this.#authorize(session, request);
      if (header === undefined) continue;
      this.#pinnedOrigin = origin;
      this.#session = session;
      return { headers: { authorization: header } };
    }
    return undefined;
  }

  #authorize(session: Session, request: AuthRequest): string | undefined {
    const H = (data: string | Buffer) => createHash(session.hash).update(data).digest("hex");
    const uri = `${request.url.pathname}${request.url.search}`;
    let a2 = `${request.method}:${uri}`;
    // Like curl and requests, prefer "auth" when offered; "auth-int" needs a body we can hash.
    let qop: "auth" | "auth-int" | undefined;
    if (session.qops.includes("auth")) qop = "auth";
    else if (session.qops.length > 0) {
      const body = bodyOf(request);
      if (!session.qops.includes("auth-int") || body === undefined) return undefined;
      qop = "auth-int";
      a2 += `:${H(Buffer.from(body))}`;
    }
    const cnonce = randomBytes(16).toString("hex");
    session.nc += 1;
    const nc = session.nc.toString(16).padStart(8, "0");
    let ha1 = H(`${this.login}:${session.realm}:${this.#password}`);
    if (session.sess) ha1 = H(`${ha1}:${session.nonce}:${cnonce}`);
    const ha2 = H(a2);
    const response = qop
      ? H(`${ha1}:${session.nonce}:${nc}:${cnonce}:${qop}:${ha2}`)
      : H(`${ha1}:${session.nonce}:${ha2}`);
    const parts: string[] = [];
    if (session.userhash) parts.push(`username=${quote(H(`${this.login}:${session.realm}`))}`);
    else if (/^[\x20-\x7e]*$/.test(this.login)) parts.push(`username=${quote(this.login)}`);
    else if (session.utf8) parts.push(`username*=UTF-8''${encodeURIComponent(this.login)}`);
    else
      throw new InvalidArgumentError("a non-ASCII Digest login needs a server that announces charset=UTF-8");
    parts.push(
      `realm=${quote(session.realm)}`,
      `nonce=${quote(session.nonce)}`,
      `uri=${quote(uri)}`,
      `algorithm=${session.algorithmName}`,
      `response=${quote(response)}`,
    );
    if (session.opaque !== undefined) parts.push(`opaque=${quote(session.opaque)}`);
    if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${quote(cnonce)}`);
    if (session.userhash) parts.push("userhash=true");
    return `Digest ${parts.join(", ")}`;
  }
}

/** The body to hash for auth-int: `null` is no body (hashed as empty); `undefined` is unreadable. */
function bodyOf(request: AuthRequest): Uint8Array | string | undefined {
  const body = request.body;
  if (body === null) return "";
  if (body === undefined) return request.method === "GET" || request.method === "HEAD" ? "" : undefined;
  return body;
}
