import type { Duplex } from "node:stream";
import { ConnectionTimeoutError, type RequestInfo } from "@x/errors";
import { type Client, type Dispatcher, errors as undiciErrors } from "undici";
import type { Connection, OpenContext } from "./connection.js";
import type { ConnectorDispatchExtension, ConnectorDispatchOptions } from "./dispatch-options.js";
import { type DispatchFailure, dispatchError } from "./error-mapping.js";
import type { LegacyHandler } from "./handler-adapter.js";
import type { Pool, PoolWaiter } from "./pool.js";
import type { PoolKey } from "./pool-key.js";
import { proxyHeaderLines } from "./proxy.js";
import { publish } from "./trace.js";

/** What a pooled request needs from its connector. */
export interface RequestHost {
  readonly pool: Pool;
  readonly forceClose: boolean;
  /** The HTTP client bound to `conn`, created on first use. */
  clientFor(conn: Connection): Client;
  /** `conn`'s socket left HTTP through an upgrade or CONNECT. */
  upgraded(conn: Connection): void;
  /** An HTTP/2 connection of `key` with room for one more stream, if any. */
  sharedFor(key: PoolKey): Connection | undefined;
  /** Waits for a connection of the same key being opened that may turn out HTTP/2; false if none. */
  joinOpening(request: PooledRequest): boolean;
  /** A request on `conn` is done; the connection goes back to the pool when none is left. */
  leave(conn: Connection): void;
}

type Options = Dispatcher.DispatchOptions & ConnectorDispatchExtension & { servername?: string };

/**
 * One request dispatched through a connector: it waits for a connection from the pool, runs on
 * that connection's single-socket undici `Client`, gives the connection back when the response
 * ends, and reports failures as `@x/errors`. It is the handler the `Client` sees; the caller's
 * handler sees `onConnect` once, at dispatch time, so it can abort while still queued.
 */
export class PooledRequest implements PoolWaiter, LegacyHandler, DispatchFailure, OpenContext {
  readonly key: PoolKey;
  readonly #host: RequestHost;
  readonly #opts: Options;
  readonly #handler: LegacyHandler;
  readonly #x: ConnectorDispatchOptions | undefined;
  #conn: Connection | undefined;
  #clientAbort: ((err?: Error) => void) | undefined;
  #abortReason: Error | undefined;
  #queued = false;
  #settled = false;
  headersReceived = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(host: RequestHost, key: PoolKey, opts: Options, handler: LegacyHandler) {
    this.#host = host;
    this.key = key;
    this.#opts = opts;
    this.#handler = handler;
    this.#x = opts.connectorOptions;
  }

  /** True once the request has completed, failed or been aborted. */
  get settled(): boolean {
    return this.#settled;
  }

  get host(): string {
    return this.key.hostname;
  }

  get port(): number {
    return this.key.port;
  }

  /** For OpenContext: the trace hooks of this request. */
  get trace(): ConnectorDispatchOptions["trace"] {
    return this.#x?.trace;
  }

  /** For OpenContext: this request's per-attempt connect timeout. */
  get sockConnect(): number | null | undefined {
    return this.#x?.timeout?.sockConnect;
  }

  start(): void {
    this.#handler.onConnect?.(this.abort);
    if (this.#settled || this.#abortReason) return;
    const connect = this.#x?.timeout?.connect;
    if (connect != null && connect > 0) {
      this.#timer = setTimeout(
        () =>
          this.abort(
            new ConnectionTimeoutError(`Connection timeout after ${connect} ms`, {
              host: this.key.hostname,
              port: this.key.port,
            }),
          ),
        connect,
      );
    }
    const shared = this.#host.sharedFor(this.key);
    if (shared) {
      // An HTTP/2 connection in use carries this request as one more stream.
      shared.streams++;
      this.grant(shared, true, true);
      return;
    }
    if (this.#host.joinOpening(this)) return;
    this.#host.pool.acquire(this);
  }

  /** Cancels the request in whatever phase it is in; the handler gets `onError(reason)`. */
  readonly abort = (reason?: Error): void => {
    if (this.#settled || this.#abortReason) return;
    const err = reason ?? new undiciErrors.RequestAbortedError();
    this.#abortReason = err;
    if (this.#clientAbort) {
      this.#clientAbort(err);
    } else if (!this.#conn) {
      if (this.#host.pool.cancel(this)) this.#queuedEnd();
      this.#fail(err);
    } else if (this.#conn.connecting) {
      this.#conn.connecting.abort(err);
    }
    // Otherwise the Client holds the request but has not written it yet: onConnect aborts it.
  };

  // ── PoolWaiter ───────────────────────────────────────────────────────

  queued(): void {
    this.#queued = true;
    this.#x?.trace?.onConnectionQueuedStart?.();
    publish("connectionQueuedStart", () => ({ origin: this.key.origin, key: this.key.id }));
  }

  grant(conn: Connection, reused: boolean, attached = false): void {
    this.#conn = conn;
    if (!attached) conn.streams = 1;
    this.#queuedEnd();
    if (reused) {
      this.#x?.trace?.onConnectionReuseconn?.();
      publish("connectionReuseconn", () => ({ origin: this.key.origin, connection: conn }));
    }
    conn.openContext = this;
    this.#host.clientFor(conn).dispatch(this.#clientOptions(), this);
  }

  fail(err: Error): void {
    this.#fail(err);
  }

  // ── the undici Client's view ─────────────────────────────────────────

  onConnect(abort: (err?: Error) => void): void {
    this.#clientAbort = abort;
    this.#clearTimer();
    const conn = this.#conn!;
    const socket = conn.socket;
    const reused = socket ? conn.useSocket(socket) : false;
    this.#x?.onConnection?.({ connection: conn, reused });
    if (this.#abortReason) abort(this.#abortReason);
  }

  onResponseStarted(): void {
    this.#handler.onResponseStarted?.();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode >= 200) this.headersReceived = true;
    return this.#handler.onHeaders?.(statusCode, rawHeaders, resume, statusText) !== false;
  }

  onData(chunk: Buffer): boolean {
    return this.#handler.onData?.(chunk) !== false;
  }

  onComplete(trailers: Buffer[] | string[] | null): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#clearTimer();
    // undici decides whether to keep the socket right after this returns. Releasing first and
    // completing after lets a caller that sends its next request from onComplete (a redirect
    // interceptor, a session following a redirect) reuse this very connection.
    const conn = this.#conn;
    queueMicrotask(() => {
      if (conn) this.#host.leave(conn);
      this.#handler.onComplete?.(trailers);
    });
  }

  onError(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#clearTimer();
    this.#queuedEnd();
    this.#releaseSoon();
    const reported = err === this.#abortReason ? err : (dispatchError(err, this) as Error);
    if (!this.#handler.onError) throw reported;
    this.#handler.onError(reported);
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    this.#settled = true;
    this.#clearTimer();
    const conn = this.#conn!;
    this.#host.upgraded(conn);
    this.#handler.onUpgrade?.(statusCode, rawHeaders, socket);
  }

  onBodySent(chunk: unknown, totalBytesSent?: number): void {
    this.#handler.onBodySent?.(chunk, totalBytesSent);
  }

  onRequestSent(): void {
    this.#handler.onRequestSent?.();
  }

  // ── DispatchFailure ──────────────────────────────────────────────────

  requestInfo(): RequestInfo {
    const url = new URL(this.#opts.path, this.key.origin);
    const headers = new Headers();
    const raw = this.#opts.headers;
    if (Array.isArray(raw)) {
      for (let i = 0; i + 1 < raw.length; i += 2) headers.append(String(raw[i]), String(raw[i + 1]));
    } else if (raw && typeof raw === "object") {
      const entries =
        Symbol.iterator in raw
          ? Array.from(raw as Iterable<[string, unknown]>)
          : Object.entries(raw as object);
      for (const [name, value] of entries) {
        if (Array.isArray(value)) for (const v of value) headers.append(name, String(v));
        else if (value !== undefined) headers.append(name, String(value));
      }
    }
    return { url, method: this.#opts.method, headers, realUrl: url };
  }

  // ── internals ────────────────────────────────────────────────────────

  #clientOptions(): Options {
    const opts = this.#opts;
    const proxy = this.key.proxy;
    if (proxy && this.key.protocol === "http:" && !this.key.tunnel) {
      // Through a proxy, a plain-http request goes in absolute form, with the proxy's headers.
      const headers = flatHeaders(opts.headers);
      for (const line of proxyHeaderLines(proxy)) {
        const i = line.indexOf(":");
        headers.push(line.slice(0, i), line.slice(i + 2));
      }
      return {
        ...opts,
        path: opts.path.startsWith("/") ? `${this.key.origin}${opts.path}` : opts.path,
        headers,
        ...(this.#host.forceClose ? { reset: true } : {}),
      };
    }
    const servername =
      this.key.protocol === "https:" ? (this.key.servername ?? this.key.hostname) : undefined;
    // A constant server name per connection keeps undici from reconnecting when a request
    // carries its own Host header; forceClose asks undici to close after the response.
    if ((servername === undefined || opts.servername === servername) && !this.#host.forceClose) return opts;
    return {
      ...opts,
      ...(servername !== undefined ? { servername } : {}),
      ...(this.#host.forceClose ? { reset: true } : {}),
    };
  }

  #fail(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#clearTimer();
    this.#queuedEnd();
    this.#handler.onError?.(err);
  }

  #queuedEnd(): void {
    if (!this.#queued) return;
    this.#queued = false;
    this.#x?.trace?.onConnectionQueuedEnd?.();
    publish("connectionQueuedEnd", () => ({ origin: this.key.origin, key: this.key.id }));
  }

  #clearTimer(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /**
   * Gives the connection back after undici has finished with the socket for this response
   * (it decides to close it, for `Connection: close` or an unread body, right after the
   * handler callbacks return).
   */
  #releaseSoon(): void {
    const conn = this.#conn;
    if (conn) queueMicrotask(() => this.#host.leave(conn));
  }
}

/** undici's header forms (array, object, iterable) as one flat `[name, value, …]` array. */
function flatHeaders(raw: Dispatcher.DispatchOptions["headers"]): string[] {
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
