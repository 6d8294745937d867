export { ClientWebSocketResponse, type WSCloseOptions } from "./client-ws-response.js";
export { type WSMessage, WSMsgType, type WSMsgTypeName, wsMsgTypeName } from "./messages.js";
export { type ClientWSTimeout, type WSConnectOptions, type WSHeadersInput, wsConnect } from "./ws-connect.js";
