import { createRequire } from "node:module";
import type { Auth } from "@x/auth";
import { proxyOption } from "@x/connector";
import { type AbstractCookieJar, CookieJar, checkCookieJar, toSetCookieHeaders } from "@x/cookies";
import { InvalidArgumentError } from "@x/errors";
import type { CharsetResolver } from "./client-response.js";
import { DEFAULT_TIMEOUT, type ResolvedTimeout, resolveTimeout } from "./client-timeout.js";
import { ACCEPT_ENCODING, type DecompressLimits } from "./decompress.js";
import { HeaderList } from "./headers.js";
import type { ClientMiddleware } from "./middleware.js";
import type { ClientSessionOptions, RaiseForStatus } from "./options.js";
import type { TraceConfig } from "./tracing.js";
import { checkBaseUrl } from "./url.js";

const pkg = createRequire(import.meta.url)("../package.json") as { version: string };

/** The User-Agent a session sends unless told otherwise. */
export const USER_AGENT = `Node.js/${process.versions.node} x-session/${pkg.version}`;

/** A session's options, checked and with defaults applied. */
export interface SessionConfig {
  readonly baseUrl: URL | undefined;
  readonly headers: HeaderList;
  readonly skipAutoHeaders: ReadonlySet<string>;
  readonly auth: Auth | undefined;
  readonly jsonSerialize: (value: unknown) => string;
  readonly http10: boolean;
  readonly cookieJar: AbstractCookieJar;
  /** The session's `cookies` being stored in an async jar; requests wait for it. */
  readonly cookiesReady: Promise<void> | undefined;
  readonly timeout: ResolvedTimeout;
  readonly raiseForStatus: RaiseForStatus;
  readonly autoDecompress: boolean;
  readonly trustEnv: boolean;
  readonly requoteRedirectUrl: boolean;
  readonly readBufsize: number;
  readonly maxLineSize: number;
  readonly maxFieldSize: number;
  readonly maxHeaders: number;
  readonly fallbackCharset: CharsetResolver;
  readonly decompress: DecompressLimits;
  readonly userAgent: string;
  readonly acceptEncoding: string;
  readonly proxy: string | URL | undefined;
  readonly proxyAuth: Auth | undefined;
  readonly proxyHeaders: ReadonlyArray<readonly [string, string]> | undefined;
  readonly middlewares: readonly ClientMiddleware[];
  readonly traceConfigs: readonly TraceConfig[];
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidArgumentError(`${name} must be a positive integer`);
  return value;
}

function checkFunctions<T>(name: string, list: readonly T[] | undefined): readonly T[] {
  if (list === undefined) return [];
  if (!Array.isArray(list) || list.some((f) => typeof f !== "function")) {
    throw new InvalidArgumentError(`${name} must be an array of functions`);
  }
  return [...list];
}

function isAuth(value: unknown): value is Auth {
  return typeof value === "object" && value !== null && typeof (value as Auth).encode === "function";
}

/** Checks session options and fills in defaults. */
export function resolveConfig(options: ClientSessionOptions): SessionConfig {
  if (typeof options !== "object" || options === null)
    throw new InvalidArgumentError("options must be an object");
  if (
    options.timeout !== undefined &&
    (options.readTimeout !== undefined || options.connTimeout !== undefined)
  ) {
    throw new InvalidArgumentError(
      "timeout cannot be combined with the seed's readTimeout/connTimeout; use timeout only",
    );
  }
  let timeout = resolveTimeout(DEFAULT_TIMEOUT, options.timeout);
  if (options.readTimeout !== undefined) timeout = resolveTimeout(timeout, { total: options.readTimeout });
  if (options.connTimeout !== undefined) timeout = resolveTimeout(timeout, { connect: options.connTimeout });
  if (options.auth !== undefined && !isAuth(options.auth))
    throw new InvalidArgumentError("auth must have an encode() method");
  if (options.proxyAuth !== undefined && !isAuth(options.proxyAuth)) {
    throw new InvalidArgumentError("proxyAuth must have an encode() method");
  }
  if (options.proxy !== undefined && options.proxy !== null) proxyOption(options.proxy, "proxy");
  const jar =
    options.cookieJar === undefined ? new CookieJar() : checkCookieJar(options.cookieJar, "cookieJar");
  let cookiesReady: Promise<void> | undefined;
  if (options.cookies !== undefined && options.cookies !== null) {
    const stored = jar.updateCookiesFromHeaders(toSetCookieHeaders(options.cookies));
    if (typeof (stored as { then?: unknown } | undefined)?.then === "function") {
      cookiesReady = stored as Promise<void>;
      // Not an unhandled rejection here: the first request awaits it and reports the failure.
      cookiesReady.catch(() => {});
    }
  }
  const version = options.version ?? "1.1";
  const http10 =
    version === "1.0" || (typeof version === "object" && version.major === 1 && version.minor === 0);
  if (
    !http10 &&
    version !== "1.1" &&
    !(typeof version === "object" && version.major === 1 && version.minor === 1)
  ) {
    throw new InvalidArgumentError('version must be "1.0" or "1.1"');
  }
  const raise = options.raiseForStatus ?? false;
  if (typeof raise !== "boolean" && typeof raise !== "function") {
    throw new InvalidArgumentError("raiseForStatus must be a boolean or a function");
  }
  const fallback = options.fallbackCharsetResolver ?? (() => "utf-8");
  if (typeof fallback !== "function")
    throw new InvalidArgumentError("fallbackCharsetResolver must be a function");
  const serialize = options.jsonSerialize ?? JSON.stringify;
  if (typeof serialize !== "function") throw new InvalidArgumentError("jsonSerialize must be a function");
  const skipAutoHeaders = new Set([...(options.skipAutoHeaders ?? [])].map((h) => h.toLowerCase()));
  return {
    baseUrl: options.baseUrl === undefined ? undefined : checkBaseUrl(options.baseUrl),
    headers: HeaderList.from(options.headers),
    skipAutoHeaders,
    auth: options.auth,
    jsonSerialize: serialize,
    http10,
    cookieJar: jar,
    cookiesReady,
    timeout,
    raiseForStatus: raise,
    autoDecompress: options.autoDecompress ?? true,
    trustEnv: options.trustEnv ?? false,
    requoteRedirectUrl: options.requoteRedirectUrl ?? true,
    readBufsize: positive("readBufsize", options.readBufsize, 64 * 1024),
    maxLineSize: positive("maxLineSize", options.maxLineSize, 8190),
    maxFieldSize: positive("maxFieldSize", options.maxFieldSize, 8190),
    maxHeaders: positive("maxHeaders", options.maxHeaders, 128),
    fallbackCharset: fallback,
    decompress: {
      maxSize: positive("maxDecompressedSize", options.maxDecompressedSize, 256 * 1024 * 1024),
      maxCodings: positive("maxContentCodings", options.maxContentCodings, 5),
    },
    userAgent: USER_AGENT,
    acceptEncoding: ACCEPT_ENCODING,
    proxy: options.proxy,
    proxyAuth: options.proxyAuth,
    proxyHeaders: options.proxyHeaders ? [...HeaderList.from(options.proxyHeaders)] : undefined,
    middlewares: checkFunctions("middlewares", options.middlewares),
    traceConfigs: [...(options.traceConfigs ?? [])],
  };
}
