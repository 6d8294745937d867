import type { SecureContext } from "node:tls";
import type { Auth } from "@x/auth";
import type { Fingerprint, SslOption, TlsOptions } from "@x/connector";
import type { AbstractCookieJar, CookieInput } from "@x/cookies";
import type { Dispatcher } from "undici";
import type { CompressOption, RequestData } from "./body.js";
import type { CharsetResolver, ClientResponse, HttpVersion } from "./client-response.js";
import type { ClientTimeout } from "./client-timeout.js";
import type { HeadersInput } from "./headers.js";
import type { ClientMiddleware } from "./middleware.js";
import type { TraceConfig } from "./tracing.js";
import type { ParamsInput } from "./url.js";

/** `raiseForStatus` as a callback: inspect the response and throw to fail the request. */
export type RaiseForStatus = boolean | ((response: ClientResponse) => void | Promise<void>);

/** Options of `new ClientSession()`, aiohttp's `ClientSession` arguments in camelCase; durations in ms. */
export interface ClientSessionOptions<Jar extends AbstractCookieJar = AbstractCookieJar> {
  /** Any undici `Dispatcher`; default: a new `TCPConnector()` owned by the session. */
  connector?: Dispatcher;
  /** Close the connector with the session. Default `true`; `false` shares one pool between sessions. */
  connectorOwner?: boolean;
  /** Cookies to start with, shared: sent to every host. `null` is none. */
  cookies?: CookieInput | null;
  /** Headers sent with every request (requests may override them by name). */
  headers?: HeadersInput;
  /** Auto headers not to generate (`"User-Agent"`, `"Accept"`, `"Accept-Encoding"`, `"Content-Type"`). */
  skipAutoHeaders?: Iterable<string>;
  /** Authentication for every request (to `baseUrl`'s origin only, when `baseUrl` is set). */
  auth?: Auth;
  /** Serializer for `json` bodies. Default `JSON.stringify`. */
  jsonSerialize?: (value: unknown) => string;
  /** `"1.1"` (default) or `"1.0"` (no keep-alive, no chunked bodies; the request line stays 1.1). */
  version?: "1.0" | "1.1" | HttpVersion;
  /**
   * The cookie jar: any `AbstractCookieJar` (two methods, sync or async — see `@x/cookies`);
   * default a new `CookieJar()`. `DummyCookieJar` keeps none.
   */
  cookieJar?: Jar;
  /** Seed-era: the total timeout, ms. Cannot be combined with `timeout`. */
  readTimeout?: number | null;
  /** Seed-era: the connect timeout, ms. Cannot be combined with `timeout`. */
  connTimeout?: number | null;
  /** Timeouts; default `{ total: 300000, sockConnect: 30000 }`. */
  timeout?: ClientTimeout;
  /** Throw `ClientResponseError` for statuses ≥ 400 (after redirects), or a callback that decides. Default `false`. */
  raiseForStatus?: RaiseForStatus;
  /** Decode gzip, deflate, br (and zstd where Node has it) bodies. Default `true`. */
  autoDecompress?: boolean;
  /** Read `~/.netrc` for credentials (and, later, proxies from the environment). Default `false`. */
  trustEnv?: boolean;
  /** Relative request URLs are resolved against it (RFC 3986); must end with `/`. */
  baseUrl?: string | URL;
  /** Normalize redirect URLs (percent-encoding). Default `true`; `false` sends `Location` as given. */
  requoteRedirectUrl?: boolean;
  /** Bytes a response may buffer before reading from the socket pauses. Default 65536. */
  readBufsize?: number;
  /** Longest status line, and longest line `readline()` accepts. Default 8190. */
  maxLineSize?: number;
  /** Longest header field (name and value). Default 8190. */
  maxFieldSize?: number;
  /** Most header lines a response may have; more fails it with `ClientResponseError` 400. Default 128. */
  maxHeaders?: number;
  /** Chooses a text encoding when the response names none. Default: always `"utf-8"`. */
  fallbackCharsetResolver?: CharsetResolver;
  /** Most bytes a compressed body may decode to. Default 256 MiB. */
  maxDecompressedSize?: number;
  /** Most content codings one response may stack. Default 5. */
  maxContentCodings?: number;
  /** Proxy for every request (`http://` or `https://`; credentials in it become proxy auth). */
  proxy?: string | URL;
  /** Credentials for the proxy (`BasicAuth`, or any `{ encode() }`). Never sent to the target. */
  proxyAuth?: Auth;
  /** Headers for the proxy only: in CONNECT requests, and with plain-http requests in absolute form. */
  proxyHeaders?: HeadersInput;
  /** Middlewares every request goes through, outermost first. */
  middlewares?: readonly ClientMiddleware[];
  /** Tracing: handlers for every request's events. */
  traceConfigs?: readonly TraceConfig[];
  /** Negotiate HTTP/2 with https origins (ALPN) on the session's default connector. Default `false`. */
  http2?: boolean;
}

/** Progress of an upload or a download. */
export interface Progress {
  /** Bytes so far (request body sent, or response body received as it came on the wire). */
  readonly loaded: number;
  /** The total when known (the body's length, or Content-Length), else `null`. */
  readonly total: number | null;
}

/** Options of `session.request()` and the verb methods. */
export interface RequestOptions {
  /** Query parameters to add: a record (arrays repeat a name), pairs, URLSearchParams, or an encoded string. */
  params?: ParamsInput;
  /** The body. See the README for how each kind is sent. */
  data?: RequestData | null;
  /** A value to send as JSON; cannot be combined with `data`. */
  json?: unknown;
  headers?: HeadersInput;
  skipAutoHeaders?: Iterable<string>;
  /** Auth for this request, instead of the session's (`null` or omitted: the session's, as aiohttp's `auth=None`). */
  auth?: Auth | null;
  /** Follow redirects. Default `true` (`false` for `head()`). */
  allowRedirects?: boolean;
  /** Redirects to follow before `TooManyRedirects`. Default 10; `0` follows none. */
  maxRedirects?: number;
  /** Compress the request body: `true`/`"deflate"` or `"gzip"`. Sent chunked. */
  compress?: CompressOption;
  /** Send the body with `Transfer-Encoding: chunked`. */
  chunked?: boolean;
  /** Send `Expect: 100-continue` and wait for the server's go-ahead before the body. */
  expect100?: boolean;
  /** Read bodies that end only when the connection closes. Default `true`. */
  readUntilEof?: boolean;
  /** Timeouts for this request, laid over the session's field by field; a number is `total`. */
  timeout?: ClientTimeout | number;
  /** Seed-era per-request total timeout, ms. */
  readTimeout?: number | null;
  /** Seed-era per-request connect timeout, ms. */
  connTimeout?: number | null;
  /** TLS for this request (see `@x/connector`). */
  ssl?: SslOption;
  /** Seed-era: `false` is `ssl: false`. */
  verifySsl?: boolean;
  /** Seed-era: a SHA-256 pin. */
  fingerprint?: Uint8Array | string | Fingerprint;
  /** Seed-era: TLS options or a SecureContext. */
  sslContext?: TlsOptions | SecureContext;
  /** TLS server name (SNI and certificate check) instead of the URL's host. */
  serverHostname?: string;
  /** Cookies for this request only; not stored, and not sent after a redirect to another origin. `null` is none. */
  cookies?: CookieInput | null;
  raiseForStatus?: RaiseForStatus;
  /** Cancels the request, the body read included; it fails with the signal's reason. */
  signal?: AbortSignal;
  /** Overrides the session's `autoDecompress`. */
  autoDecompress?: boolean;
  /** Proxy for this request; `null` goes direct even when the session or environment names one. */
  proxy?: string | URL | null;
  /** Credentials for this request's proxy. */
  proxyAuth?: Auth;
  /** Headers for this request's proxy only. */
  proxyHeaders?: HeadersInput;
  /** Middlewares for this request instead of the session's; `[]` runs none. */
  middlewares?: readonly ClientMiddleware[];
  /** Passed to each TraceConfig's `traceConfigCtx` to make this request's trace contexts. */
  traceRequestCtx?: unknown;
  /** Called as the request body goes out (also for streamed bodies). */
  onUploadProgress?: (progress: Progress) => void;
  /** Called as the response body comes in. */
  onDownloadProgress?: (progress: Progress) => void;
  /** The session's `readBufsize` for this request. */
  readBufsize?: number;
  /** The session's `maxLineSize` for this request. */
  maxLineSize?: number;
  /** The session's `maxFieldSize` for this request. */
  maxFieldSize?: number;
  /** The session's `maxHeaders` for this request. */
  maxHeaders?: number;
}
