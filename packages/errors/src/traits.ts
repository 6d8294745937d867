import { defineTrait, type ErrorTrait } from "./brand.js";
import type { InvalidArgumentError } from "./client-error.js";
import type { ClientOSError, ServerTimeoutError, TotalTimeoutError } from "./connection-errors.js";
import type {
  InvalidURL,
  InvalidUrlRedirectClientError,
  NonHttpUrlRedirectClientError,
} from "./url-errors.js";

/** Node system errors (`ECONNREFUSED`, …) carry a string `syscall`; aiohttp's OSError covers them. */
function isNodeSystemError(value: unknown): boolean {
  return value instanceof Error && typeof (value as { syscall?: unknown }).syscall === "string";
}

/** The `TimeoutError` a `DOMException` reports, e.g. from `AbortSignal.timeout()`. */
function isDomTimeout(value: unknown): boolean {
  return value instanceof DOMException && value.name === "TimeoutError";
}

/** Shape shared by every error the {@link OSError} trait matches. */
export interface OSErrorLike extends Error {
  readonly errno?: number | undefined;
  readonly syscall?: string | undefined;
}

/**
 * aiohttp's `OSError` parent. Matches every `ClientOSError` and Node's own system errors.
 * @example if (err instanceof OSError) console.log(err.syscall)
 */
export const OSError: ErrorTrait<OSError> = defineTrait<OSError>("OSError", isNodeSystemError);
/** What `err instanceof OSError` narrows to. */
export type OSError = ClientOSError | OSErrorLike;

/**
 * aiohttp's `asyncio.TimeoutError` parent. Matches `ServerTimeoutError` (and so
 * `ConnectionTimeoutError`, `SocketTimeoutError`), `TotalTimeoutError`, and the
 * `DOMException` named "TimeoutError" that `AbortSignal.timeout()` produces (never the
 * "AbortError" of `AbortController.abort()`: a cancellation is not a timeout).
 */
export const TimeoutError: ErrorTrait<TimeoutError> = defineTrait<TimeoutError>("TimeoutError", isDomTimeout);
/** What `err instanceof TimeoutError` narrows to. */
export type TimeoutError = ServerTimeoutError | TotalTimeoutError | DOMException;

/**
 * aiohttp's `ValueError` parent: the input itself was wrong. Matches `InvalidURL` and its
 * subclasses and `InvalidArgumentError`.
 */
export const ValueError: ErrorTrait<ValueError> = defineTrait<ValueError>("ValueError");
/** What `err instanceof ValueError` narrows to. */
export type ValueError = InvalidURL | InvalidArgumentError;

/** aiohttp's `RedirectClientError`: the server's redirect could not be followed. */
export const RedirectClientError: ErrorTrait<RedirectClientError> =
  defineTrait<RedirectClientError>("RedirectClientError");
/** What `err instanceof RedirectClientError` narrows to. */
export type RedirectClientError = InvalidUrlRedirectClientError | NonHttpUrlRedirectClientError;
