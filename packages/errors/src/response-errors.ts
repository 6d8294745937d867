import { brandClass } from "./brand.js";
import { ClientError } from "./client-error.js";
import type { HistoryEntry, RequestInfo } from "./request-info.js";

/** Options of {@link ClientResponseError} and its subclasses, named as in aiohttp. */
export interface ClientResponseErrorOptions {
  /** The HTTP status of the response, e.g. 404. */
  status?: number | undefined;
  /** aiohttp's `message`: the reason phrase ("Not Found") or a description of what was wrong. */
  message?: string | undefined;
  /** The response's headers. */
  headers?: Headers | undefined;
  /** The underlying failure, if any. */
  cause?: unknown;
  /**
   * The start of the response body (at most 8 KiB), as text when the response said it is text,
   * else as bytes; what the server said about the failure.
   */
  body?: string | Uint8Array | undefined;
}

/**
 * The server answered, but not acceptably: `raiseForStatus()` on a status ≥ 400, a redirect
 * limit, a failed websocket handshake, a CONNECT refused by a proxy.
 *
 * aiohttp's `message` field (the reason phrase) is `reason` here, because `Error.message` is
 * the whole story, with the request: `Request failed with status code 404 (Not Found): GET
 * http://…`, or for other failures `Too many redirects (status 302): GET http://…`.
 */
export class ClientResponseError extends ClientError {
  /** What was sent. */
  readonly requestInfo: RequestInfo;
  /** The responses of the redirects that led here, oldest first. */
  readonly history: readonly HistoryEntry[];
  /** The HTTP status; 0 when no status line was read. */
  readonly status: number;
  /** aiohttp's `message`: the reason phrase or what was wrong with the response. */
  readonly reason: string;
  /** The response headers, when there was a response. */
  readonly headers: Headers | undefined;
  /**
   * The start of the response body (at most 8 KiB) when it was read for the error: text for a
   * text response (JSON included), else bytes; `undefined` when nobody read it.
   */
  readonly body: string | Uint8Array | undefined;

  constructor(
    requestInfo: RequestInfo,
    history: readonly HistoryEntry[],
    options: ClientResponseErrorOptions = {},
  ) {
    const status = options.status ?? 0;
    const reason = options.message ?? "";
    const request = `${requestInfo.method} ${requestInfo.realUrl.href}`;
    const text =
      status >= 400
        ? `Request failed with status code ${status}${reason ? ` (${reason})` : ""}: ${request}`
        : `${reason || "Invalid response"}${status ? ` (status ${status})` : ""}: ${request}`;
    super(text, { cause: options.cause });
    this.body = options.body;
    this.requestInfo = requestInfo;
    this.history = history;
    this.status = status;
    this.reason = reason;
    this.headers = options.headers;
  }

  static {
    brandClass(ClientResponseError, "ClientResponseError", "X_CLIENT_RESPONSE_ERROR");
  }
}

/** `json()` found a Content-Type other than the expected one (`+json` types are accepted). */
export class ContentTypeError extends ClientResponseError {
  static {
    brandClass(ContentTypeError, "ContentTypeError", "X_CONTENT_TYPE_ERROR");
  }
}

/**
 * The websocket handshake failed: a status other than 101, a missing or wrong `Upgrade`,
 * `Connection` or `Sec-WebSocket-Accept`, or a protocol the client did not ask for.
 */
export class WSServerHandshakeError extends ClientResponseError {
  static {
    brandClass(WSServerHandshakeError, "WSServerHandshakeError", "X_WS_SERVER_HANDSHAKE_ERROR");
  }
}

/** A proxy answered the CONNECT request with a non-2xx status (kept in `status`). */
export class ClientHttpProxyError extends ClientResponseError {
  static {
    brandClass(ClientHttpProxyError, "ClientHttpProxyError", "X_CLIENT_HTTP_PROXY_ERROR");
  }
}

/** More redirects than `maxRedirects`; `history` holds every response that was followed. */
export class TooManyRedirects extends ClientResponseError {
  static {
    brandClass(TooManyRedirects, "TooManyRedirects", "X_TOO_MANY_REDIRECTS");
  }
}
