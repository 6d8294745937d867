import { brandClass } from "./brand.js";
import { ClientError } from "./client-error.js";
import { OSError, TimeoutError } from "./traits.js";

/** Problems with the underlying connection rather than with the response. */
export class ClientConnectionError extends ClientError {
  static {
    brandClass(ClientConnectionError, "ClientConnectionError", "X_CLIENT_CONNECTION_ERROR");
  }
}

/** Fields of a Node system error that {@link ClientOSError} keeps. */
interface SystemErrorFields {
  errno?: unknown;
  syscall?: unknown;
  code?: unknown;
}

/**
 * An operating-system level failure (aiohttp's `ClientOSError`, also an `OSError`).
 * `errno`, `syscall` and `osCode` (`ECONNREFUSED`, …) are copied from the Node error in
 * `cause` when there is one. Test the OSError side with `err instanceof OSError`.
 */
export class ClientOSError extends ClientConnectionError {
  /** The numeric errno of the system error, if any. */
  readonly errno: number | undefined;
  /** The failing system call (`connect`, `getaddrinfo`, `read`), if any. */
  readonly syscall: string | undefined;
  /** The system error's own code, e.g. `ECONNREFUSED`; `code` stays this class's code. */
  readonly osCode: string | undefined;

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    const sys = (options?.cause ?? {}) as SystemErrorFields;
    this.errno = typeof sys.errno === "number" ? sys.errno : undefined;
    this.syscall = typeof sys.syscall === "string" ? sys.syscall : undefined;
    this.osCode = typeof sys.code === "string" && /^E[A-Z0-9_]+$/.test(sys.code) ? sys.code : undefined;
  }

  static {
    brandClass(ClientOSError, "ClientOSError", "X_CLIENT_OS_ERROR", [OSError]);
  }
}

/** How a connection was secured, as reported by connector errors. */
export type SslSetting = boolean | object;

/** Options of {@link ClientConnectorError} and its subclasses. */
export interface ClientConnectorErrorOptions {
  /** The host the connector tried to reach. */
  host: string;
  /** The port the connector tried to reach. */
  port: number;
  /** The TLS setting in force: `false` for plain TCP, `true` for default verification, or the options object. */
  ssl?: SslSetting | undefined;
  /** The original error (a Node system error, a TLS error, a DNS error). Also kept as `cause`. */
  osError?: unknown;
  /** Replaces the generated message. */
  message?: string | undefined;
}

function describeSsl(ssl: SslSetting): string {
  if (ssl === true) return "default";
  if (ssl === false) return "false";
  return "custom";
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message || cause.name;
  if (cause === undefined) return "unknown error";
  return String(cause);
}

/**
 * The connector could not open a connection to `host:port` (refused, unreachable, reset
 * during connect). The message names both: `Cannot connect to host example.com:443 ssl:default [...]`.
 */
export class ClientConnectorError extends ClientOSError {
  /** The host the connector tried to reach. */
  readonly host: string;
  /** The port the connector tried to reach. */
  readonly port: number;
  /** The TLS setting in force: `false`, `true` (default verification) or the options object. */
  readonly ssl: SslSetting;
  /** The original error; the same value as `cause`. */
  readonly osError: unknown;

  constructor(options: ClientConnectorErrorOptions) {
    const ssl = options.ssl ?? false;
    const host = options.host.includes(":") ? `[${options.host}]` : options.host;
    super(
      options.message ??
        `Cannot connect to host ${host}:${options.port} ssl:${describeSsl(ssl)} [${describeCause(options.osError)}]`,
      { cause: options.osError },
    );
    this.host = options.host;
    this.port = options.port;
    this.ssl = ssl;
    this.osError = options.osError;
  }

  static {
    brandClass(ClientConnectorError, "ClientConnectorError", "X_CLIENT_CONNECTOR_ERROR");
  }
}

/** The proxy itself could not be reached. `host` and `port` are the proxy's. */
export class ClientProxyConnectionError extends ClientConnectorError {
  static {
    brandClass(ClientProxyConnectionError, "ClientProxyConnectionError", "X_CLIENT_PROXY_CONNECTION_ERROR");
  }
}

/** The host name could not be resolved (`ENOTFOUND`, `EAI_AGAIN`, a resolver that returned nothing). */
export class ClientConnectorDNSError extends ClientConnectorError {
  static {
    brandClass(ClientConnectorDNSError, "ClientConnectorDNSError", "X_CLIENT_CONNECTOR_DNS_ERROR");
  }
}

/** Base of TLS failures while connecting. */
export class ClientSSLError extends ClientConnectorError {
  static {
    brandClass(ClientSSLError, "ClientSSLError", "X_CLIENT_SSL_ERROR");
  }
}

/**
 * The server's certificate was rejected: untrusted issuer, self-signed, expired, or a name
 * that does not match. `certificateError` is the TLS error's code
 * (`DEPTH_ZERO_SELF_SIGNED_CERT`, `ERR_TLS_CERT_ALTNAME_INVALID`, …).
 */
export class ClientConnectorCertificateError extends ClientSSLError {
  /** The TLS layer's code for the rejection, e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`. */
  readonly certificateError: string | undefined;

  constructor(options: ClientConnectorErrorOptions) {
    super(options);
    const code = (options.osError as { code?: unknown } | undefined)?.code;
    this.certificateError = typeof code === "string" ? code : undefined;
  }

  static {
    brandClass(
      ClientConnectorCertificateError,
      "ClientConnectorCertificateError",
      "X_CLIENT_CONNECTOR_CERTIFICATE_ERROR",
    );
  }
}

/**
 * Any other TLS failure while connecting (a handshake alert, a protocol mismatch). A connection
 * reset during the handshake is a `ClientConnectorError`, as aiohttp's `OSError`.
 */
export class ClientConnectorSSLError extends ClientSSLError {
  static {
    brandClass(ClientConnectorSSLError, "ClientConnectorSSLError", "X_CLIENT_CONNECTOR_SSL_ERROR");
  }
}

/** Options shared by server-side connection errors. */
export interface ServerErrorOptions {
  /** The peer's host, when known. */
  host?: string | undefined;
  /** The peer's port, when known. */
  port?: number | undefined;
  /** The underlying failure. */
  cause?: unknown;
}

function where(options: ServerErrorOptions | undefined): string {
  if (options?.host === undefined) return "";
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return options.port === undefined ? ` (${host})` : ` (${host}:${options.port})`;
}

/** The connection to the server failed after it was established. */
export class ServerConnectionError extends ClientConnectionError {
  /** The peer's host, when known. */
  readonly host: string | undefined;
  /** The peer's port, when known. */
  readonly port: number | undefined;

  constructor(message?: string, options?: ServerErrorOptions) {
    super(`${message ?? "Server connection error"}${where(options)}`, { cause: options?.cause });
    this.host = options?.host;
    this.port = options?.port;
  }

  static {
    brandClass(ServerConnectionError, "ServerConnectionError", "X_SERVER_CONNECTION_ERROR");
  }
}

/**
 * The server closed the connection before the response was complete: before the status line,
 * or on a reused keep-alive socket that had already been closed.
 */
export class ServerDisconnectedError extends ServerConnectionError {
  constructor(message?: string, options?: ServerErrorOptions) {
    super(message ?? "Server disconnected", options);
  }

  static {
    brandClass(ServerDisconnectedError, "ServerDisconnectedError", "X_SERVER_DISCONNECTED");
  }
}

/**
 * A server operation timed out (aiohttp's `ServerTimeoutError`, also a `TimeoutError`):
 * see `ConnectionTimeoutError` and `SocketTimeoutError`.
 */
export class ServerTimeoutError extends ServerConnectionError {
  constructor(message?: string, options?: ServerErrorOptions) {
    super(message ?? "Timeout on reading data from socket", options);
  }

  static {
    brandClass(ServerTimeoutError, "ServerTimeoutError", "X_SERVER_TIMEOUT", [TimeoutError]);
  }
}

/** `timeout.connect` or `timeout.sockConnect` elapsed: waiting for the pool, connecting, or the TLS handshake. */
export class ConnectionTimeoutError extends ServerTimeoutError {
  constructor(message?: string, options?: ServerErrorOptions) {
    super(message ?? "Connection timeout", options);
  }

  static {
    brandClass(ConnectionTimeoutError, "ConnectionTimeoutError", "X_CONNECTION_TIMEOUT");
  }
}

/** `timeout.sockRead` elapsed between two reads (headers or body). */
export class SocketTimeoutError extends ServerTimeoutError {
  constructor(message?: string, options?: ServerErrorOptions) {
    super(message ?? "Timeout on reading data from socket", options);
  }

  static {
    brandClass(SocketTimeoutError, "SocketTimeoutError", "X_SOCKET_TIMEOUT");
  }
}

/** Options of {@link ServerFingerprintMismatch}. */
export interface FingerprintMismatchOptions {
  /** The pinned SHA-256 digest. */
  expected: Uint8Array;
  /** The digest of the certificate the server presented. */
  got: Uint8Array;
  host: string;
  port: number;
  /** The underlying failure, if any (kept as `cause`). */
  cause?: unknown;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** The server's certificate did not match the pinned SHA-256 fingerprint; the connection was closed. */
export class ServerFingerprintMismatch extends ServerConnectionError {
  /** The pinned SHA-256 digest. */
  readonly expected: Uint8Array;
  /** The digest of the certificate the server presented. */
  readonly got: Uint8Array;
  declare readonly host: string;
  declare readonly port: number;

  constructor(options: FingerprintMismatchOptions) {
    super(`Server fingerprint mismatch: expected sha256 ${hex(options.expected)}, got ${hex(options.got)}`, {
      host: options.host,
      port: options.port,
      cause: options.cause,
    });
    this.expected = options.expected;
    this.got = options.got;
  }

  static {
    brandClass(ServerFingerprintMismatch, "ServerFingerprintMismatch", "X_SERVER_FINGERPRINT_MISMATCH");
  }
}

/** Writing to a connection that the peer had reset (aiohttp's `ClientConnectionResetError`). */
export class ClientConnectionResetError extends ClientConnectionError {
  static {
    brandClass(ClientConnectionResetError, "ClientConnectionResetError", "X_CLIENT_CONNECTION_RESET", [
      OSError,
    ]);
  }
}

/** The connector was closed while a request waited for, or asked for, a connection. */
export class ConnectorClosedError extends ClientConnectionError {
  constructor(message = "Connector is closed", options?: ErrorOptions) {
    super(message, options);
  }

  static {
    brandClass(ConnectorClosedError, "ConnectorClosedError", "X_CONNECTOR_CLOSED");
  }
}

/**
 * The request's `timeout.total` elapsed, body reading included. aiohttp raises a plain
 * `asyncio.TimeoutError` here; this one is a `ClientError` and matches the `TimeoutError` trait.
 */
export class TotalTimeoutError extends ClientError {
  /** The budget that elapsed, in milliseconds. */
  readonly timeout: number;

  constructor(timeout: number, options?: ErrorOptions) {
    super(`Total timeout of ${timeout} ms elapsed`, options);
    this.timeout = timeout;
  }

  static {
    brandClass(TotalTimeoutError, "TotalTimeoutError", "X_TOTAL_TIMEOUT", [TimeoutError]);
  }
}
