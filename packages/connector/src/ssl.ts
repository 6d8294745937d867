import { createHash } from "node:crypto";
import type { ConnectionOptions, SecureContext } from "node:tls";
import { InvalidArgumentError } from "@x/errors";
import { Fingerprint } from "./fingerprint.js";

/**
 * TLS options for a connection: everything `tls.connect()` takes except where to connect, plus an
 * optional `fingerprint` to pin the certificate on top of normal verification.
 */
export interface TlsOptions
  extends Omit<ConnectionOptions, "socket" | "host" | "port" | "path" | "lookup" | "timeout" | "session"> {
  /** Also require the server certificate's SHA-256 to match. */
  fingerprint?: Fingerprint;
}

/**
 * aiohttp's `ssl` parameter: `true` verifies against the system CAs (default), `false` skips
 * verification, a {@link Fingerprint} pins the certificate instead of verifying it, and a
 * {@link TlsOptions} object (aiohttp's `SSLContext`) configures TLS fully.
 */
export type SslOption = boolean | Fingerprint | TlsOptions;

/** The seed-era spellings of {@link SslOption}, accepted next to `ssl`. */
export interface LegacySslParams {
  /** `ssl` itself. */
  ssl?: SslOption | undefined;
  /** Seed-era: `false` is `ssl: false`. */
  verifySsl?: boolean | undefined;
  /** Seed-era: a pinned SHA-256 digest; the same as `ssl: new Fingerprint(digest)`. */
  fingerprint?: Uint8Array | string | Fingerprint | undefined;
  /** Seed-era: aiohttp's `ssl_context`; TLS options or a `tls.createSecureContext()` result. */
  sslContext?: TlsOptions | SecureContext | undefined;
}

function isSecureContext(value: unknown): value is SecureContext {
  return typeof value === "object" && value !== null && "context" in value && !("ca" in value);
}

/**
 * Folds the seed's `verifySsl`, `fingerprint` and `sslContext` into one `ssl` value, as aiohttp's
 * `_merge_ssl_params` does. `undefined` means "not given" (the caller's default applies).
 * @throws {InvalidArgumentError} when more than one of them says something.
 */
export function mergeSslParams(params: LegacySslParams): SslOption | undefined {
  let ssl = params.ssl;
  const conflict = () =>
    new InvalidArgumentError(
      "verifySsl, sslContext, fingerprint and ssl are mutually exclusive; pass only ssl",
    );
  if (params.verifySsl !== undefined && params.verifySsl !== null) {
    if (typeof params.verifySsl !== "boolean") throw new InvalidArgumentError("verifySsl must be a boolean");
    if (!params.verifySsl) {
      if (ssl !== undefined && ssl !== true) throw conflict();
      ssl = false;
    }
  }
  if (params.sslContext !== undefined && params.sslContext !== null) {
    if (ssl !== undefined && ssl !== true) throw conflict();
    ssl = isSecureContext(params.sslContext) ? { secureContext: params.sslContext } : params.sslContext;
  }
  if (params.fingerprint !== undefined && params.fingerprint !== null) {
    if (ssl !== undefined && ssl !== true) throw conflict();
    ssl =
      params.fingerprint instanceof Fingerprint ? params.fingerprint : new Fingerprint(params.fingerprint);
  }
  if (ssl !== undefined && typeof ssl !== "boolean" && (typeof ssl !== "object" || ssl === null)) {
    throw new InvalidArgumentError("ssl must be true, false, a Fingerprint or a TLS options object");
  }
  return ssl;
}

/** What a connection's TLS layer will do, resolved from an {@link SslOption}. */
export interface ResolvedTls {
  /** Identity of these settings inside a pool key. */
  readonly id: string;
  /** Verify the chain and host name against CAs. */
  readonly verify: boolean;
  /** Pin the certificate to this digest. */
  readonly fingerprint: Fingerprint | undefined;
  /** Options handed to `tls.connect()`. */
  readonly options: ConnectionOptions;
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;
function objectId(value: object): number {
  let id = objectIds.get(value);
  if (id === undefined) {
    id = nextObjectId++;
    objectIds.set(value, id);
  }
  return id;
}

const VERIFIED: ResolvedTls = Object.freeze({ id: "v", verify: true, fingerprint: undefined, options: {} });
const UNVERIFIED: ResolvedTls = Object.freeze({
  id: "n",
  verify: false,
  fingerprint: undefined,
  options: { rejectUnauthorized: false, checkServerIdentity: () => undefined },
});

/**
 * A stable text of TLS options for the pool key: strings, numbers, booleans and bytes by value
 * (so two `{ ca }` objects with the same CA share connections), functions and other objects
 * (a SecureContext, a checkServerIdentity) by identity.
 */
function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string") return `s${value.length}:${value}`;
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value}:${value}`;
  if (value instanceof Uint8Array) return `b${createHash("sha256").update(value).digest("base64")}`;
  if (Array.isArray(value)) return `[${value.map(describe).join(",")}]`;
  if (Object.getPrototypeOf(value) === Object.prototype) {
    return `{${Object.keys(value as object)
      .sort()
      .map((k) => `${k}=${describe((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return `#${objectId(value as object)}`;
}

/**
 * Turns an {@link SslOption} into what the connector needs. Options with the same content share
 * a pool entry; different content (or a different SecureContext) never does.
 */
export function resolveTls(ssl: SslOption): ResolvedTls {
  if (ssl === true) return VERIFIED;
  if (ssl === false) return UNVERIFIED;
  if (ssl instanceof Fingerprint) {
    return { id: `fp:${ssl}`, verify: false, fingerprint: ssl, options: UNVERIFIED.options };
  }
  const { fingerprint, ...options } = ssl;
  if (fingerprint !== undefined && !(fingerprint instanceof Fingerprint)) {
    throw new InvalidArgumentError("ssl.fingerprint must be a Fingerprint");
  }
  const verify = options.rejectUnauthorized !== false;
  const text = describe({ ...options, fingerprint: fingerprint?.toString() });
  return {
    id: `o${createHash("sha256").update(text).digest("base64url")}`,
    verify,
    fingerprint,
    options,
  };
}
