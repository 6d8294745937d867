export {
  ClientWebSocketResponse,
  type ClientWSTimeout,
  type WSCloseOptions,
  type WSConnectOptions,
  type WSMessage,
  WSMsgType,
  type WSMsgTypeName,
  wsMsgTypeName,
} from "@x/websocket";
export type { CompressOption, FormValue, RequestData } from "./body.js";
export { ClientRequest } from "./client-request.js";
export {
  type CharsetResolver,
  ClientResponse,
  type HttpVersion,
  type JsonOptions,
} from "./client-response.js";
export {
  type BasicRequestOptions,
  ClientSession,
  request,
  type SessionWSConnectOptions,
} from "./client-session.js";
export { type ClientTimeout, DEFAULT_TIMEOUT, type ResolvedTimeout } from "./client-timeout.js";
export type { LinkEntry } from "./content-type.js";
export type { HeaderList, HeadersInput, HeaderValue } from "./headers.js";
export type { ClientHandler, ClientMiddleware } from "./middleware.js";
export type { ClientSessionOptions, Progress, RaiseForStatus, RequestOptions } from "./options.js";
export {
  isRetryableError,
  parseRetryAfter,
  type RetryInfo,
  type RetryOptions,
  retryMiddleware,
} from "./retry.js";
export { StreamReader } from "./stream-reader.js";
export {
  Signal,
  sessionChannels,
  TraceConfig,
  type TraceConfigOptions,
  type TraceConnectionParams,
  type TraceDnsParams,
  type TraceRequestChunkSentParams,
  type TraceRequestEndParams,
  type TraceRequestExceptionParams,
  type TraceRequestHeadersSentParams,
  type TraceRequestRedirectParams,
  type TraceRequestStartParams,
  type TraceResponseChunkReceivedParams,
} from "./tracing.js";
export type { ParamsInput, ParamValue } from "./url.js";
