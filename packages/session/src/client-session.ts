import { BasicAuth } from "@x/auth";
import { BaseConnector, type ConnectorDispatchExtension, isToken, TCPConnector } from "@x/connector";
import { cookieHeader } from "@x/cookies";
import { ClientStateError, InvalidArgumentError, type RequestInfo } from "@x/errors";
import { type ClientWebSocketResponse, type WSConnectOptions, wsConnect } from "@x/websocket";
import type { Dispatcher } from "undici";
import type { ClientRequest } from "./client-request.js";
import type { ClientResponse } from "./client-response.js";
import type { ResolvedTimeout } from "./client-timeout.js";
import { HeaderList } from "./headers.js";
import { netrcFor } from "./netrc.js";
import type { ClientSessionOptions, RequestOptions } from "./options.js";
import { proxyFromEnv } from "./proxy-env.js";
import { type HopResult, RequestCall } from "./request-call.js";
import { ResponseHandler } from "./response-handler.js";
import { resolveConfig, type SessionConfig } from "./session-config.js";
import { resolveUrl } from "./url.js";

/** Calls to run when a basic-API request's body is done, keyed by its options object. */
const oneShot = new WeakMap<object, () => void>();

const unclosed = new FinalizationRegistry<string>((where) => {
  process.emitWarning(`Unclosed client session${where}`, {
    type: "ResourceWarning",
    code: "X_UNCLOSED_SESSION",
  });
});

/**
 * The client session (aiohttp's `ClientSession`): one connection pool, one cookie jar, default
 * headers, auth and timeouts for every request made through it. Make one per application (or per
 * service you talk to), not one per request, and close it when done — `await using` does.
 *
 * @example
 * await using session = new ClientSession({ baseUrl: "http://127.0.0.1:8080/" });
 * await using resp = await session.get("users", { params: { page: 2 } });
 * console.log(resp.status, await resp.json());
 * @throws {InvalidArgumentError} for invalid options.
 */
export class ClientSession implements AsyncDisposable {
  // It is the CallHost of request-call.ts structurally: those members are @internal and stripped
  // from the published types, so the class cannot name that interface.
  /** @internal */
  readonly config: SessionConfig;
  readonly #dispatcher: Dispatcher;
  readonly #owner: boolean;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: ClientSessionOptions = {}) {
    this.config = resolveConfig(options);
    const connector = options.connector;
    if (
      connector !== undefined &&
      (typeof connector !== "object" || typeof connector?.dispatch !== "function")
    ) {
      throw new InvalidArgumentError("connector must be an undici Dispatcher (with a dispatch method)");
    }
    this.#dispatcher =
      connector ??
      new TCPConnector({
        maxHeaderSize: Math.max(65536, this.config.maxFieldSize * 4),
        allowH2: options.http2 ?? false,
      });
    this.#owner = options.connectorOwner ?? true;
    unclosed.register(this, "", this);
  }

  /** True once `close()` or `detach()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The connector (any undici Dispatcher) requests go through. */
  get connector(): Dispatcher {
    return this.#dispatcher;
  }

  /** True when closing the session closes the connector. */
  get connectorOwner(): boolean {
    return this.#owner;
  }

  /** The cookie jar. */
  get cookieJar(): SessionConfig["cookieJar"] {
    return this.config.cookieJar;
  }

  /** The session's timeouts, every field decided (`null` = off). */
  get timeout(): ResolvedTimeout {
    return this.config.timeout;
  }

  /** A copy of the headers sent with every request. */
  get headers(): Headers {
    return this.config.headers.toHeaders();
  }

  /** Relative request URLs resolve against it. */
  get baseUrl(): URL | undefined {
    return this.config.baseUrl;
  }

  /**
   * Sends a request and resolves once the response's status and headers have arrived; read the
   * body from the returned response.
   * @throws {ClientStateError} if the session is closed.
   * @throws {InvalidArgumentError} / `InvalidURL` subclasses for bad input, before any I/O.
   * @throws `ClientConnectionError`, `ClientResponseError` and the other `@x/errors` classes.
   */
  async request(method: string, url: string | URL, options: RequestOptions = {}): Promise<ClientResponse> {
    if (this.#closed) throw new ClientStateError("Session is closed");
    if (!isToken(method)) {
      throw new InvalidArgumentError(`invalid HTTP method ${JSON.stringify(method)}`);
    }
    if (typeof options !== "object" || options === null)
      throw new InvalidArgumentError("options must be an object");
    const call = new RequestCall(this, options, oneShot.get(options));
    return call.run(method.toUpperCase(), url);
  }

  /** GET (follows redirects). */
  get(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("GET", url, options);
  }

  /** POST; `options.data` or `options.json` is the body. */
  post(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("POST", url, options);
  }

  put(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("PUT", url, options);
  }

  patch(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("PATCH", url, options);
  }

  delete(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("DELETE", url, options);
  }

  /** HEAD; does not follow redirects unless `allowRedirects: true`. */
  head(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("HEAD", url, options);
  }

  options(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("OPTIONS", url, options);
  }

  /**
   * Opens a websocket through the session (aiohttp's `session.ws_connect`): the session's
   * connector (its limits count the open websocket), default headers, cookies, auth and timeouts
   * apply, and cookies the handshake sets are stored. Options are `@x/websocket`'s `wsConnect`'s.
   * @throws {ClientStateError} if the session is closed.
   * @throws {WSServerHandshakeError} when the server refuses the upgrade.
   */
  async wsConnect(url: string | URL, options: WSConnectOptions = {}): Promise<ClientWebSocketResponse> {
    if (this.#closed) throw new ClientStateError("Session is closed");
    const cfg = this.config;
    const target = resolveUrl(url, cfg.baseUrl, ["ws:", "wss:", "http:", "https:"]);
    const headers = cfg.headers.clone();
    if (options.headers) {
      const given = HeaderList.from(options.headers);
      for (const [name] of given) headers.delete(name);
      for (const [name, value] of given) headers.append(name, value);
    }
    const cookies = cfg.cookieJar.filterCookies(target);
    if (cookies.size > 0 && !headers.has("cookie")) headers.set("Cookie", cookieHeader(cookies));
    const sessionAuth =
      cfg.baseUrl === undefined || cfg.baseUrl.origin === httpOrigin(target) ? cfg.auth : undefined;
    const netrc = cfg.trustEnv ? netrcFor(target.hostname) : undefined;
    const auth =
      target.username || target.password || headers.has("authorization")
        ? options.auth
        : (options.auth ?? sessionAuth ?? (netrc ? new BasicAuth(netrc.login, netrc.password) : undefined));
    const proxy =
      options.proxy !== undefined
        ? options.proxy
        : (cfg.proxy ?? (cfg.trustEnv ? proxyFromEnv(target) : undefined));
    const ws = await wsConnect(target, {
      ...options,
      proxy,
      ...((options.proxyAuth ?? cfg.proxyAuth) ? { proxyAuth: options.proxyAuth ?? cfg.proxyAuth } : {}),
      ...((options.proxyHeaders ?? cfg.proxyHeaders)
        ? { proxyHeaders: options.proxyHeaders ?? cfg.proxyHeaders }
        : {}),
      headers: [...headers],
      ...(auth ? { auth } : {}),
      ...(this.#dispatcher instanceof BaseConnector ? { connector: this.#dispatcher } : {}),
      connectTimeout: options.connectTimeout ?? {
        connect: cfg.timeout.connect,
        sockConnect: cfg.timeout.sockConnect,
      },
    });
    const setCookies = ws.headers.getSetCookie();
    if (setCookies.length > 0) cfg.cookieJar.updateCookies(setCookies, httpUrl(target));
    return ws;
  }

  /**
   * Closes the session, and the connector if the session owns it: as aiohttp's `close()`, every
   * connection closes at once and requests still running fail (undici's `close()` then
   * `destroy()`, so any undici dispatcher ends both closed and destroyed). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      unclosed.unregister(this);
      if (!this.#owner) return;
      const dispatcher = this.#dispatcher;
      const closing = dispatcher.close().catch(() => {});
      await dispatcher.destroy();
      await closing;
    })();
    return this.#closing;
  }

  /** Closes the session but leaves the connector open (and in the caller's hands). */
  detach(): void {
    this.#closed = true;
    unclosed.unregister(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal Sends one hop through the connector. */
  send(request: ClientRequest, call: RequestCall): Promise<HopResult> {
    const cfg = this.config;
    return new Promise<HopResult>((resolve, reject) => {
      const headers = request.headers.toFlat();
      const requestInfo = new SentRequestInfo(request, headers);
      const handler: ResponseHandler = new ResponseHandler(
        {
          method: request.method,
          url: request.url,
          realUrl: request.realUrl,
          requestInfo,
          autoDecompress: request.autoDecompress,
          decompress: cfg.decompress,
          readBufsize: cfg.readBufsize,
          maxLineSize: cfg.maxLineSize,
          maxFieldSize: cfg.maxFieldSize,
          readUntilEof: request.readUntilEof,
          fallbackCharset: cfg.fallbackCharset,
          sockRead: request.timeout.sockRead,
          observer: call.observerFor(request),
        },
        call,
        (response) => resolve({ response, handler }),
        reject,
      );
      call.setCurrent(handler);
      if (request.proxy && !(this.#dispatcher instanceof BaseConnector)) {
        reject(
          new InvalidArgumentError(
            "proxy needs an @x/connector connector; with undici, use its ProxyAgent as the connector",
          ),
        );
        return;
      }
      if (
        call.expect100 &&
        (this.#dispatcher as { expectContinueHttp1?: unknown }).expectContinueHttp1 !== true
      ) {
        reject(
          new InvalidArgumentError(
            "expect100 needs a connector that honours undici's expectContinue over HTTP/1.1 (an @x/connector connector); undici's own clients wait for 100 Continue over HTTP/2 only",
          ),
        );
        return;
      }
      try {
        const url = request.url;
        this.#dispatcher.dispatch(
          {
            origin: url.origin,
            path: request.rawTarget ?? `${url.pathname}${url.search}`,
            method: request.method,
            headers,
            body: (request.body ? request.body.take() : null) as never,
            // sockRead is the handler's own, exact timer; total covers the rest.
            headersTimeout: 0,
            bodyTimeout: 0,
            ...(call.expect100 ? { expectContinue: true } : {}),
            // undici closes the connection after every HEAD by default; aiohttp keeps it, and a
            // server that sends a stray body is caught by undici's idle-socket check anyway.
            ...(request.closeConnection
              ? { reset: true }
              : request.method === "HEAD"
                ? { reset: false }
                : {}),
            connectorOptions: {
              ssl: request.ssl,
              serverHostname: request.serverHostname,
              proxy: request.proxy,
              timeout: call.connectorTimeout,
              trace: call.connectorTrace,
              onConnection: handler.onConnection,
            },
          } as Dispatcher.DispatchOptions & ConnectorDispatchExtension,
          handler,
        );
      } catch (err) {
        reject(err);
      }
    });
  }
}

/** Options of the basic API's {@link request}: a request's options plus a few session ones. */
export interface BasicRequestOptions extends RequestOptions {
  /** A connector to use (and leave open); default a new `TCPConnector({ forceClose: true })`. */
  connector?: Dispatcher;
  version?: ClientSessionOptions["version"];
  cookieJar?: ClientSessionOptions["cookieJar"];
}

/**
 * aiohttp's basic API: one request without a session of your own. A one-shot session is made
 * for it and closed as soon as the body is read or released; its connection is not kept alive.
 *
 * @example
 * const resp = await request("GET", "http://127.0.0.1:8080/");
 * console.log(await resp.text());
 */
export async function request(
  method: string,
  url: string | URL,
  options: BasicRequestOptions = {},
): Promise<ClientResponse> {
  const { connector, version, cookieJar, ...rest } = options;
  const session = new ClientSession({
    connector: connector ?? new TCPConnector({ forceClose: true }),
    connectorOwner: connector === undefined,
    ...(version !== undefined ? { version } : {}),
    ...(cookieJar !== undefined ? { cookieJar } : {}),
  });
  unclosed.unregister(session);
  const perCall: RequestOptions = { ...rest };
  oneShot.set(perCall, () => void session.close());
  try {
    return await session.request(method, url, perCall);
  } catch (err) {
    await session.close();
    throw err;
  }
}

/** The `RequestInfo` of a sent request; its `Headers` are built only if someone looks. */
class SentRequestInfo implements RequestInfo {
  readonly url: URL;
  readonly method: string;
  readonly realUrl: URL;
  readonly #flat: string[];
  #headers: Headers | undefined;

  constructor(request: ClientRequest, flat: string[]) {
    this.url = request.url;
    this.method = request.method;
    this.realUrl = request.realUrl;
    this.#flat = flat;
  }

  get headers(): Headers {
    if (!this.#headers) {
      const h = new Headers();
      for (let i = 0; i < this.#flat.length; i += 2) h.append(this.#flat[i]!, this.#flat[i + 1]!);
      this.#headers = h;
    }
    return this.#headers;
  }
}

function httpUrl(url: URL): URL {
  const out = new URL(url.href);
  if (out.protocol === "ws:") out.protocol = "http:";
  else if (out.protocol === "wss:") out.protocol = "https:";
  return out;
}

function httpOrigin(url: URL): string {
  return httpUrl(url).origin;
}
