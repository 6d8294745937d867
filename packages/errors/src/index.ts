export type { ErrorTrait } from "./brand.js";
export {
  ClientError,
  ClientPayloadError,
  ClientStateError,
  InvalidArgumentError,
  WSMessageTypeError,
} from "./client-error.js";
export {
  ClientConnectionError,
  ClientConnectionResetError,
  ClientConnectorCertificateError,
  ClientConnectorDNSError,
  ClientConnectorError,
  type ClientConnectorErrorOptions,
  ClientConnectorSSLError,
  ClientOSError,
  ClientProxyConnectionError,
  ClientSSLError,
  ConnectionTimeoutError,
  ConnectorClosedError,
  type FingerprintMismatchOptions,
  ServerConnectionError,
  ServerDisconnectedError,
  type ServerErrorOptions,
  ServerFingerprintMismatch,
  ServerTimeoutError,
  SocketTimeoutError,
  type SslSetting,
  TotalTimeoutError,
} from "./connection-errors.js";
export type { HistoryEntry, RequestInfo } from "./request-info.js";
export {
  ClientHttpProxyError,
  ClientResponseError,
  type ClientResponseErrorOptions,
  ContentTypeError,
  TooManyRedirects,
  WSServerHandshakeError,
} from "./response-errors.js";
export { OSError, type OSErrorLike, RedirectClientError, TimeoutError, ValueError } from "./traits.js";
export {
  InvalidURL,
  InvalidUrlClientError,
  InvalidUrlRedirectClientError,
  NonHttpUrlClientError,
  NonHttpUrlRedirectClientError,
  type RedirectUrlErrorOptions,
} from "./url-errors.js";
