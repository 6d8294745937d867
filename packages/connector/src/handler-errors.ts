import {
  ClientConnectorError,
  ConnectionTimeoutError,
  ConnectorClosedError,
  InvalidArgumentError,
  InvalidURL,
} from "@x/errors";
import { errors as undiciErrors } from "undici";

/**
 * The `@x/errors` error behind an error the connector handed to an undici handler. Shared by
 * every installed copy, so a session finds it whichever copy of `@x/connector` made it.
 */
const CLIENT_ERROR = Symbol.for("@x/connector:client-error");

/**
 * What undici's `Agent` would hand a handler for a failure the connector describes as an
 * `@x/errors` error: the system error itself for refused, unreachable or unresolvable peers and
 * TLS failures (`ECONNREFUSED`, `ENOTFOUND`, `DEPTH_ZERO_SELF_SIGNED_CERT`, …), undici's
 * `ConnectTimeoutError`, `InvalidArgumentError`, `ClientDestroyedError` and `ClientClosedError`.
 * undici's interceptors and `RetryAgent` decide by those codes. The `@x/errors` error rides along
 * (see {@link clientErrorOf}) so that `@x/session` reports exactly what `connect()` would.
 * Errors with no undici counterpart (a fingerprint mismatch, a proxy's refusal) pass unchanged.
 */
export function forHandlers(err: unknown, closed?: boolean): unknown {
  let out: Error | undefined;
  if (err instanceof ClientConnectorError && err.osError instanceof Error) {
    out = err.osError;
  } else if (err instanceof ConnectionTimeoutError) {
    out = new undiciErrors.ConnectTimeoutError(err.message);
  } else if (err instanceof InvalidArgumentError || err instanceof InvalidURL) {
    out = new undiciErrors.InvalidArgumentError(err.message);
  } else if (err instanceof ConnectorClosedError) {
    out = closed ? new undiciErrors.ClientClosedError() : new undiciErrors.ClientDestroyedError();
  }
  if (out === undefined) return err;
  Object.defineProperty(out, CLIENT_ERROR, { value: err, configurable: true, enumerable: false });
  return out;
}

/** The `@x/errors` error that {@link forHandlers} turned into `err`, if it did. */
export function clientErrorOf(err: object): Error | undefined {
  const found = (err as Record<symbol, unknown>)[CLIENT_ERROR];
  return found instanceof Error ? found : undefined;
}

/** True for undici's errors that say the dispatcher was closed or destroyed. */
export function isDispatcherClosed(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "UND_ERR_DESTROYED" || code === "UND_ERR_CLOSED";
}
