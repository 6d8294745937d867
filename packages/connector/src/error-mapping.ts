import {
  ClientConnectionError,
  ClientConnectorCertificateError,
  ClientConnectorDNSError,
  ClientConnectorError,
  type ClientConnectorErrorOptions,
  ClientConnectorSSLError,
  ClientError,
  ClientOSError,
  ClientPayloadError,
  ClientResponseError,
  ConnectionTimeoutError,
  ConnectorClosedError,
  InvalidArgumentError,
  type RequestInfo,
  ServerDisconnectedError,
  SocketTimeoutError,
} from "@x/errors";
import { clientErrorOf } from "./handler-errors.js";

/** TLS verification failures: the certificate itself was not acceptable. */
const CERTIFICATE_CODES = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_CRL",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECRYPT_CRL_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CRL_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CRL_NOT_YET_VALID",
  "CRL_HAS_EXPIRED",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Where a connection attempt was going, for error messages. */
export type ConnectTarget = Omit<ClientConnectorErrorOptions, "osError" | "message">;

/** Maps a failure of the TLS handshake to aiohttp's class for it. */
export function tlsError(err: unknown, target: ConnectTarget): ClientError {
  if (err instanceof ClientError) return err;
  const code = codeOf(err);
  if (code !== undefined && CERTIFICATE_CODES.has(code)) {
    return new ClientConnectorCertificateError({ ...target, osError: err });
  }
  // A reset or refusal during the handshake is an OS error, like aiohttp's OSError branch.
  if (typeof (err as { syscall?: unknown } | null)?.syscall === "string") {
    return new ClientConnectorError({ ...target, osError: err });
  }
  return new ClientConnectorSSLError({ ...target, osError: err });
}

/** Maps a failure to open the TCP connection. */
export function tcpError(err: unknown, target: ConnectTarget): ClientError {
  if (err instanceof ClientError) return err;
  return new ClientConnectorError({ ...target, osError: err });
}

/** What is known about a request when its dispatch fails; see {@link dispatchError}. */
export interface DispatchFailure {
  /** The peer. */
  host: string;
  port: number;
  /** Response headers had arrived before the failure. */
  headersReceived: boolean;
  /** Builds the request info for errors that need one. */
  requestInfo(): RequestInfo;
}

/**
 * Maps what an undici dispatcher reports for a request to `@x/errors`: socket, parser, timeout
 * and size errors of a running request, and — for dispatchers other than ours, such as undici's
 * `Agent` — connection, DNS and certificate failures. Errors that are already `ClientError`s,
 * and errors it does not recognise (a handler's own), pass through unchanged.
 */
export function dispatchError(err: unknown, failure: DispatchFailure): unknown {
  if (err instanceof ClientError || err === null || typeof err !== "object") return err;
  const described = clientErrorOf(err);
  if (described) return described;
  const code = codeOf(err);
  const peer = { host: failure.host, port: failure.port, cause: err };
  if (isUnaskedUpgrade(err, code)) {
    return new ClientResponseError(failure.requestInfo(), [], {
      status: 101,
      message:
        "Switching Protocols, for a request that did not ask to upgrade (undici's HTTP/1.1 client drops such a connection)",
      cause: err,
    });
  }
  switch (code) {
    case "UND_ERR_SOCKET":
      return failure.headersReceived
        ? new ClientPayloadError(
            `Response payload is not completed: the server closed the connection (${where(failure)})`,
            {
              cause: err,
            },
          )
        : new ServerDisconnectedError(undefined, peer);
    case "UND_ERR_HEADERS_TIMEOUT":
    case "UND_ERR_BODY_TIMEOUT":
      return new SocketTimeoutError(undefined, peer);
    case "UND_ERR_CONNECT_TIMEOUT":
      return new ConnectionTimeoutError(undefined, peer);
    case "UND_ERR_RES_CONTENT_LENGTH_MISMATCH":
      return new ClientPayloadError(
        `Response payload is not completed: body length does not match Content-Length (${where(failure)})`,
        { cause: err },
      );
    case "UND_ERR_RES_EXCEEDED_MAX_SIZE":
      return new ClientPayloadError(`Response body exceeds the maximum size (${where(failure)})`, {
        cause: err,
      });
    case "UND_ERR_HEADERS_OVERFLOW":
      return new ClientResponseError(failure.requestInfo(), [], {
        status: 400,
        message: "Response headers exceed the maximum size",
        cause: err,
      });
    case "UND_ERR_INVALID_ARG":
    case "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH":
    case "UND_ERR_NOT_SUPPORTED":
      return new InvalidArgumentError((err as Error).message, { cause: err });
    case "UND_ERR_CLOSED":
    case "UND_ERR_DESTROYED":
      return new ConnectorClosedError(undefined, { cause: err });
  }
  if (code?.startsWith("HPE_") || (err as Error).name === "HTTPParserError") {
    const reason = (err as Error).message;
    return failure.headersReceived
      ? new ClientPayloadError(`Response payload is not completed: ${reason} (${where(failure)})`, {
          cause: err,
        })
      : new ClientResponseError(failure.requestInfo(), [], {
          status: 400,
          message: `Invalid response: ${reason}`,
          cause: err,
        });
  }
  const syscall = (err as { syscall?: unknown }).syscall;
  const target = { host: failure.host, port: failure.port, ssl: false, osError: err };
  if (syscall === "getaddrinfo" || syscall === "queryA" || syscall === "queryAaaa") {
    return new ClientConnectorDNSError(target);
  }
  if (syscall === "connect") return new ClientConnectorError(target);
  if (code !== undefined && CERTIFICATE_CODES.has(code)) return new ClientConnectorCertificateError(target);
  if (typeof syscall === "string") {
    return failure.headersReceived
      ? new ClientPayloadError(
          `Response payload is not completed: ${(err as Error).message} (${where(failure)})`,
          {
            cause: err,
          },
        )
      : new ClientOSError(`${(err as Error).message} (${where(failure)})`, { cause: err });
  }
  // undici's answers to a status (its responseError interceptor, RetryAgent giving up) carry it.
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === "number" && status >= 400) {
    return new ClientResponseError(failure.requestInfo(), [], {
      status,
      message: (err as Error).message,
      headers: headersOf((err as { headers?: unknown }).headers),
      cause: err,
    });
  }
  // Anything else a dispatcher reports (undici's mock errors, an aborted dispatch, a third-party
  // dispatcher's own error) is still a failure to get the response: a ClientConnectionError.
  const message = err instanceof Error ? err.message : String(err);
  return new ClientConnectionError(`${message} (${where(failure)})`, { cause: err });
}

/** A `Headers` from the record or pairs an undici error carries, if any. */
function headersOf(raw: unknown): Headers | undefined {
  if (raw === null || typeof raw !== "object") return undefined;
  const headers = new Headers();
  try {
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      for (const v of Array.isArray(value) ? value : [value])
        if (v !== undefined) headers.append(name, String(v));
    }
  } catch {
    return undefined;
  }
  return headers;
}

/** undici's reports of a `101 Switching Protocols` answer to a request that asked for no upgrade. */
function isUnaskedUpgrade(err: unknown, code: string | undefined): boolean {
  const message = (err as Error).message;
  return (
    (code === "UND_ERR_SOCKET" && message === "bad upgrade") ||
    (code === "ERR_ASSERTION" && /assert\(upgrade\)/.test(message))
  );
}

function where(failure: { host: string; port: number }): string {
  const host = failure.host.includes(":") ? `[${failure.host}]` : failure.host;
  return `${host}:${failure.port}`;
}
