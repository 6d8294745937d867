import type { ProxySettings, SslOption } from "@x/connector";
import type { RequestBody } from "./body.js";
import type { ResolvedTimeout } from "./client-timeout.js";
import type { HeaderList } from "./headers.js";

/**
 * One request on the wire (aiohttp's `ClientRequest`): what a middleware sees and may change.
 * Each redirect hop and each retry is a request of its own.
 */
export class ClientRequest {
  /** Upper-case method. */
  method: string;
  /** The URL, without userinfo or fragment. */
  url: URL;
  /** The URL as the caller gave it (or the redirect named it), fragment included. */
  readonly realUrl: URL;
  /** Every header that will be sent (auto headers, cookies and auth included), in order. */
  headers: HeaderList;
  /** The body, if any. */
  body: RequestBody | undefined;
  /** Timeouts in force for this request. */
  readonly timeout: ResolvedTimeout;
  /** TLS setting for this request, if it overrides the connector's. */
  ssl: SslOption | undefined;
  /** TLS server name override. */
  serverHostname: string | undefined;
  /** The proxy this request goes through, if any (chosen again for each hop). */
  proxy: ProxySettings | undefined;
  /** Decode compressed responses. */
  autoDecompress: boolean;
  /** Read bodies delimited only by the connection closing. */
  readUntilEof: boolean;
  readonly #signal: () => AbortSignal;
  /** Ask the server to close the connection after the response (HTTP/1.0 semantics). */
  closeConnection: boolean;
  /**
   * The request target exactly as a redirect's `Location` wrote it, sent instead of `url`'s
   * normalized path when the session has `requoteRedirectUrl: false`.
   */
  rawTarget: string | undefined;

  /** @internal Made by the session for each hop. */
  constructor(init: {
    method: string;
    url: URL;
    realUrl: URL;
    headers: HeaderList;
    body: RequestBody | undefined;
    timeout: ResolvedTimeout;
    ssl: SslOption | undefined;
    serverHostname: string | undefined;
    proxy?: ProxySettings | undefined;
    autoDecompress: boolean;
    readUntilEof: boolean;
    closeConnection: boolean;
    rawTarget?: string | undefined;
    /** The call's signal, made on first use. */
    signal: () => AbortSignal;
  }) {
    this.method = init.method;
    this.url = init.url;
    this.realUrl = init.realUrl;
    this.headers = init.headers;
    this.body = init.body;
    this.timeout = init.timeout;
    this.ssl = init.ssl;
    this.serverHostname = init.serverHostname;
    this.proxy = init.proxy;
    this.autoDecompress = init.autoDecompress;
    this.readUntilEof = init.readUntilEof;
    this.closeConnection = init.closeConnection;
    this.rawTarget = init.rawTarget;
    this.#signal = init.signal;
  }

  /** Aborted when the call fails (total timeout, the caller's signal): for middlewares that wait. */
  get signal(): AbortSignal {
    return this.#signal();
  }

  /** True for methods RFC 9110 calls idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE, QUERY). */
  get idempotent(): boolean {
    return IDEMPOTENT.has(this.method);
  }
}

export const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", "QUERY"]);
