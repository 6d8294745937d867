import { InvalidArgumentError } from "@x/errors";

/** Options every connector takes (aiohttp's `BaseConnector` arguments; durations in ms). */
export interface BaseConnectorOptions {
  /** How long a released connection may wait for reuse, ms. Default 15000; 0 disables keep-alive. */
  keepaliveTimeout?: number;
  /** Close every connection after its response instead of keeping it alive. Default `false`. */
  forceClose?: boolean;
  /** Most connections in use at once, over all hosts. Default 100; 0 = unlimited. */
  limit?: number;
  /** Most connections in use at once to one endpoint (host, port, TLS settings). Default 0 = unlimited. */
  limitPerHost?: number;
  /**
   * Close idle TLS connections gracefully (send close_notify) but abort them if the peer has not
   * finished closing within 2 s — aiohttp's guard for servers that never complete the TLS
   * shutdown. Without it, idle TLS connections are aborted at once. Default `false`.
   */
  enableCleanupClosed?: boolean;
  /** Timeout of each connection attempt (TCP connect plus TLS handshake), ms; `null` = none. Default 30000. */
  connectTimeout?: number | null;
  /** Largest response head (status line and headers) accepted, bytes. Default: Node's `http.maxHeaderSize` (16 KiB). */
  maxHeaderSize?: number;
  /**
   * Offer HTTP/2 to https origins (ALPN `h2`, falling back to HTTP/1.1). An HTTP/2 connection
   * carries up to 100 requests at once and counts once against `limit`. Default `false`.
   */
  allowH2?: boolean;
}

/** {@link BaseConnectorOptions} checked, with every default filled in. */
export interface ConnectorSettings {
  readonly keepaliveTimeout: number;
  readonly forceClose: boolean;
  readonly limit: number;
  readonly limitPerHost: number;
  readonly cleanupClosed: boolean;
  readonly connectTimeout: number | null;
  readonly maxHeaderSize: number | undefined;
  readonly allowH2: boolean;
}

function checkCount(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === Number.POSITIVE_INFINITY) return 0;
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidArgumentError(
      `${name} must be a non-negative integer (0 = unlimited), got ${String(value)}`,
    );
  }
  return value;
}

function checkDuration(
  name: string,
  value: number | null | undefined,
  fallback: number | null,
): number | null {
  if (value === undefined) return fallback;
  if (value === null) return null;
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(
      `${name} must be a non-negative number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}

function checkBoolean(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw new InvalidArgumentError(`${name} must be a boolean`);
  return value;
}

/**
 * Checks a connector's options and fills in aiohttp's defaults.
 * @throws {InvalidArgumentError} naming the first bad option.
 */
export function resolveConnectorOptions(options: BaseConnectorOptions): ConnectorSettings {
  if (typeof options !== "object" || options === null)
    throw new InvalidArgumentError("options must be an object");
  const forceClose = checkBoolean("forceClose", options.forceClose);
  if (forceClose && options.keepaliveTimeout !== undefined && options.keepaliveTimeout !== 0) {
    throw new InvalidArgumentError("keepaliveTimeout cannot be set if forceClose is true");
  }
  const maxHeaderSize = options.maxHeaderSize;
  if (maxHeaderSize !== undefined && (!Number.isInteger(maxHeaderSize) || maxHeaderSize < 1)) {
    throw new InvalidArgumentError("maxHeaderSize must be a positive integer");
  }
  return {
    forceClose,
    keepaliveTimeout: forceClose
      ? 0
      : (checkDuration("keepaliveTimeout", options.keepaliveTimeout, 15_000) ?? 0),
    limit: checkCount("limit", options.limit, 100),
    limitPerHost: checkCount("limitPerHost", options.limitPerHost, 0),
    cleanupClosed: checkBoolean("enableCleanupClosed", options.enableCleanupClosed),
    connectTimeout: checkDuration("connectTimeout", options.connectTimeout, 30_000),
    maxHeaderSize,
    allowH2: checkBoolean("allowH2", options.allowH2),
  };
}
