import type { Duplex } from "node:stream";
import { type Client, type Dispatcher, errors as undiciErrors } from "undici";
import { Acquisition, type AcquisitionHost, type ConnectionNeed } from "./acquisition.js";
import type { ConnectorDispatchExtension, ConnectorDispatchOptions } from "./dispatch-options.js";
import { forHandlers } from "./handler-errors.js";
import type { ControllerHandler } from "./legacy-handler.js";
import type { PoolKey } from "./pool-key.js";
import type { PooledConnection } from "./pooled-connection.js";
import { proxyHeaderLines } from "./proxy.js";

/** What a pooled request needs from its connector. */
export interface RequestHost extends AcquisitionHost {
  readonly forceClose: boolean;
  /** True once `close()` was called (errors then say "closed", not "destroyed"). */
  readonly closing: boolean;
  /** The HTTP client bound to `conn`, created on first use (speaking `Expect: 100-continue` if asked). */
  clientFor(conn: PooledConnection, expectContinue?: boolean): Client;
  /** `conn`'s socket left HTTP through an upgrade or CONNECT. */
  upgraded(conn: PooledConnection): void;
  /** A request on `conn` is done; the connection goes back to the pool when none is left. */
  leave(conn: PooledConnection): void;
  /** The request has ended: its handler had its last callback. */
  settled(request: PooledRequest): void;
}

type ResponseHeaders = Parameters<NonNullable<Dispatcher.DispatchHandler["onResponseStart"]>>[2];

export type PooledRequestOptions = Dispatcher.DispatchOptions &
  ConnectorDispatchExtension & { servername?: string };

/**
 * One request dispatched through a connector. It is two things at once:
 * - to the caller's handler, the **controller** (`pause`, `resume`, `abort`): the handler gets it
 *   in `onRequestStart` at dispatch time, so it can abort while the request still waits for a
 *   connection;
 * - to the single-socket undici `Client` of the connection it is given, the **handler**: it
 *   passes the response on, gives the connection back when the response ends, and never lets an
 *   exception from the caller's handler escape — a throw ends the request with `onResponseError`,
 *   as undici's own core does, and nothing is called after the request has ended.
 */
export class PooledRequest extends Acquisition implements Dispatcher.DispatchController {
  readonly #host: RequestHost;
  readonly #opts: PooledRequestOptions;
  readonly #handler: ControllerHandler;
  readonly #x: ConnectorDispatchOptions | undefined;
  #conn: PooledConnection | undefined;
  /** The controller of the undici `Client` running the request, once it runs. */
  #inner: Dispatcher.DispatchController | undefined;
  #reason: Error | null = null;
  #paused = false;
  #ended = false;
  /** The response did not say `Connection: close`. */
  #keepAlive = true;

  constructor(
    host: RequestHost,
    key: PoolKey,
    opts: PooledRequestOptions,
    handler: ControllerHandler,
    need: ConnectionNeed,
  ) {
    const x = opts.connectorOptions;
    super(host, {
      key,
      need,
      trace: x?.trace,
      connectTimeout: x?.timeout?.connect,
      sockConnect: x?.timeout?.sockConnect,
    });
    this.#host = host;
    this.#opts = opts;
    this.#handler = handler;
    this.#x = x;
  }

  /** Hands the caller its controller, then waits for a connection. */
  start(): void {
    try {
      this.#handler.onRequestStart?.(this, undefined);
    } catch (err) {
      this.#end(err as Error);
      return;
    }
    if (this.#ended) return;
    this.acquire();
  }

  // ── the caller's controller ──────────────────────────────────────────

  get aborted(): boolean {
    return this.#reason !== null;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get reason(): Error | null {
    return this.#reason;
  }

  get rawHeaders(): Dispatcher.DispatchController["rawHeaders"] {
    return this.#inner?.rawHeaders ?? null;
  }

  get rawTrailers(): Dispatcher.DispatchController["rawTrailers"] {
    return this.#inner?.rawTrailers ?? null;
  }

  pause(): void {
    this.#paused = true;
    this.#inner?.pause();
  }

  resume(): void {
    // undici's controller resumes only a paused request.
    this.#paused = false;
    this.#inner?.resume();
  }

  /** Cancels the request in whatever phase it is in; the handler gets `onResponseError(reason)`. */
  abort(reason?: Error): void {
    if (this.#reason !== null || this.#ended) return;
    const err = reason ?? new undiciErrors.RequestAbortedError();
    this.#reason = err;
    if (this.#inner) this.#inner.abort(err);
    // Until a connection is handed over, giving up ends the request; after that it does nothing:
    // the Client holds the request and has not started it, and its onRequestStart aborts it.
    else this.giveUp(err);
  }

  // ── the undici Client's handler ──────────────────────────────────────

  onRequestStart(inner: Dispatcher.DispatchController): void {
    this.#inner = inner;
    if (this.#reason !== null) {
      inner.abort(this.#reason);
      return;
    }
    if (this.#paused) inner.pause();
    const conn = this.#conn!;
    const onConnection = this.#x?.onConnection;
    if (onConnection) onConnection({ connection: conn, reused: conn.useSocket() });
    else conn.useSocket();
  }

  onResponseStarted(): void {
    try {
      this.#handler.onResponseStarted?.();
    } catch (err) {
      this.#threw(err);
    }
  }

  onResponseStart(
    _inner: Dispatcher.DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
    statusText?: string,
  ): void {
    if (this.#ended) return;
    const connection = headers.connection;
    if (connection !== undefined && /close/i.test(String(connection))) this.#keepAlive = false;
    try {
      this.#handler.onResponseStart?.(this, statusCode, headers, statusText);
    } catch (err) {
      this.#threw(err);
    }
  }

  onResponseData(_inner: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#ended) return;
    try {
      this.#handler.onResponseData?.(this, chunk);
    } catch (err) {
      this.#threw(err);
    }
  }

  onResponseEnd(_inner: Dispatcher.DispatchController, trailers: ResponseHeaders): void {
    if (this.#ended) return;
    this.#ended = true;
    // The connection goes back before the caller hears of the end, so that a caller sending its
    // next request from onResponseEnd (a redirect interceptor, a session following a redirect)
    // reuses it: the Client queues that request behind this one's last steps. When the socket
    // is going to close (Connection: close, a request that asked for it), undici closes it
    // right after this returns, and the connection goes back only then.
    if (this.#keepAlive && this.#opts.reset !== true && !this.#host.forceClose) {
      this.#leave();
      this.#deliverEnd(trailers);
    } else {
      queueMicrotask(() => {
        this.#leave();
        this.#deliverEnd(trailers);
      });
    }
  }

  /** Tells the caller the response ended; a throw from it becomes onResponseError, as in undici. */
  #deliverEnd(trailers: ResponseHeaders): void {
    try {
      this.#handler.onResponseEnd?.(this, trailers);
    } catch (err) {
      // undici's RetryHandler throws from onResponseEnd on purpose, to retry.
      this.#error(err as Error);
    }
    this.#host.settled(this);
  }

  onResponseError(_inner: Dispatcher.DispatchController | null, err: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    queueMicrotask(() => this.#leave());
    this.#error(err);
    this.#host.settled(this);
  }

  onRequestUpgrade(
    _inner: Dispatcher.DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
    socket: Duplex,
  ): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#host.upgraded(this.#conn!);
    try {
      if (typeof this.#handler.onRequestUpgrade !== "function") {
        throw new undiciErrors.SocketError("the server upgraded a request that did not ask for it");
      }
      this.#handler.onRequestUpgrade(this, statusCode, headers, socket);
    } catch (err) {
      socket.destroy();
      this.#error(err as Error);
    }
    this.#host.settled(this);
  }

  onBodySent(chunk: unknown): void {
    try {
      this.#handler.onBodySent?.(chunk);
    } catch (err) {
      this.#threw(err);
    }
  }

  onRequestSent(): void {
    try {
      this.#handler.onRequestSent?.();
    } catch (err) {
      this.#threw(err);
    }
  }

  // ── internals ────────────────────────────────────────────────────────

  /** The acquisition ended: the request runs on `conn`, or fails with `err`. */
  protected acquired(err: Error | null, conn?: PooledConnection): void {
    if (err || !conn) {
      err ??= new undiciErrors.RequestAbortedError();
      this.#end(err === this.#reason ? err : (forHandlers(err, this.#host.closing) as Error));
      return;
    }
    this.#conn = conn;
    this.#host.clientFor(conn, this.#expectContinue).dispatch(this.#clientOptions(), this);
  }

  /** A callback of the caller's handler threw: the request ends with that error. */
  #threw(err: unknown): void {
    if (this.#inner) this.#inner.abort(err as Error);
    else this.#end(err as Error);
  }

  /** Ends the request with `err` before the Client has it. */
  #end(err: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error(err);
    this.#host.settled(this);
  }

  #error(err: Error): void {
    try {
      this.#handler.onResponseError?.(this, err);
    } catch {
      // The request has ended; a handler that throws from its error callback has nobody left to tell.
    }
  }

  #leave(): void {
    const conn = this.#conn;
    if (conn) this.#host.leave(conn);
  }

  /** Sent with `Expect: 100-continue` over HTTP/1.1 (undici's Client honours it over HTTP/2 only). */
  get #expectContinue(): boolean {
    return this.#opts.expectContinue === true;
  }

  #clientOptions(): PooledRequestOptions {
    const opts = this.#opts;
    const key = this.key;
    if (this.#expectContinue) {
      // One request per such connection: it closes after the response.
      return { ...opts, expectContinue: false, reset: true };
    }
    const forceClose = this.#host.forceClose;
    const proxy = key.proxy;
    if (proxy && key.protocol === "http:" && !key.tunnel) {
      // Through a proxy, a plain-http request goes in absolute form, with the proxy's headers.
      const headers = flatHeaders(opts.headers);
      for (const line of proxyHeaderLines(proxy)) {
        const i = line.indexOf(":");
        headers.push(line.slice(0, i), line.slice(i + 2));
      }
      return {
        ...opts,
        path: opts.path.startsWith("/") ? `${key.origin}${opts.path}` : opts.path,
        headers,
        ...(forceClose ? { reset: true } : {}),
      };
    }
    const servername = key.protocol === "https:" ? (key.servername ?? key.hostname) : undefined;
    // A constant server name per connection keeps undici from reconnecting when a request
    // carries its own Host header; forceClose asks undici to close after the response.
    if ((servername === undefined || opts.servername === servername) && !forceClose) return opts;
    return {
      ...opts,
      ...(servername !== undefined ? { servername } : {}),
      ...(forceClose ? { reset: true } : {}),
    };
  }
}

/** undici's header forms (array, object, iterable) as one flat `[name, value, …]` array. */
export function flatHeaders(raw: Dispatcher.DispatchOptions["headers"]): string[] {
  const out: string[] = [];
  if (!raw) return out;
  if (Array.isArray(raw)) {
    for (const v of raw) out.push(String(v));
    return out;
  }
  const entries =
    Symbol.iterator in (raw as object)
      ? Array.from(raw as Iterable<[string, unknown]>)
      : Object.entries(raw as object);
  for (const [name, value] of entries) {
    if (Array.isArray(value)) for (const v of value) out.push(name, String(v));
    else if (value !== undefined) out.push(name, String(value));
  }
  return out;
}
