import { type ConnectorDispatchExtension, isSocketSource, isToken, TCPConnector } from "@x/connector";
import type { AbstractCookieJar, CookieInput, CookieJar } from "@x/cookies";
import { ClientStateError, InvalidArgumentError, type RequestInfo } from "@x/errors";
import { type ClientWebSocketResponse, type WSConnectOptions, wsConnect } from "@x/websocket";
import type { Dispatcher } from "undici";
import { observedBody } from "./body.js";
import type { ClientRequest } from "./client-request.js";
import type { ClientResponse } from "./client-response.js";
import type { ResolvedTimeout } from "./client-timeout.js";
import type { ClientSessionOptions, RequestOptions } from "./options.js";
import { type HopOptions, RequestCall, type SentHop } from "./request-call.js";
import { httpUrl, RequestPolicy } from "./request-policy.js";
import { ResponseHandler } from "./response-handler.js";
import { resolveConfig, type SessionConfig } from "./session-config.js";
import { resolveUrl, wireUrl } from "./url.js";

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
export class ClientSession<Jar extends AbstractCookieJar = CookieJar> implements AsyncDisposable {
  // It is the CallHost of request-call.ts structurally: those members are @internal and stripped
  // from the published types, so the class cannot name that interface.
  /** @internal */
  readonly config: SessionConfig;
  readonly #dispatcher: Dispatcher;
  readonly #owner: boolean;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: ClientSessionOptions<Jar> = {}) {
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
  get cookieJar(): Jar {
    return this.config.cookieJar as Jar;
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
    return new RequestCall(this, options).run(method.toUpperCase(), url);
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
  head(url: string | URL, options: RequestOptions = {}): Promise<ClientResponse> {
    return this.request("HEAD", url, { allowRedirects: false, ...options });
  }

  options(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("OPTIONS", url, options);
  }

  /**
   * Opens a websocket through the session (aiohttp's `session.ws_connect`): the socket comes from
   * the session's connector (its limits count the open websocket, its proxy settings apply), and
   * the handshake carries what a request to the same URL would — default headers, cookies, auth,
   * decided by the same request policy; cookies the handshake sets are stored. Options are
   * `@x/websocket`'s `wsConnect`'s.
   * @throws {ClientStateError} if the session is closed.
   * @throws {InvalidArgumentError} when the session's connector cannot give sockets (an undici
   * `Agent`, a `MockAgent`…): websockets need a `SocketSource`, such as an `@x/connector` connector.
   * @throws {WSServerHandshakeError} when the server refuses the upgrade.
   */
  async wsConnect(
    url: string | URL,
    options: SessionWSConnectOptions = {},
  ): Promise<ClientWebSocketResponse> {
    if (this.#closed) throw new ClientStateError("Session is closed");
    const dispatcher = this.#dispatcher;
    if (!isSocketSource(dispatcher)) {
      throw new InvalidArgumentError(
        `session.wsConnect needs a connector that gives sockets (connectSocket(), as @x/connector's connectors do); this session's ${dispatcher.constructor.name} cannot. Open the websocket with an @x/connector connector, e.g. a second session.`,
      );
    }
    const cfg = this.config;
    const target = resolveUrl(url, cfg.baseUrl, ["ws:", "wss:", "http:", "https:"]);
    const method = (options.method ?? "GET").toUpperCase();
    const policy = new RequestPolicy(
      cfg,
      {
        headers: options.headers,
        skipAutoHeaders: options.skipAutoHeaders,
        auth: options.auth,
        cookies: options.cookies,
        proxy: options.proxy,
        proxyAuth: options.proxyAuth,
        proxyHeaders: options.proxyHeaders,
      },
      target,
    );
    const wire = wireUrl(target);
    const decided = policy.hop(method, wire, undefined);
    const { headers } = decided instanceof Promise ? await decided : decided;
    const {
      auth: _auth,
      proxyAuth: _proxyAuth,
      proxyHeaders: _proxyHeaders,
      cookies: _cookies,
      skipAutoHeaders: _skip,
      ...rest
    } = options;
    const ws = await wsConnect(wire, {
      ...rest,
      headers: [...headers],
      proxy: policy.proxyFor(wire) ?? null,
      connector: dispatcher,
      connectTimeout: options.connectTimeout ?? {
        connect: cfg.timeout.connect,
        sockConnect: cfg.timeout.sockConnect,
      },
    });
    try {
      await policy.storeCookies(ws.headers.entries(), httpUrl(wire));
    } catch (err) {
      await ws.close();
      throw err;
    }
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
      try {
        await dispatcher.destroy();
      } catch {
        // A dispatcher with no destroy() (undici 7's MockAgent): close() is all it has.
      }
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

  /**
   * @internal Sends one hop through the connector: the handler that owns it is returned at once,
   * the response when its head arrives.
   */
  send(request: ClientRequest, hop: HopOptions): SentHop {
    const cfg = this.config;
    let handler!: ResponseHandler;
    const headers = request.headers.toFlat();
    const dispatcher = this.#dispatcher;
    const ours = (dispatcher as { honoursConnectorOptions?: unknown }).honoursConnectorOptions === true;
    const body = request.body;
    const response = new Promise<ClientResponse>((resolve, reject) => {
      handler = new ResponseHandler(
        {
          method: request.method,
          url: request.url,
          realUrl: request.realUrl,
          requestInfo: new SentRequestInfo(request, headers),
          autoDecompress: request.autoDecompress,
          decompress: cfg.decompress,
          ...hop.limits,
          readUntilEof: request.readUntilEof,
          fallbackCharset: cfg.fallbackCharset,
          sockRead: request.timeout.sockRead,
          streamedBody: body !== undefined && body.bytes === undefined && !body.isForm,
          reportsConnection: ours,
          observer: hop.observer,
        },
        resolve,
        reject,
      );
    });
    try {
      this.#dispatch(request, hop, headers, handler, ours);
    } catch (err) {
      handler.onResponseError(null, err as Error);
    }
    return { handler, response };
  }

  #dispatch(
    request: ClientRequest,
    hop: HopOptions,
    headers: string[],
    handler: ResponseHandler,
    ours: boolean,
  ): void {
    const dispatcher = this.#dispatcher;
    if (request.proxy && !ours) {
      throw new InvalidArgumentError(
        "proxy needs an @x/connector connector; with undici, use its ProxyAgent as the connector",
      );
    }
    if (hop.expect100 && (dispatcher as { expectContinueHttp1?: unknown }).expectContinueHttp1 !== true) {
      throw new InvalidArgumentError(
        "expect100 needs a connector that honours undici's expectContinue over HTTP/1.1 (an @x/connector connector); undici's own clients wait for 100 Continue over HTTP/2 only",
      );
    }
    const source = request.body ? request.body.take() : null;
    let body: unknown = source;
    if (source !== null && (hop.observer || !request.body?.bytes)) {
      // Watched as it goes: for progress and tracing, and to know when a streamed body has gone
      // out (sockRead starts then).
      const observed = observedBody(
        source,
        (chunk) => handler.bodySent(chunk),
        () => handler.bodyEnded(),
      );
      if (
        observed.length !== undefined &&
        !request.headers.has("content-length") &&
        !request.headers.has("transfer-encoding")
      )
        headers.push("content-length", String(observed.length));
      body = observed.body;
    }
    const url = request.url;
    dispatcher.dispatch(
      {
        origin: url.origin,
        path: request.rawTarget ?? `${url.pathname}${url.search}`,
        method: request.method,
        headers,
        body: body as never,
        // sockRead is the handler's own, exact timer; total covers the rest.
        headersTimeout: 0,
        bodyTimeout: 0,
        ...(hop.expect100 ? { expectContinue: true } : {}),
        // undici closes the connection after every HEAD by default; aiohttp keeps it, and a
        // server that sends a stray body is caught by undici's idle-socket check anyway.
        ...(request.closeConnection ? { reset: true } : request.method === "HEAD" ? { reset: false } : {}),
        ...(ours
          ? {
              connectorOptions: {
                ssl: request.ssl,
                serverHostname: request.serverHostname,
                proxy: request.proxy,
                timeout: hop.connectorTimeout,
                trace: hop.connectorTrace,
                onConnection: handler.onConnection,
              },
            }
          : {}),
      } as Dispatcher.DispatchOptions & ConnectorDispatchExtension,
      handler,
    );
  }
}

/** Options of `session.wsConnect()`: `@x/websocket`'s, plus the request options the policy takes. */
export interface SessionWSConnectOptions extends WSConnectOptions {
  /** Cookies for this handshake only, laid over the jar's (as for a request). `null` is none. */
  cookies?: CookieInput | null;
  /** Auto headers not to send with this handshake (as for a request). */
  skipAutoHeaders?: Iterable<string>;
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
    version,
    cookieJar,
  });
  unclosed.unregister(session);
  try {
    const response = await session.request(method, url, rest);
    response.waitForClose().then(() => session.close());
    return response;
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
