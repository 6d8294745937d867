import type { Channel } from "node:diagnostics_channel";
import type { ConnectorTimeouts, ConnectorTrace } from "@x/connector";
import { mergeSslParams } from "@x/connector";
import {
  ClientConnectorError,
  ClientOSError,
  InvalidArgumentError,
  ServerDisconnectedError,
  TooManyRedirects,
  TotalTimeoutError,
} from "@x/errors";
import { watchAbort } from "./abort-watch.js";
import { chunkedBody, compressBody, encodeForm, prepareBody, RequestBody, truncatedBody } from "./body.js";
import { ClientRequest, IDEMPOTENT } from "./client-request.js";
import type { ClientResponse } from "./client-response.js";
import { type ResolvedTimeout, resolveTimeout } from "./client-timeout.js";
import type { HeaderList } from "./headers.js";
import { type ClientHandler, compose } from "./middleware.js";
import type { RequestOptions } from "./options.js";
import { REDIRECT_STATUSES, rawTargetOf, redirectMethod, redirectTarget } from "./redirects.js";
import { RequestPolicy } from "./request-policy.js";
import type { HopObserver, ResponseHandler } from "./response-handler.js";
import type { SessionConfig } from "./session-config.js";
import { RequestTraces, sessionChannels } from "./tracing.js";
import { resolveUrl, wireUrl, withoutCredentials, withParams } from "./url.js";

/** Limits on what a response may be, per call (the call's own, else the session's). */
export interface ResponseLimits {
  readonly readBufsize: number;
  readonly maxLineSize: number;
  readonly maxFieldSize: number;
  readonly maxHeaders: number;
}

/** How one hop is to be sent, besides the request itself. */
export interface HopOptions {
  readonly observer: HopObserver | undefined;
  readonly limits: ResponseLimits;
  readonly connectorTimeout: ConnectorTimeouts;
  readonly connectorTrace: ConnectorTrace | undefined;
  readonly expect100: boolean;
}

/** One hop on its way: the handler that owns it at once, the response once its head arrives. */
export interface SentHop {
  readonly handler: ResponseHandler;
  readonly response: Promise<ClientResponse>;
}

/** The session's part in a call: its settings, and sending one hop. */
export interface CallHost {
  readonly config: SessionConfig;
  send(request: ClientRequest, hop: HopOptions): SentHop;
}

const isThenable = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown } | null)?.then === "function";

/** Publishes a call's event, with its session, to `channel`'s subscribers: copying `params` only for them. */
function publish(channel: Channel, session: CallHost, params: object): void {
  if (channel.hasSubscribers) channel.publish({ session, ...params });
}

/** Turns wire events of one hop into trace signals, channel messages and progress callbacks. */
class HopTap implements HopObserver {
  readonly #call: RequestCall;
  readonly #request: ClientRequest;
  #sent = 0;
  #received = 0;
  readonly #uploadTotal: number | null;
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
      publish(sessionChannels.requestHeadersSent, call.session, params);
    }
  }

  chunkSent(chunk: Buffer): void {
    const call = this.#call;
    const { method, url } = this.#request;
    this.#sent += chunk.length;
    call.traces?.fire("onRequestChunkSent", { method, url, chunk });
    if (sessionChannels.requestChunkSent.hasSubscribers) {
      sessionChannels.requestChunkSent.publish({ session: call.session, method, url, chunk });
    }
    call.uploadProgress?.({ loaded: this.#sent, total: this.#uploadTotal });
  }

  responseStarted(contentLength: number | null): void {
    this.#downloadTotal = contentLength;
  }

  chunkReceived(chunk: Buffer): void {
    const call = this.#call;
    const { method, url } = this.#request;
    this.#received += chunk.length;
    call.traces?.fire("onResponseChunkReceived", { method, url, chunk });
    if (sessionChannels.responseChunkReceived.hasSubscribers) {
      sessionChannels.responseChunkReceived.publish({ session: call.session, method, url, chunk });
    }
    call.downloadProgress?.({ loaded: this.#received, total: this.#downloadTotal });
  }
}

/** Redirect bodies up to this size are read so their connection can be reused. */
const DRAIN_LIMIT = 64 * 1024;

/**
 * One `session.request()` call: every hop of its redirects, the retry of a stale keep-alive
 * connection, one answer to an auth challenge per hop, and the total timeout over all of it.
 * The call owns its timer and its listener on the caller's signal and releases both when it
 * ends: at once on an error, or once the response it returned is closed — whoever produced that
 * response (the wire, or a middleware that answered itself).
 */
export class RequestCall {
  readonly #host: CallHost;
  readonly #options: RequestOptions;
  readonly timeout: ResolvedTimeout;
  readonly #expect100: boolean;
  readonly #ssl: ReturnType<typeof mergeSslParams>;
  /** The handler of the last hop sent on the wire, if any. */
  #current: ResponseHandler | undefined;
  /**
   * The response handed to the caller, held weakly: a response dropped unread must stay
   * collectable (its connection is freed then), and the call must not be what keeps it.
   */
  #final: WeakRef<ClientResponse> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failure: Error | undefined;
  #unwatch: (() => void) | undefined;
  #startUrl: URL | undefined;
  #startHeaders: Headers | undefined;
  /** Made when something asks for the call's signal (a middleware, a retry's sleep): most calls never do. */
  #abort: AbortController | undefined;
  readonly #signal = (): AbortSignal => {
    if (!this.#abort) {
      this.#abort = new AbortController();
      if (this.#failure) this.#abort.abort(this.#failure);
    }
    return this.#abort.signal;
  };
  /** The call's traces, when the session has TraceConfigs. */
  readonly traces: RequestTraces | undefined;
  readonly uploadProgress: RequestOptions["onUploadProgress"];
  readonly downloadProgress: RequestOptions["onDownloadProgress"];
  readonly #handler: ClientHandler;
  readonly #hop: HopOptions;

  constructor(host: CallHost, options: RequestOptions) {
    this.#host = host;
    this.#options = options;
    const cfg = host.config;
    const configs = cfg.traceConfigs;
    this.traces = configs.length > 0 ? new RequestTraces(host, configs, options.traceRequestCtx) : undefined;
    this.uploadProgress = options.onUploadProgress;
    this.downloadProgress = options.onDownloadProgress;
    const middlewares = options.middlewares ?? cfg.middlewares;
    const wire: ClientHandler = (request) => this.#send(request);
    this.#handler = compose(middlewares, wire);
    if (
      options.timeout !== undefined &&
      (options.readTimeout !== undefined || options.connTimeout !== undefined)
    ) {
      throw new InvalidArgumentError("timeout cannot be combined with the seed's readTimeout/connTimeout");
    }
    // The seed's readTimeout/connTimeout are total/connect (a field left undefined changes nothing).
    const timeout = resolveTimeout(resolveTimeout(cfg.timeout, options.timeout), {
      total: options.readTimeout,
      connect: options.connTimeout,
    });
    this.timeout = timeout;
    this.#ssl = mergeSslParams(options);
    this.#expect100 = options.expect100 ?? false;
    const positive = (name: keyof ResponseLimits): number => {
      const value = options[name];
      if (value === undefined) return cfg[name];
      if (!Number.isInteger(value) || (value as number) < 1)
        throw new InvalidArgumentError(`${name} must be a positive integer`);
      return value as number;
    };
    this.#hop = {
      observer: undefined,
      limits: {
        readBufsize: positive("readBufsize"),
        maxLineSize: positive("maxLineSize"),
        maxFieldSize: positive("maxFieldSize"),
        maxHeaders: positive("maxHeaders"),
      },
      connectorTimeout: { connect: timeout.connect, sockConnect: timeout.sockConnect },
      connectorTrace: this.traces?.connectorTrace(),
      expect100: this.#expect100,
    };
  }

  /** The session the call belongs to. */
  get session(): CallHost {
    return this.#host;
  }

  async run(method: string, input: string | URL): Promise<ClientResponse> {
    const { signal } = this.#options;
    if (signal) {
      signal.throwIfAborted();
      this.#unwatch = watchAbort(signal, () => this.#fail(signal.reason as Error));
    }
    const total = this.timeout.total;
    if (total !== null) this.#timer = setTimeout(() => this.#fail(new TotalTimeoutError(total)), total);
    try {
      const response = await this.#loop(method, input);
      this.#final = new WeakRef(response);
      // From here the caller holds the response: an unread body must not keep the process alive
      // (undici's does not), while a read in progress keeps it alive through its socket.
      this.#timer?.unref();
      response.waitForClose().then(() => this.#cleanup());
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
        publish(sessionChannels.requestException, this.#host, params);
      }
      throw err;
    }
  }

  /** Fails the call: the hop on the wire is aborted, or the body being read errors. */
  #fail(err: Error): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#abort?.abort(err);
    const final = this.#final?.deref();
    if (final) final.fail(err);
    else this.#current?.abort(err);
  }

  /** Stops the timer and the signal's watch: from here nothing can fail the call. */
  #cleanup(): void {
    clearTimeout(this.#timer);
    this.#unwatch?.();
  }

  /** The wire: sends one hop through the session, and remembers its handler for the stale-connection retry. */
  #send(request: ClientRequest): Promise<ClientResponse> {
    if (this.#failure) return Promise.reject(this.#failure);
    const sent = this.#host.send(request, { ...this.#hop, observer: this.#observerFor(request) });
    this.#current = sent.handler;
    return sent.response;
  }

  /** Wire events of one hop, or `undefined` when nobody listens (the common, free case). */
  #observerFor(request: ClientRequest): HopObserver | undefined {
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

  async #loop(initialMethod: string, input: string | URL): Promise<ClientResponse> {
    const cfg = this.#host.config;
    const o = this.#options;
    let method = initialMethod;
    const target = withParams(resolveUrl(input, cfg.baseUrl), o.params);
    // The policy takes credentials in the URL as auth; the URL reported from here on has none.
    const policy = new RequestPolicy(cfg, o, target);
    let realUrl = withoutCredentials(target);
    let body = await this.#prepareBody(policy.userHeaders);
    // Only the head() shortcut defaults to not following (as aiohttp); request("HEAD") follows.
    const allowRedirects = o.allowRedirects ?? true;
    const maxRedirects = o.maxRedirects ?? 10;
    if (!Number.isInteger(maxRedirects) || maxRedirects < 0)
      throw new InvalidArgumentError("maxRedirects must be a non-negative integer");
    const history: ClientResponse[] = [];
    let retried = false;
    // requestEnd and requestException report the call's first URL and headers: keep them when
    // anyone listens to any of the three, not only to requestStart.
    if (
      this.traces ||
      sessionChannels.requestStart.hasSubscribers ||
      sessionChannels.requestEnd.hasSubscribers ||
      sessionChannels.requestException.hasSubscribers
    ) {
      this.#startUrl = realUrl;
      this.#startHeaders = policy.userHeaders.toHeaders();
      const params = { method, url: realUrl, headers: this.#startHeaders };
      await this.traces?.send("onRequestStart", params);
      publish(sessionChannels.requestStart, this.#host, params);
    }
    let rawTarget: string | undefined;
    for (;;) {
      const url = wireUrl(realUrl);
      const decided = policy.hop(method, url, body);
      const { headers, auth, authRequest } = isThenable(decided) ? await decided : decided;
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
          proxy: policy.proxyFor(url),
          autoDecompress: o.autoDecompress ?? cfg.autoDecompress,
          readUntilEof: o.readUntilEof ?? true,
          closeConnection: cfg.http10,
          rawTarget,
          signal: this.#signal,
        });
        this.#current = undefined;
        try {
          if (this.#failure) throw this.#failure;
          response = await this.#handler(request);
        } catch (err) {
          // The handler of the hop this attempt put on the wire (none if a middleware answered).
          const handler = this.#current as ResponseHandler | undefined;
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
        const stored = policy.storeCookies(response.rawHeaders, response.url);
        if (isThenable(stored)) {
          await stored.catch((err: unknown) => {
            response.release();
            throw err;
          });
        }
        if (response.status === 401 && auth?.challenge && !challenged) {
          const retry = await auth.challenge(authRequest, { status: 401, url, headers: response.headers });
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
          publish(sessionChannels.requestEnd, this.#host, params);
        }
        await this.#raiseForStatus(response);
        return response;
      }
      if (this.traces || sessionChannels.requestRedirect.hasSubscribers) {
        const params = { method, url, headers: headers.toHeaders(), response };
        await this.traces?.send("onRequestRedirect", params);
        publish(sessionChannels.requestRedirect, this.#host, params);
      }
      history.push(response);
      response.setHistory([...history]);
      // aiohttp counts the redirect responses: the N-th one raises (N requests made, N in history).
      // 0 allows none (aiohttp reads 0 as unlimited; see DESIGN.md's deviations).
      if (history.length >= Math.max(1, maxRedirects)) {
        response.release();
        throw new TooManyRedirects(history[0]!.requestInfo, [...history], {
          status: response.status,
          message: `${maxRedirects === 0 ? "redirects are not allowed" : `${maxRedirects} redirects`} (maxRedirects)`,
          headers: response.headers,
        });
      }
      let next: URL;
      try {
        next = redirectTarget(location, url, history);
      } catch (err) {
        response.release();
        throw err;
      }
      await discard(response);
      const rewrite = redirectMethod(response.status, method);
      method = rewrite.method;
      if (rewrite.dropBody) body = undefined;
      policy.redirected(url, next, rewrite.dropBody);
      // A one-shot body cannot follow a 307/308; body.take() says so when the hop is sent.
      realUrl = withoutCredentials(next);
      rawTarget = cfg.requoteRedirectUrl ? undefined : rawTargetOf(location);
    }
  }

  async #prepareBody(headers: HeaderList): Promise<RequestBody | undefined> {
    const o = this.#options;
    const cfg = this.#host.config;
    let body = prepareBody(o.data, o.json, "json" in o && o.json !== undefined, cfg.jsonSerialize);
    if (o.chunked && headers.has("content-length")) {
      throw new InvalidArgumentError("chunked cannot be combined with a Content-Length header");
    }
    if (o.compress && headers.has("content-encoding")) {
      throw new InvalidArgumentError("compress cannot be combined with a Content-Encoding header");
    }
    // A multipart form sent chunked or compressed is encoded here (undici encodes it only as a
    // whole with its length), once, so a redirect or retry sends the same boundary again.
    if (body?.isForm && (o.chunked || o.compress || headers.has("content-length")))
      body = await encodeForm(body);
    if (o.compress && body && body.bytes?.length !== 0) {
      // An empty body stays empty: no compressed stream of zero bytes, `Content-Length: 0`.
      const compressed = compressBody(body, o.compress);
      body = compressed.body;
      headers.set("Content-Encoding", compressed.encoding);
    } else if (o.chunked && body) {
      body = chunkedBody(body);
    }
    if (body && headers.has("content-length")) {
      // aiohttp: a Content-Length set by the caller truncates the body (a stream too).
      const declared = Number(headers.get("content-length"));
      if (!Number.isInteger(declared) || declared < 0)
        throw new InvalidArgumentError("Content-Length must be a non-negative integer");
      if (body.bytes) {
        if (declared > body.bytes.length) {
          throw new InvalidArgumentError(
            `Content-Length ${declared} is longer than the ${body.bytes.length}-byte body`,
          );
        }
        if (declared < body.bytes.length) {
          // Cut, the body keeps its type (text, JSON, a form…), as a cut stream does.
          const bytes = body.bytes.subarray(0, declared);
          body = new RequestBody(() => bytes, { contentType: body.contentType, replayable: true, bytes });
        }
      } else body = truncatedBody(body, declared);
    }
    if (cfg.http10 && body && !body.bytes && !body.replayable) {
      throw new InvalidArgumentError(
        "an HTTP/1.0 request needs a body of known length (bytes, not a stream)",
      );
    }
    return body;
  }

  async #raiseForStatus(response: ClientResponse): Promise<void> {
    const setting = this.#options.raiseForStatus ?? this.#host.config.raiseForStatus;
    if (setting === true) await response.raiseForStatusWithBody();
    else if (typeof setting === "function") await setting(response);
  }
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
