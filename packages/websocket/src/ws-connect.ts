import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { SecureContext } from "node:tls";
import { type Auth, BasicAuth } from "@x/auth";
import {
  checkHeaderName,
  checkHeaderValue,
  type Fingerprint,
  isToken,
  mergeSslParams,
  type PooledSocket,
  type ProxySettings,
  proxyOption,
  type SocketSource,
  type SslOption,
  TCPConnector,
  type TlsOptions,
} from "@x/connector";
import {
  ClientConnectionError,
  ClientError,
  InvalidArgumentError,
  InvalidUrlClientError,
  NonHttpUrlClientError,
  type RequestInfo,
  ServerTimeoutError,
  WSServerHandshakeError,
} from "@x/errors";
import { WebSocket } from "ws";
import { ClientWebSocketResponse } from "./client-ws-response.js";

/** aiohttp 3's `ClientWSTimeout` (ms), plus the handshake's own limit. `null` = none. */
export interface ClientWSTimeout {
  /** The opening handshake, after the connection is open. Default 30000. */
  handshake?: number | null;
  /** Each `receive()`. Default none. */
  wsReceive?: number | null;
  /** Waiting for the server's CLOSE after `close()`. Default 10000. */
  wsClose?: number | null;
}

/** Headers as `wsConnect` takes them. */
export type WSHeadersInput = Headers | Iterable<readonly [string, string]> | Readonly<Record<string, string>>;

/** Options of {@link wsConnect}. */
export interface WSConnectOptions {
  /** Subprotocols to offer; the server's choice is `ws.protocol`. */
  protocols?: readonly string[];
  /** A `ClientWSTimeout`, or a number: the handshake timeout. */
  timeout?: number | ClientWSTimeout;
  /** Seed-era: `timeout.wsReceive`. */
  receiveTimeout?: number | null;
  /** Credentials for the handshake (`BasicAuth`, `BearerAuth`, any `{ encode() }`). */
  auth?: Auth;
  /** Answer the server's CLOSE (ws always does, as RFC 6455 requires). Default `true`. */
  autoclose?: boolean;
  /** Answer PINGs automatically and hide PING/PONG from `receive()`. Default `true`. */
  autoping?: boolean;
  /** Send a PING after this many ms without data from the server; no PONG within half of it closes with 1006. */
  heartbeat?: number | null;
  /** The `Origin` header. */
  origin?: string;
  /** Extra handshake headers. */
  headers?: WSHeadersInput;
  /** The handshake method. Default `GET`. */
  method?: string;
  /** TLS for wss (see `@x/connector`). */
  ssl?: SslOption;
  verifySsl?: boolean;
  fingerprint?: Uint8Array | string | Fingerprint;
  sslContext?: TlsOptions | SecureContext;
  serverHostname?: string;
  /** permessage-deflate: 0 off (default), 9–15 the client's window bits. */
  compress?: number;
  /** Largest message accepted, bytes; bigger closes with 1009. Default 4 MiB; 0 = unlimited. */
  maxMsgSize?: number;
  /** Most frames one message may come in; more closes with 1008. Default 16384; 0 = unlimited. */
  maxMsgFragments?: number;
  /**
   * Where the socket comes from: a connector's pool (limits, DNS cache, TLS, pinning) — any
   * `SocketSource`, as every `@x/connector` connector is. The open websocket counts against the
   * pool's `limit` until closed. Default: a connector of its own, closed with the websocket.
   */
  connector?: SocketSource;
  /** Timeouts of getting the connection, ms. */
  connectTimeout?: { connect?: number | null; sockConnect?: number | null };
  /** Cancels the handshake. */
  signal?: AbortSignal;
  /**
   * A proxy to tunnel through (CONNECT), `http://` or `https://`; credentials in it become proxy
   * auth. `ProxySettings` (from `@x/connector`'s `proxySettings()`) are taken as they are.
   */
  proxy?: string | URL | ProxySettings | null;
  /** Credentials for the proxy. Never sent to the websocket server. */
  proxyAuth?: Auth;
  /** Headers for the proxy's CONNECT only. */
  proxyHeaders?: WSHeadersInput;
}

const DEFAULT_MAX_MSG = 4 * 1024 * 1024;
const DEFAULT_MAX_FRAGMENTS = 16 * 1024;
const CONNECTION_UPGRADE = /(^|,)\s*upgrade\s*(,|$)/i;

function headerPairs(input: WSHeadersInput | undefined): Array<[string, string]> {
  if (!input) return [];
  if (input instanceof Headers) return [...input];
  if (typeof (input as Iterable<unknown>)[Symbol.iterator] === "function") {
    return [...(input as Iterable<readonly [string, string]>)].map(([k, v]) => [k, v]);
  }
  return Object.entries(input as Record<string, string>);
}

/**
 * The handshake headers as Node's http.request takes them: a repeated header as an array under its
 * first spelling (two keys that differ only in case would send the last one alone).
 */
function requestHeaders(pairs: ReadonlyArray<readonly [string, string]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const spelling = new Map<string, string>();
  for (const [name, value] of pairs) {
    const first = spelling.get(name.toLowerCase());
    if (first === undefined) {
      spelling.set(name.toLowerCase(), name);
      out[name] = value;
    } else out[first] = [out[first] ?? [], value].flat();
  }
  return out;
}

function checkHeader(name: string, value: string): void {
  checkHeaderName(name);
  checkHeaderValue(name, value);
}

function toHeaders(raw: IncomingMessage["headers"]): Headers {
  const h = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) h.append(name, v);
  }
  return h;
}

function checkUrl(input: string | URL): URL {
  const text = String(input);
  if (/[\r\n\0]/.test(text)) throw new InvalidUrlClientError(text, "CR, LF and NUL are not allowed in a URL");
  let url: URL;
  try {
    url = new URL(text);
  } catch (err) {
    throw new InvalidUrlClientError(text, "not a valid absolute URL", { cause: err });
  }
  if (!["ws:", "wss:", "http:", "https:"].includes(url.protocol)) {
    throw new NonHttpUrlClientError(
      text,
      `unsupported scheme ${url.protocol} (expected ws, wss, http or https)`,
    );
  }
  if (!url.hostname) throw new InvalidUrlClientError(text, "the URL has no host");
  return url;
}

/**
 * Opens a websocket (aiohttp's `ws_connect`): takes a connection from the connector, performs the
 * handshake — checking the 101 status, `Upgrade`, `Connection`, `Sec-WebSocket-Accept` and the
 * subprotocol — and returns a {@link ClientWebSocketResponse}.
 *
 * @example
 * await using ws = await wsConnect("ws://127.0.0.1:8080/echo", { heartbeat: 30_000 });
 * await ws.sendJson({ hello: "world" });
 * console.log(await ws.receiveJson());
 * @throws {WSServerHandshakeError} when the server does not accept the upgrade (status and headers kept).
 * @throws `ClientConnectorError` and subclasses when the connection cannot be opened.
 */
export async function wsConnect(
  url: string | URL,
  options: WSConnectOptions = {},
): Promise<ClientWebSocketResponse> {
  const target = checkUrl(url);
  const secure = target.protocol === "wss:" || target.protocol === "https:";
  const httpUrl = new URL(target.href);
  httpUrl.protocol = secure ? "https:" : "http:";
  const wsUrl = new URL(target.href);
  wsUrl.protocol = secure ? "wss:" : "ws:";
  const urlAuth = BasicAuth.fromUrl(target) ?? undefined;
  for (const u of [httpUrl, wsUrl]) {
    u.username = "";
    u.password = "";
    u.hash = "";
  }
  if (urlAuth && options.auth)
    throw new InvalidArgumentError("credentials in the URL cannot be combined with auth");
  if (
    options.timeout !== undefined &&
    typeof options.timeout === "object" &&
    options.receiveTimeout !== undefined
  ) {
    throw new InvalidArgumentError(
      "receiveTimeout cannot be combined with timeout.wsReceive; use timeout only",
    );
  }
  const t: ClientWSTimeout =
    typeof options.timeout === "number" ? { handshake: options.timeout } : (options.timeout ?? {});
  const handshakeTimeout = t.handshake === undefined ? 30_000 : t.handshake;
  const receiveTimeout = t.wsReceive !== undefined ? t.wsReceive : (options.receiveTimeout ?? null);
  const closeTimeout = t.wsClose === undefined ? 10_000 : (t.wsClose ?? 2 ** 31 - 1);
  const compress = options.compress ?? 0;
  if (compress !== 0 && (!Number.isInteger(compress) || compress < 9 || compress > 15)) {
    throw new InvalidArgumentError("compress must be 0 or window bits from 9 to 15");
  }
  const maxMsgSize = options.maxMsgSize ?? DEFAULT_MAX_MSG;
  if (!Number.isInteger(maxMsgSize) || maxMsgSize < 0)
    throw new InvalidArgumentError("maxMsgSize must be a non-negative integer");
  const maxFragments = options.maxMsgFragments ?? DEFAULT_MAX_FRAGMENTS;
  if (!Number.isInteger(maxFragments) || maxFragments < 0)
    throw new InvalidArgumentError("maxMsgFragments must be a non-negative integer");
  const heartbeat = options.heartbeat ?? null;
  if (heartbeat !== null && (typeof heartbeat !== "number" || !(heartbeat > 0))) {
    throw new InvalidArgumentError("heartbeat must be a positive number of milliseconds or null");
  }
  const method = (options.method ?? "GET").toUpperCase();
  if (!/^[A-Z]+$/.test(method))
    throw new InvalidArgumentError(`invalid method ${JSON.stringify(options.method)}`);
  const protocols = [...(options.protocols ?? [])];
  for (const p of protocols) {
    if (!isToken(p)) {
      throw new InvalidArgumentError(`invalid websocket protocol ${JSON.stringify(p)}`);
    }
  }
  const headers: Array<[string, string]> = [];
  let protocolVersion: 8 | 13 = 13;
  for (const [name, value] of headerPairs(options.headers)) {
    checkHeader(name, value);
    if (name.toLowerCase() === "sec-websocket-version") {
      // ws writes this header itself, for the versions it speaks: 13, and 8 (hybi-08).
      if (value.trim() !== "13" && value.trim() !== "8") {
        throw new InvalidArgumentError(
          `Sec-WebSocket-Version ${JSON.stringify(value)} is not supported (13 or 8)`,
        );
      }
      protocolVersion = value.trim() === "8" ? 8 : 13;
      continue;
    }
    headers.push([name, value]);
  }
  if (options.origin !== undefined) checkHeader("Origin", options.origin);
  const auth = urlAuth ?? options.auth;
  const authValue = auth?.encode({ method, url: httpUrl, body: null });
  if (authValue) {
    checkHeader("Authorization", authValue);
    for (let i = headers.length - 1; i >= 0; i--) {
      if (headers[i]![0].toLowerCase() === "authorization") headers.splice(i, 1);
    }
    headers.push(["Authorization", authValue]);
  }
  const ssl = mergeSslParams(options);
  const proxy =
    options.proxy === undefined || options.proxy === null
      ? undefined
      : proxyOption(
          options.proxy,
          "proxy",
          options.proxyAuth?.encode({ method: "CONNECT", url: httpUrl, body: null }) || undefined,
          options.proxyHeaders ? headerPairs(options.proxyHeaders) : undefined,
        );

  const own = options.connector === undefined ? new TCPConnector({ limit: 0 }) : undefined;
  const connector: SocketSource = options.connector ?? own!;
  if (typeof connector.connectSocket !== "function") {
    throw new InvalidArgumentError(
      "connector must be a SocketSource (with connectSocket()), as @x/connector's connectors are",
    );
  }
  let conn: PooledSocket;
  try {
    conn = await connector.connectSocket({
      url: httpUrl,
      ssl,
      serverHostname: options.serverHostname,
      proxy,
      timeout: options.connectTimeout,
      signal: options.signal,
    });
  } catch (err) {
    if (own) await own.destroy();
    throw err;
  }
  const socket = conn.transport as Socket;
  const release = () => {
    conn.close();
    if (own) void own.destroy();
  };

  const sentHeaders = new Headers(headers);
  const requestInfo: RequestInfo = {
    url: httpUrl,
    method,
    headers: sentHeaders,
    realUrl: new URL(target.href),
  };
  if (method !== "GET") rewriteMethod(socket, method);

  return new Promise<ClientWebSocketResponse>((resolve, reject) => {
    let settled = false;
    let upgradeHeaders: Headers | undefined;
    let serverProtocol: string | null = null;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      ws.terminate();
      release();
      reject(err);
    };
    const onAbort = () => fail(options.signal?.reason as Error);
    const ws = new WebSocket(wsUrl, protocols, {
      createConnection: () => socket,
      headers: requestHeaders(headers),
      ...(options.origin !== undefined ? { origin: options.origin } : {}),
      perMessageDeflate: compress ? { clientMaxWindowBits: compress, serverMaxWindowBits: compress } : false,
      maxPayload: maxMsgSize,
      maxFragments,
      protocolVersion,
      autoPong: options.autoping ?? true,
      followRedirects: false,
      skipUTF8Validation: false,
    });
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const timer =
      handshakeTimeout !== null && handshakeTimeout > 0
        ? setTimeout(
            () =>
              fail(
                new ServerTimeoutError(`Websocket handshake timed out after ${handshakeTimeout} ms`, {
                  host: httpUrl.hostname,
                }),
              ),
            handshakeTimeout,
          )
        : undefined;
    ws.once("upgrade", (res: IncomingMessage) => {
      upgradeHeaders = toHeaders(res.headers);
      const protocol = res.headers["sec-websocket-protocol"];
      serverProtocol = typeof protocol === "string" ? protocol : null;
      if (!CONNECTION_UPGRADE.test(String(res.headers.connection ?? ""))) {
        fail(
          new WSServerHandshakeError(requestInfo, [], {
            status: 101,
            message: "Invalid connection header",
            headers: upgradeHeaders,
          }),
        );
        return;
      }
      if (serverProtocol === null && protocols.length > 0) {
        // RFC 6455 (and aiohttp) accept a server that picks no subprotocol; ws does not, so it is
        // told the first one was picked. `ws.protocol` reports the truth: none.
        res.headers["sec-websocket-protocol"] = protocols[0];
      }
    });
    ws.once("unexpected-response", (_req, res: IncomingMessage) => {
      res.resume();
      fail(
        new WSServerHandshakeError(requestInfo, [], {
          status: res.statusCode ?? 0,
          message: "Invalid response status",
          headers: toHeaders(res.headers),
        }),
      );
    });
    ws.once("error", (err: Error) => {
      if (settled) return;
      if (upgradeHeaders !== undefined || /Sec-WebSocket|subprotocol|Upgrade|extension/i.test(err.message)) {
        fail(
          new WSServerHandshakeError(requestInfo, [], {
            status: 101,
            message: err.message,
            headers: upgradeHeaders,
            cause: err,
          }),
        );
      } else {
        fail(
          err instanceof ClientError
            ? err
            : new ClientConnectionError(`Websocket handshake failed: ${err.message}`, { cause: err }),
        );
      }
    });
    ws.once("open", () => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      const negotiated = (
        ws as unknown as { _extensions: Record<string, { params?: Record<string, unknown> }> }
      )._extensions["permessage-deflate"];
      const bits = negotiated ? Number(negotiated.params?.client_max_window_bits ?? 15) || 15 : 0;
      resolve(
        new ClientWebSocketResponse({
          ws,
          socket,
          protocol: serverProtocol,
          compress: bits,
          headers: upgradeHeaders ?? new Headers(),
          autoclose: options.autoclose ?? true,
          autoping: options.autoping ?? true,
          heartbeat,
          receiveTimeout,
          closeTimeout,
          maxQueueBytes: Math.max(1024 * 1024, maxMsgSize === 0 ? 0 : maxMsgSize),
          onClosed: release,
        }),
      );
    });
  });
}

/** The handshake request line says `method` instead of GET (ws only writes GET). */
function rewriteMethod(socket: Socket, method: string): void {
  const write = socket.write;
  socket.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
    socket.write = write;
    let out = chunk;
    if (typeof chunk === "string" && chunk.startsWith("GET ")) out = `${method} ${chunk.slice(4)}`;
    else if (Buffer.isBuffer(chunk) && chunk.subarray(0, 4).toString("latin1") === "GET ") {
      out = Buffer.concat([Buffer.from(`${method} `, "latin1"), chunk.subarray(4)]);
    }
    return (write as (...args: unknown[]) => boolean).call(this, out, ...rest);
  } as typeof socket.write;
}
