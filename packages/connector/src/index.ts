export {
  BaseConnector,
  type BaseConnectorOptions,
  type ConnectAttempt,
  type ConnectorStats,
  type ConnectRequest,
} from "./base-connector.js";
export { Connection } from "./connection.js";
export type {
  ConnectionInfo,
  ConnectorDispatchExtension,
  ConnectorDispatchOptions,
  ConnectorTimeouts,
  KeyOptions,
} from "./dispatch-options.js";
export { type DispatchFailure, dispatchError } from "./error-mapping.js";
export { checkHeaderName, checkHeaderValue, isToken } from "./fields.js";
export { Fingerprint } from "./fingerprint.js";
export type { PoolKey } from "./pool-key.js";
export { type ConnectionState, PooledConnection } from "./pooled-connection.js";
export { type ProxySettings, proxyId, proxyOption, proxySettings } from "./proxy.js";
export {
  type AbstractResolver,
  type AddressFamily,
  AsyncResolver,
  type AsyncResolverOptions,
  DefaultResolver,
  type ResolvedHost,
  ThreadedResolver,
} from "./resolver.js";
export { isSocketSource, type PooledSocket, type SocketSource } from "./socket-source.js";
export {
  type LegacySslParams,
  mergeSslParams,
  type ResolvedTls,
  type SslOption,
  type TlsOptions,
} from "./ssl.js";
export { type LocalAddress, TCPConnector, type TCPConnectorOptions } from "./tcp-connector.js";
export { type ConnectorChannelName, type ConnectorTrace, connectorChannels } from "./trace.js";
export { type FetchDispatcher, fetchDispatcher, withConnectorOptions } from "./typed-options.js";
export { UnixConnector } from "./unix-connector.js";
