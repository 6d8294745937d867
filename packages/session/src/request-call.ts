import { type Auth, BasicAuth } from "@x/auth";
import { mergeSslParams, type ProxySettings, proxySettings, type SslOption } from "@x/connector";
import { type AbstractCookieJar, CookieJar, type CookieRecord, cookieHeader } from "@x/cookies";
import {
  ClientConnectorError,
  ClientOSError,
  InvalidArgumentError,
  ServerDisconnectedError,
  TooManyRedirects,
  TotalTimeoutError,
} from "@x/errors";
import { chunkedBody, compressBody, prepareBody, type RequestBody } from "./body.js";
import { ClientRequest, IDEMPOTENT } from "./client-request.js";
import type { ClientResponse } from "./client-response.js";
import { type ResolvedTimeout, resolveTimeout } from "./client-timeout.js";
import { HeaderList } from "./headers.js";
import { type ClientHandler, compose } from "./middleware.js";
import { netrcFor } from "./netrc.js";
import type { RequestOptions } from "./options.js";
import { proxyFromEnv } from "./proxy-env.js";
import { REDIRECT_STATUSES, rawTargetOf, redirectMethod, redirectTarget } from "./redirects.js";
import type { HopObserver, ResponseHandler } from "./response-handler.js";
import type { SessionConfig } from "./session-config.js";
import { RequestTraces, sessionChannels } from "./tracing.js";
import { resolveUrl, wireUrl, withParams } from "./url.js";

/** What sending one request produced. */
export interface HopResult {
  readonly response: ClientResponse;
  readonly handler: ResponseHandler;
}

/** The session's part in a call: sending one hop. */
export interface CallHost {
  readonly config: SessionConfig;
  send(request: ClientRequest, call: RequestCall): Promise<HopResult>;
}

/** Turns wire events of one hop into trace signals, channel messages and progress callbacks. */
class HopTap implements HopObserver {
  readonly #call: RequestCall;
  readonly #request: ClientRequest;
  #sent = 0;
  #received = 0;
  #uploadTotal: number | null;
  #downloadTotal: number | null = null;

  constructor(call: RequestCall, request: ClientRequest) {
    this.#call = call;
    this.#request = request;
    const length = request.headers.get("content-length");
    this.#uploadTotal =
      request.body?.bytes?.length ?? (length !== undefined && /^\d+$/.test(length) ? Number(length) : null);
  }

  headersSent(): void {
    const call = this.#call;
    const r = this.#request;
    if (call.traces || sessionChannels.requestHeadersSent.hasSubscribers) {
      const params = { method: r.method, url: r.url, headers: r.headers.toHeaders() };
      call.traces?.fire("onRequestHeadersSent", params);
      if (sessionChannels.requestHeadersSent.hasSubscribers)
        sessionChannels.requestHeadersSent.publish({ session: call.session, ...params });
    }
  }

  chunkSent(chunk: Buffer): void {
    const call = this.#call;
    this.#sent += chunk.length;
    call.traces?.fire("onRequestChunkSent", { method: this.#request.method, url: this.#request.url, chunk });
    if (sessionChannels.requestChunkSent.hasSubscribers) {
      sessionChannels.requestChunkSent.publish({
        session: call.session,
        method: this.#request.method,
        url: this.#request.url,
        chunk,
      });
    }
    call.uploadProgress?.({ loaded: this.#sent, total: this.#uploadTotal });
  }

  requestSent(): void {
    if (this.#uploadTotal === null) this.#uploadTotal = this.#sent;
  }

  responseStarted(contentLength: number | null): void {
    this.#downloadTotal = contentLength;
  }

  chunkReceived(chunk: Buffer): void {
    const call = this.#call;
    this.#received += chunk.length;
    call.traces?.fire("onResponseChunkReceived", {
      method: this.#request.method,
      url: this.#request.url,
      chunk,
    });
    if (sessionChannels.responseChunkReceived.hasSubscribers) {
      sessionChannels.responseChunkReceived.publish({
        session: call.session,
        method: this.#request.method,
        url: this.#request.url,
        chunk,
      });
    }
    call.downloadProgress?.({ loaded: this.#received, total: this.#downloadTotal });
  }
}

const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
const NO_LENGTH_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "CONNECT"]);
/** Redirect bodies up to this size are read so their connection can be reused. */
const DRAIN_LIMIT = 64 * 1024;

/**
 * One `session.request()` call: every hop of its redirects, the retry of a stale keep-alive
 * connection, one answer to an auth challenge per hop, and the total timeout over all of it.
 */
export class RequestCall {
  readonly #host: CallHost;
  readonly #options: RequestOptions;
  readonly timeout: ResolvedTimeout;
  /** Send `Expect: 100-continue` and hold the body until the server agrees. */
  readonly expect100: boolean;
  /** The connector's part of the timeouts, shared by every hop. */
  readonly connectorTimeout: { readonly connect: number | null; readonly sockConnect: number | null };
  readonly #ssl: SslOption | undefined;
  #current: ResponseHandler | undefined;
  #final: ResponseHandler | undefined;
  #finalDone = false;
  #timer: NodeJS.Timeout | undefined;
  #failure: Error | undefined;
  #onAbort: (() => void) | undefined;
  #cleaned = false;
  #startUrl: URL | undefined;
  #startHeaders: Headers | undefined;
  readonly #onDone: (() => void) | undefined;
  readonly #abort = new AbortController();
  /** The call's traces, when the session has TraceConfigs. */
  readonly traces: RequestTraces | undefined;
  /** The connector's trace hooks for every hop, when tracing. */
  readonly connectorTrace: ReturnType<RequestTraces["connectorTrace"]> | undefined;
  readonly uploadProgress: RequestOptions["onUploadProgress"];
  readonly downloadProgress: RequestOptions["onDownloadProgress"];
  readonly #handler: ClientHandler;

  constructor(host: CallHost, options: RequestOptions, onDone?: () => void) {
    this.#host = host;
    this.#options = options;
    this.#onDone = onDone;
    const configs = host.config.traceConfigs;
    this.traces = configs.length > 0 ? new RequestTraces(host, configs, options.traceRequestCtx) : undefined;
    this.connectorTrace = this.traces?.connectorTrace();
    this.uploadProgress = options.onUploadProgress;
    this.downloadProgress = options.onDownloadProgress;
    const middlewares = options.middlewares ?? host.config.middlewares;
    const wire: ClientHandler = (request) => this.#host.send(request, this).then((r) => r.response);
    this.#handler = middlewares.length > 0 ? compose(middlewares, wire) : wire;
    const cfg = host.config;
    if (
      options.timeout !== undefined &&
      (options.readTimeout !== undefined || options.connTimeout !== undefined)
    ) {
      throw new InvalidArgumentError("timeout cannot be combined with the seed's readTimeout/connTimeout");
    }
    let timeout = resolveTimeout(cfg.timeout, options.timeout);
    if (options.readTimeout !== undefined) timeout = resolveTimeout(timeout, { total: options.readTimeout });
    if (options.connTimeout !== undefined)
      timeout = resolveTimeout(timeout, { connect: options.connTimeout });
    this.timeout = timeout;
    this.#ssl = mergeSslParams(options);
    this.expect100 = options.expect100 ?? false;
    this.connectorTimeout = { connect: timeout.connect, sockConnect: timeout.sockConnect };
  }

  /** The session the call belongs to. */
  get session(): CallHost {
    return this.#host;
  }

  /** Aborted with the reason when the call fails (total timeout, the caller's signal). */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Wire events of one hop, or `undefined` when nobody listens (the common, free case). */
  observerFor(request: ClientRequest): HopObserver | undefined {
    if (
      !this.traces &&
      !this.uploadProgress &&
      !this.downloadProgress &&
      !sessionChannels.requestHeadersSent.hasSubscribers &&
      !sessionChannels.requestChunkSent.hasSubscribers &&
      !sessionChannels.responseChunkReceived.hasSubscribers
    ) {
      return undefined;
    }
    return new HopTap(this, request);
  }

  /** Fails the call: the running hop is aborted, or the body being read errors. */
  fail(err: Error): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#abort.abort(err);
    const current = this.#current;
    if (current) current.abort(err);
  }

  /** @internal A hop's body was read or given up. */
  hopFinished(handler: ResponseHandler): void {
    if (handler === this.#final) this.#cleanup();
    else if (this.#final === undefined && handler === this.#current) this.#finalDone = true;
  }

  async run(method: string, input: string | URL): Promise<ClientResponse> {
    const { signal } = this.#options;
    if (signal) {
      signal.throwIfAborted();
      this.#onAbort = () => this.fail(signal.reason as Error);
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    const total = this.timeout.total;
    if (total !== null) this.#timer = setTimeout(() => this.fail(new TotalTimeoutError(total)), total);
    try {
      const response = await this.#loop(method, input);
      // From here the caller holds the response: an unread body must not keep the process alive
      // (undici's does not), while a read in progress keeps it alive through its socket.
      this.#timer?.unref();
      this.#final = this.#current;
      if (this.#finalDone || this.#final?.complete) this.#cleanup();
      return response;
    } catch (err) {
      this.#cleanup();
      if (this.traces || sessionChannels.requestException.hasSubscribers) {
        const params = {
          method,
          url: this.#startUrl ?? new URL(String(input), "http://invalid"),
          headers: this.#startHeaders ?? new Headers(),
          exception: err,
        };
        await this.traces?.send("onRequestException", params);
        if (sessionChannels.requestException.hasSubscribers)
          sessionChannels.requestException.publish({ session: this.#host, ...params });
      }
      throw err;
    }
  }

  #cleanup(): void {
    if (this.#cleaned) return;
    this.#cleaned = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#onAbort) this.#options.signal?.removeEventListener("abort", this.#onAbort);
    this.#onDone?.();
  }

  async #loop(initialMethod: string, input: string | URL): Promise<ClientResponse> {
    const cfg = this.#host.config;
    const o = this.#options;
    let method = initialMethod;
    let realUrl = withParams(resolveUrl(input, cfg.baseUrl), o.params);
    const requestAuth = o.auth ?? undefined;
    let urlAuth = BasicAuth.fromUrl(realUrl) ?? undefined;
    if (urlAuth && requestAuth)
      throw new InvalidArgumentError("credentials in the URL cannot be combined with auth");
    let userHeaders = cfg.headers.clone();
    if (o.headers) {
      const given = HeaderList.from(o.headers);
      for (const [name] of given) userHeaders.delete(name);
      given.fill(userHeaders);
      userHeaders = given;
    }
    if ((requestAuth || urlAuth) && userHeaders.has("authorization")) {
      throw new InvalidArgumentError(
        "an Authorization header cannot be combined with auth or credentials in the URL",
      );
    }
    let skip = cfg.skipAutoHeaders;
    if (o.skipAutoHeaders) {
      const merged = new Set(skip);
      for (const name of o.skipAutoHeaders) merged.add(name.toLowerCase());
      skip = merged;
    }
    let body = this.#prepareBody(userHeaders);
    let requestCookies = o.cookies !== undefined ? o.cookies : undefined;
    let dropRequestAuth = false;
    const sessionAuthOrigin = cfg.baseUrl?.origin;
    const allowRedirects = o.allowRedirects ?? initialMethod !== "HEAD";
    const maxRedirects = o.maxRedirects ?? 10;
    if (!Number.isInteger(maxRedirects) || maxRedirects < 0)
      throw new InvalidArgumentError("maxRedirects must be a non-negative integer");
    const history: ClientResponse[] = [];
    let retried = false;
    if (this.traces || sessionChannels.requestStart.hasSubscribers) {
      this.#startUrl = realUrl;
      this.#startHeaders = userHeaders.toHeaders();
      const params = { method, url: realUrl, headers: this.#startHeaders };
      await this.traces?.send("onRequestStart", params);
      if (sessionChannels.requestStart.hasSubscribers)
        sessionChannels.requestStart.publish({ session: this.#host, ...params });
    }
    let rawTarget: string | undefined;
    for (;;) {
      const url = wireUrl(realUrl);
      const headers = userHeaders.clone();
      this.#autoHeaders(headers, skip, method, body);
      this.#cookies(headers, url, requestCookies);
      const auth: Auth | undefined =
        urlAuth ??
        (dropRequestAuth ? undefined : requestAuth) ??
        (sessionAuthOrigin === undefined || sessionAuthOrigin === url.origin ? cfg.auth : undefined) ??
        this.#netrc(url);
      const authInfo = { method, url, body: bodyBytes(body) };
      if (auth && !headers.has("authorization")) {
        const value = auth.encode(authInfo);
        if (value !== undefined && value !== "") headers.set("Authorization", value);
      }
      let challenged = false;
      let response: ClientResponse;
      for (;;) {
        const request = new ClientRequest({
          method,
          url,
          realUrl,
          headers,
          body,
          timeout: this.timeout,
          ssl: this.#ssl,
          serverHostname: o.serverHostname,
          proxy: this.#proxyFor(url),
          autoDecompress: o.autoDecompress ?? cfg.autoDecompress,
          readUntilEof: o.readUntilEof ?? true,
          closeConnection: cfg.http10,
          rawTarget,
          signal: this.#abort.signal,
        });
        let result: HopResult;
        try {
          if (this.#failure) throw this.#failure;
          result = { response: await this.#handler(request), handler: this.#current! };
        } catch (err) {
          const handler = this.#current;
          const stale =
            (err instanceof ServerDisconnectedError ||
              (err instanceof ClientOSError && !(err instanceof ClientConnectorError))) &&
            handler !== undefined &&
            !handler.headersReceived &&
            (handler.connection === null || handler.reused);
          if (stale && !retried && IDEMPOTENT.has(method) && (!body || body.replayable) && !this.#failure) {
            retried = true;
            continue;
          }
          throw err;
        }
        response = result.response;
        this.#storeCookies(response);
        if (response.status === 401 && auth?.challenge && !challenged) {
          const retry = await auth.challenge(authInfo, { status: 401, url, headers: response.headers });
          if (retry) {
            challenged = true;
            await discard(response);
            for (const [name, value] of Object.entries(retry.headers)) headers.set(name, String(value));
            continue;
          }
        }
        break;
      }
      const location =
        REDIRECT_STATUSES.has(response.status) && allowRedirects
          ? (response.headers.get("location") ?? response.headers.get("uri"))
          : null;
      if (location === null) {
        response.setHistory(history);
        if (this.traces || sessionChannels.requestEnd.hasSubscribers) {
          const params = {
            method,
            url: this.#startUrl ?? realUrl,
            headers: this.#startHeaders ?? new Headers(),
            response,
          };
          await this.traces?.send("onRequestEnd", params);
          if (sessionChannels.requestEnd.hasSubscribers)
            sessionChannels.requestEnd.publish({ session: this.#host, ...params });
        }
        await this.#raiseForStatus(response);
        return response;
      }
      if (this.traces || sessionChannels.requestRedirect.hasSubscribers) {
        const params = { method, url, headers: headers.toHeaders(), response };
        await this.traces?.send("onRequestRedirect", params);
        if (sessionChannels.requestRedirect.hasSubscribers)
          sessionChannels.requestRedirect.publish({ session: this.#host, ...params });
      }
      history.push(response);
      response.setHistory([...history]);
      if (history.length > maxRedirects) {
        response.release();
        throw new TooManyRedirects(history[0]!.requestInfo, [...history], {
          status: response.status,
          message: `more than ${maxRedirects} redirects`,
          headers: response.headers,
        });
      }
      const next = redirectTarget(location, url);
      await discard(response);
      const rewrite = redirectMethod(response.status, method);
      method = rewrite.method;
      if (rewrite.dropBody) {
        body = undefined;
        userHeaders.delete("content-length");
      }
      if (next.origin !== url.origin) {
        for (const name of CREDENTIAL_HEADERS) userHeaders.delete(name);
        requestCookies = undefined;
        dropRequestAuth = true;
      }
      // Credentials in the URL stay with their origin, as in aiohttp: kept on a same-origin hop,
      // replaced by the new URL's own, dropped elsewhere.
      const nextUrlAuth = BasicAuth.fromUrl(next);
      if (nextUrlAuth) urlAuth = nextUrlAuth;
      else if (next.origin !== url.origin) urlAuth = undefined;
      // A one-shot body cannot follow a 307/308; body.take() says so when the hop is sent.
      realUrl = next;
      rawTarget = cfg.requoteRedirectUrl ? undefined : rawTargetOf(location);
    }
  }

  #prepareBody(headers: HeaderList): RequestBody | undefined {
    const o = this.#options;
    const cfg = this.#host.config;
    let body = prepareBody(o.data, o.json, "json" in o && o.json !== undefined, cfg.jsonSerialize);
    if (o.chunked && headers.has("content-length")) {
      throw new InvalidArgumentError("chunked cannot be combined with a Content-Length header");
    }
    if (o.compress) {
      if (headers.has("content-encoding"))
        throw new InvalidArgumentError("compress cannot be combined with a Content-Encoding header");
      if (body) {
        const compressed = compressBody(body, o.compress);
        body = compressed.body;
        headers.set("Content-Encoding", compressed.encoding);
      }
    } else if (o.chunked && body) {
      body = chunkedBody(body);
    }
    if (body?.bytes && headers.has("content-length")) {
      // aiohttp: a Content-Length set by the caller truncates the body.
      const declared = Number(headers.get("content-length"));
      if (!Number.isInteger(declared) || declared < 0)
        throw new InvalidArgumentError("Content-Length must be a non-negative integer");
      if (declared > body.bytes.length) {
        throw new InvalidArgumentError(
          `Content-Length ${declared} is longer than the ${body.bytes.length}-byte body`,
        );
      }
      if (declared < body.bytes.length)
        body = prepareBody(body.bytes.subarray(0, declared), undefined, false, cfg.jsonSerialize);
    }
    if (cfg.http10 && body && !body.bytes && !body.replayable) {
      throw new InvalidArgumentError(
        "an HTTP/1.0 request needs a body of known length (bytes, not a stream)",
      );
    }
    return body;
  }

  #autoHeaders(
    headers: HeaderList,
    skip: ReadonlySet<string>,
    method: string,
    body: RequestBody | undefined,
  ): void {
    const cfg = this.#host.config;
    if (!skip.has("accept") && !headers.has("accept")) headers.append("Accept", "*/*");
    if (!skip.has("accept-encoding") && !headers.has("accept-encoding"))
      headers.append("Accept-Encoding", cfg.acceptEncoding);
    if (!skip.has("user-agent") && !headers.has("user-agent")) headers.append("User-Agent", cfg.userAgent);
    if (!skip.has("content-type") && !headers.has("content-type")) {
      const type = body
        ? body.contentType
        : BODY_METHODS.has(method)
          ? "application/octet-stream"
          : undefined;
      if (type) headers.append("Content-Type", type);
    }
    if (
      !body &&
      !NO_LENGTH_METHODS.has(method) &&
      !headers.has("content-length") &&
      !headers.has("transfer-encoding")
    ) {
      headers.append("Content-Length", "0");
    }
  }

  #cookies(headers: HeaderList, url: URL, requestCookies: RequestOptions["cookies"]): void {
    const jar = this.#host.config.cookieJar;
    const found: Map<string, CookieRecord> = jar.filterCookies(url);
    if (requestCookies !== undefined) {
      const temp = new CookieJar({ unsafe: true, quoteCookie: quoteOf(jar) });
      temp.updateCookies(requestCookies);
      for (const [name, c] of temp.filterCookies(url)) found.set(name, c);
    }
    if (found.size === 0) return;
    const ours = cookieHeader(found);
    const given = headers.get("cookie");
    headers.set("Cookie", given ? `${given}; ${ours}` : ours);
  }

  #storeCookies(response: ClientResponse): void {
    const values: string[] = [];
    for (const [name, value] of response.rawHeaders)
      if (name.length === 10 && name.toLowerCase() === "set-cookie") values.push(value);
    if (values.length > 0) this.#host.config.cookieJar.updateCookies(values, response.url);
  }

  /** The proxy for one hop: the request's, else the session's, else (trustEnv) the environment's. */
  #proxyFor(url: URL): ProxySettings | undefined {
    const o = this.#options;
    const cfg = this.#host.config;
    let proxy: string | URL | null | undefined = o.proxy !== undefined ? o.proxy : cfg.proxy;
    if (proxy === null) return undefined;
    if (proxy === undefined && cfg.trustEnv) proxy = proxyFromEnv(url);
    if (proxy === undefined) return undefined;
    const auth = (o.proxyAuth ?? cfg.proxyAuth)?.encode({ method: "CONNECT", url, body: null });
    const headers = o.proxyHeaders ? [...HeaderList.from(o.proxyHeaders)] : cfg.proxyHeaders;
    return proxySettings(proxy, auth || undefined, headers);
  }

  #netrc(url: URL): Auth | undefined {
    if (!this.#host.config.trustEnv) return undefined;
    const entry = netrcFor(url.hostname);
    return entry ? new BasicAuth(entry.login, entry.password) : undefined;
  }

  async #raiseForStatus(response: ClientResponse): Promise<void> {
    const setting = this.#options.raiseForStatus ?? this.#host.config.raiseForStatus;
    if (setting === true) response.raiseForStatus();
    else if (typeof setting === "function") await setting(response);
  }

  /** @internal The session tells which handler runs the current hop. */
  setCurrent(handler: ResponseHandler): void {
    this.#current = handler;
    if (this.#failure) handler.abort(this.#failure);
  }
}

function quoteOf(jar: AbstractCookieJar): boolean {
  return jar instanceof CookieJar ? jar.quoteCookie : true;
}

/** The body as Digest's auth-int sees it: `null` for none, `undefined` when it cannot be read twice. */
function bodyBytes(body: RequestBody | undefined): Uint8Array | null | undefined {
  return body ? body.bytes : null;
}

/**
 * Reads a small body so its connection is reused, and gives up on anything bigger: at most
 * DRAIN_LIMIT decoded bytes are read, so a compressed bomb in a redirect costs nothing.
 */
async function discard(response: ClientResponse): Promise<void> {
  const length = response.contentLength;
  if (response.content.isEof() || (length !== null && length <= DRAIN_LIMIT)) {
    let drained = 0;
    try {
      while (drained <= DRAIN_LIMIT) {
        const chunk = await response.content.readany();
        if (chunk.length === 0) break;
        drained += chunk.length;
      }
    } catch {
      // The body was going to be dropped anyway.
    }
  }
  response.release();
}
