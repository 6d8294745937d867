import {
  ClientConnectionError,
  ClientConnectorCertificateError,
  ClientSSLError,
  InvalidArgumentError,
  ServerFingerprintMismatch,
} from "@x/errors";
import { IDEMPOTENT } from "./client-request.js";
import type { ClientResponse } from "./client-response.js";
import type { ClientMiddleware } from "./middleware.js";

/** What a retry decision sees. */
export interface RetryInfo {
  /** The attempt that just failed, from 1. */
  readonly attempt: number;
  /** The delay before the next attempt, ms. */
  readonly delay: number;
  /** The failure of that attempt, when it failed with an error (a `ClientError` from the session). */
  readonly error?: Error | undefined;
  /** Its response, when it failed with a retryable status. */
  readonly response?: ClientResponse | undefined;
}

/** Options of {@link retryMiddleware}. */
export interface RetryOptions {
  /** Attempts in all, the first included. Default 3. */
  attempts?: number;
  /** Methods that may be retried. Default: the idempotent ones (GET, HEAD, OPTIONS, TRACE, PUT, DELETE, QUERY). */
  methods?: Iterable<string>;
  /** Statuses that are retried. Default 408, 429, 500, 502, 503, 504. */
  statuses?: Iterable<number>;
  /** Which errors are retried. Default: connection failures and per-attempt timeouts, not TLS or pin failures. */
  retryOnError?: (error: unknown) => boolean;
  /** First delay, ms. Default 100. */
  initialDelay?: number;
  /** Growth of the delay per attempt. Default 2. */
  factor?: number;
  /** Longest delay, ms. Default 10000. */
  maxDelay?: number;
  /** Randomize each delay between 0 and its value ("full jitter"). Default `true`. */
  jitter?: boolean;
  /** Honour `Retry-After` (seconds or an HTTP date). Default `true`. */
  respectRetryAfter?: boolean;
  /** A `Retry-After` longer than this (ms) is not waited for: the response is returned. Default 60000. */
  maxRetryAfter?: number;
  /** Called before each retry. */
  onRetry?: (info: RetryInfo) => void;
}

const STATUSES = [408, 429, 500, 502, 503, 504];

/** The default error test: network trouble and per-attempt timeouts, not certificate problems. */
export function isRetryableError(error: unknown): boolean {
  if (error instanceof ClientSSLError || error instanceof ClientConnectorCertificateError) return false;
  if (error instanceof ServerFingerprintMismatch) return false;
  return error instanceof ClientConnectionError;
}

/** Parses `Retry-After`: delay-seconds or an HTTP-date; `undefined` when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const when = Date.parse(v);
  return Number.isNaN(when) ? undefined : Math.max(0, when - now);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Retries failed requests (what got and undici's RetryAgent do, which aiohttp leaves to
 * aiohttp-retry): exponential backoff with full jitter, `Retry-After` honoured up to a cap,
 * idempotent methods only by default, retryable statuses and network errors, never past the
 * request's total timeout, and bodies re-sent only when they can be read again.
 *
 * @example
 * new ClientSession({ middlewares: [retryMiddleware({ attempts: 5 })] });
 */
export function retryMiddleware(options: RetryOptions = {}): ClientMiddleware {
  const attempts = options.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1)
    throw new InvalidArgumentError("attempts must be a positive integer");
  const methods = new Set([...(options.methods ?? IDEMPOTENT)].map((m) => m.toUpperCase()));
  const statuses = new Set(options.statuses ?? STATUSES);
  const retryOnError = options.retryOnError ?? isRetryableError;
  const initial = options.initialDelay ?? 100;
  const factor = options.factor ?? 2;
  const maxDelay = options.maxDelay ?? 10_000;
  const jitter = options.jitter ?? true;
  const respectRetryAfter = options.respectRetryAfter ?? true;
  const maxRetryAfter = options.maxRetryAfter ?? 60_000;
  const backoff = (attempt: number) => {
    const base = Math.min(maxDelay, initial * factor ** (attempt - 1));
    return jitter ? Math.random() * base : base;
  };

  return async (request, next) => {
    const retryable = methods.has(request.method) && (!request.body || request.body.replayable);
    for (let attempt = 1; ; attempt++) {
      const last = !retryable || attempt >= attempts;
      let response: ClientResponse;
      try {
        response = await next(request);
      } catch (error) {
        if (last || request.signal.aborted || !retryOnError(error)) throw error;
        const delay = backoff(attempt);
        options.onRetry?.({
          attempt,
          delay,
          error: error instanceof Error ? error : new Error(String(error), { cause: error }),
        });
        await sleep(delay, request.signal);
        continue;
      }
      if (last || !statuses.has(response.status)) return response;
      let delay = backoff(attempt);
      if (respectRetryAfter) {
        const after = parseRetryAfter(response.headers.get("retry-after"));
        if (after !== undefined) {
          if (after > maxRetryAfter) return response;
          delay = after;
        }
      }
      options.onRetry?.({ attempt, delay, response });
      // Give the connection back before waiting (a small body is read so it can be reused).
      if (response.contentLength !== null && response.contentLength <= 65536)
        await response.read().catch(() => {});
      response.release();
      await sleep(delay, request.signal);
    }
  };
}
