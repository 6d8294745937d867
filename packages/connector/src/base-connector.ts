import type { Socket } from "node:net";
import { ConnectorClosedError, InvalidArgumentError } from "@x/errors";
import { Dispatcher, errors as undiciErrors } from "undici";
import { acquireConnection } from "./acquisition.js";
import type { Connection } from "./connection.js";
import { ConnectionClients } from "./connection-client.js";
import { type ConnectAttempt, ConnectionOpener } from "./connection-opener.js";
import {
  type BaseConnectorOptions,
  type ConnectorSettings,
  resolveConnectorOptions,
} from "./connector-options.js";
import type { ConnectorDispatchExtension, ConnectorDispatchOptions, KeyOptions } from "./dispatch-options.js";
import { DispatcherLifecycle } from "./dispatcher-lifecycle.js";
import { H2Sharing } from "./h2-sharing.js";
import { forHandlers, isDispatcherClosed } from "./handler-errors.js";
import { controllerHandler } from "./legacy-handler.js";
import { Pool } from "./pool.js";
import { originKey, type PoolKey, PoolKeys } from "./pool-key.js";
import type { PooledConnection } from "./pooled-connection.js";
import { PooledRequest, type RequestHost } from "./pooled-request.js";
import type { SocketSource } from "./socket-source.js";

export type { ConnectAttempt } from "./connection-opener.js";
export type { BaseConnectorOptions } from "./connector-options.js";

/** `connector.connect()`'s argument: where to connect, and the request's connector settings. */
export interface ConnectRequest extends ConnectorDispatchOptions {
  /** The URL to connect for: `http:`, `https:`, `ws:` or `wss:`. */
  url: string | URL;
  /** Gives up waiting or connecting; the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** Counts a connector keeps, for monitoring. */
export interface ConnectorStats {
  /** Connections in use, including ones being opened. */
  readonly acquired: number;
  /** Idle keep-alive connections. */
  readonly idle: number;
  /** Requests waiting for a connection. */
  readonly waiting: number;
}

type DispatchOptions = Dispatcher.DispatchOptions & ConnectorDispatchExtension;
type Callback = (err: Error | null, data: null) => void;

/**
 * The base of every connector: a connection pool with aiohttp's semantics that is also an undici
 * `Dispatcher`, so `fetch(url, { dispatcher })`, `undici.request(url, { dispatcher })`,
 * `dispatcher.compose(interceptors…)` and `@x/session` all use it the same way.
 *
 * It composes the connector's parts: the {@link Pool} (limits, FIFO waiters, idle connections),
 * one `Acquisition` per request (timeouts, abort, queue traces), the `ConnectionOpener` (socket
 * opening, events), `H2Sharing` (HTTP/2 streams and coalescing) and the undici `Client` of each
 * connection. Subclasses say how to open a socket ({@link BaseConnector.openSocket}) and,
 * optionally, what makes two requests share one ({@link BaseConnector.createKey}).
 */
export abstract class BaseConnector extends Dispatcher implements AsyncDisposable, SocketSource {
  readonly #settings: ConnectorSettings;
  readonly #pool: Pool;
  readonly #sharing: H2Sharing;
  readonly #clients: ConnectionClients;
  readonly #host: RequestHost;
  readonly #keys: PoolKeys;
  readonly #lifecycle: DispatcherLifecycle;
  #needDrain = false;

  constructor(options: BaseConnectorOptions = {}) {
    super();
    const settings = resolveConnectorOptions(options);
    this.#settings = settings;
    this.#lifecycle = new DispatcherLifecycle(async (err) => {
      await this.#pool.close(err);
      await this.closeResources();
    });
    const pool = new Pool(
      {
        limit: settings.limit,
        limitPerHost: settings.limitPerHost,
        keepaliveTimeout: settings.keepaliveTimeout,
      },
      { destroy: (conn, err) => this.#destroyConnection(conn, err), idle: (conn) => this.#onIdle(conn) },
    );
    const connector = this;
    const opener = new ConnectionOpener(
      {
        dispatcher: this,
        get destroyed() {
          return connector.#lifecycle.destroyed;
        },
        openSocket: (key, attempt) => this.openSocket(key, attempt),
        socketClosed: (conn, socket) => this.#socketClosed(conn, socket),
      },
      settings,
    );
    this.#keys = new PoolKeys((url, options) => this.createKey(url, options));
    this.#pool = pool;
    this.#sharing = new H2Sharing(pool);
    this.#clients = new ConnectionClients(settings, opener, this);
    this.#host = {
      pool,
      sharing: this.#sharing,
      opener,
      forceClose: settings.forceClose,
      get closing() {
        return connector.#lifecycle.closed;
      },
      clientFor: (conn, expectContinue) => this.#clients.clientFor(conn, expectContinue),
      upgraded: (conn) => this.#upgraded(conn),
      leave: (conn) => this.#leave(conn),
      settled: (request) => this.#settled(request),
    };
  }

  /** True once `close()` was called (undici's meaning). */
  get closed(): boolean {
    return this.#lifecycle.closed;
  }

  /** True once `destroy()` was called, or `close()` has finished (undici's meaning). */
  get destroyed(): boolean {
    return this.#lifecycle.destroyed;
  }

  /** True when connections are closed after each response. */
  get forceClose(): boolean {
    return this.#settings.forceClose;
  }

  /** The cap on connections in use over all hosts; 0 = unlimited. */
  get limit(): number {
    return this.#settings.limit;
  }

  /** The cap on connections in use per endpoint; 0 = unlimited. */
  get limitPerHost(): number {
    return this.#settings.limitPerHost;
  }

  /** True when HTTP/2 is offered to https origins. */
  get allowH2(): boolean {
    return this.#settings.allowH2;
  }

  /** How long idle connections are kept, ms (0 when keep-alive is off). */
  get keepaliveTimeout(): number {
    return this.#settings.keepaliveTimeout;
  }

  /**
   * True: this dispatcher reads `connectorOptions` from dispatch options (per-request TLS, proxy,
   * timeouts, trace hooks, `onConnection`). `@x/session` refuses a per-request proxy or TLS pin
   * with a dispatcher that does not say so, rather than ignore it.
   */
  get honoursConnectorOptions(): boolean {
    return true;
  }

  /**
   * True: undici's `expectContinue` dispatch option is honoured over HTTP/1.1 too (undici's own
   * clients honour it over HTTP/2 only). Such a request gets a connection of its own, sends
   * `Expect: 100-continue` and holds its body until the server answers `100 Continue`.
   */
  get expectContinueHttp1(): boolean {
    return true;
  }

  /** Connections in use, idle, and requests waiting. */
  get stats(): ConnectorStats {
    const pool = this.#pool;
    return { acquired: pool.acquiredCount, idle: pool.idleCount, waiting: pool.waitingCount };
  }

  // ── what subclasses provide ─────────────────────────────────────────

  /**
   * Opens a socket for `key`: connected, and secured when `key.tls` is set (offering
   * `attempt.alpn`). Reject with a `ClientConnectorError` subclass on failure, with
   * `attempt.signal.reason` once it aborts.
   */
  protected abstract openSocket(key: PoolKey, attempt: ConnectAttempt): Promise<Socket>;

  /**
   * Says which connections a request may share. The default keys plain and TLS origins by
   * origin alone; `TCPConnector` adds TLS settings and the server name.
   */
  protected createKey(url: URL, options: KeyOptions | undefined): PoolKey {
    if (options?.proxy) throw new InvalidArgumentError(`${this.constructor.name} does not support proxies`);
    return originKey(url);
  }

  // ── Dispatcher ──────────────────────────────────────────────────────

  /**
   * undici's `Dispatcher.dispatch`: the request waits for a connection from the pool, then runs
   * on it. `opts.connectorOptions` carries per-request TLS, proxy, timeouts and trace hooks.
   * Returns `false` when the request had to wait for a connection; `'drain'` follows once
   * nothing waits any more.
   */
  override dispatch(opts: DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const caller = controllerHandler(handler);
    try {
      if (!opts || typeof opts !== "object")
        throw new undiciErrors.InvalidArgumentError("opts must be an object.");
      const refusal = this.#lifecycle.refusal();
      if (refusal) throw refusal;
      const x = opts.connectorOptions;
      const key = this.#keys.keyFor(opts.origin, x);
      const upgrade = (opts.upgrade !== undefined && opts.upgrade !== null) || opts.method === "CONNECT";
      const need = opts.expectContinue === true ? "raw" : upgrade ? "http1" : "shared";
      const request = new PooledRequest(this.#host, key, opts, caller, need);
      this.#lifecycle.started();
      request.start();
      // As undici's dispatchers do: false once this request took its endpoint's last free place
      // (or had to wait: then there is no room either); other endpoints are not asked.
      if (this.#pool.hasRoom(key.id)) return true;
      this.#needDrain = true;
      return false;
    } catch (err) {
      caller.onResponseError?.(null as never, forHandlers(err, this.#lifecycle.closed) as Error);
      return false;
    }
  }

  /**
   * Closes gracefully (undici's `close()`): new requests fail with undici's `ClientClosedError`,
   * requests already dispatched — waiting or running — finish, then every connection is closed.
   * aiohttp's abrupt `close()` is {@link BaseConnector.destroy}.
   * @throws undici's `InvalidArgumentError` for a callback that is not a function.
   */
  override close(): Promise<void>;
  override close(callback: Callback): void;
  override close(callback?: Callback): Promise<void> | void {
    if (callback !== undefined && typeof callback !== "function") {
      throw new undiciErrors.InvalidArgumentError("invalid callback");
    }
    const done = this.#lifecycle.close();
    if (!callback) return done;
    done.then(
      () => callback(null, null),
      (err: Error) => callback(err, null),
    );
  }

  /**
   * Closes every connection — idle and in use — and fails every waiting and running request
   * with `err` (default: undici's `ClientDestroyedError`); resolves once every socket is closed.
   * This is aiohttp's `connector.close()`.
   * @throws undici's `InvalidArgumentError` for a callback that is not a function.
   */
  override destroy(err: Error | null, callback: Callback): void;
  override destroy(callback: Callback): void;
  override destroy(err?: Error | null): Promise<void>;
  override destroy(errOrCallback?: Error | null | Callback, callback?: Callback): Promise<void> | void {
    let err = errOrCallback as Error | null | undefined;
    let cb = callback;
    if (typeof errOrCallback === "function") {
      cb = errOrCallback;
      err = null;
    }
    if (cb !== undefined && typeof cb !== "function")
      throw new undiciErrors.InvalidArgumentError("invalid callback");
    const done = this.#lifecycle.destroy(err ?? null);
    if (!cb) return done;
    done.then(() => cb(null, null));
  }

  /** `await using connector = …`: closes, aborting whatever still runs (aiohttp's `async with`). */
  async [Symbol.asyncDispose](): Promise<void> {
    void this.#lifecycle.close().catch(() => {});
    await this.#lifecycle.destroy(null);
  }

  /**
   * undici's `compose()`. The composed dispatcher is this connector with interceptors in front of
   * `dispatch`: undici's `request()`, `stream()`, `pipeline()` and `upgrade()` go through them (as
   * on undici's own dispatchers), `compose()` adds more in front, and everything else —
   * `close()`, `destroy()`, `connect()`, the getters — acts on the connector itself.
   */
  override compose(
    ...interceptors: Array<
      Dispatcher.DispatcherComposeInterceptor | Dispatcher.DispatcherComposeInterceptor[]
    >
  ): Dispatcher.ComposedDispatcher {
    const list = interceptorList(interceptors);
    const composed = super.compose(list);
    return new Proxy(composed, {
      get: (target, key) => {
        if (key === "compose")
          return (...more: typeof interceptors) => this.compose([...list, ...interceptorList(more)]);
        const value: unknown = Reflect.get(target, key);
        if (typeof value !== "function" || key === "dispatch") return value;
        // undici's own methods (the request APIs, EventEmitter's) run on the composed dispatcher,
        // so that they dispatch through the interceptors; the connector's run on the connector.
        return value === Reflect.get(Dispatcher.prototype, key) ? value : value.bind(this);
      },
    });
  }

  // ── aiohttp's connect() ─────────────────────────────────────────────

  /**
   * Takes a connection from the pool — an idle one, or a new socket — waiting while `limit` or
   * `limitPerHost` is reached (aiohttp's `connector.connect()`). The caller owns it until
   * `release()`, `close()` or `detach()`.
   * @throws {InvalidUrlClientError} for a URL that is not http/https/ws/wss.
   * @throws {ConnectorClosedError} if the connector is or becomes closed.
   * @throws {ConnectionTimeoutError} when `timeout.connect` elapses.
   * @throws `ClientConnectorError` and subclasses when the socket cannot be opened.
   */
  override connect(request: ConnectRequest): Promise<Connection>;
  /** undici's `Dispatcher.connect()`: an HTTP CONNECT tunnel through this connector. */
  override connect<TOpaque = null>(
    options: Dispatcher.ConnectOptions<TOpaque>,
  ): Promise<Dispatcher.ConnectData<TOpaque>>;
  override connect<TOpaque = null>(
    options: Dispatcher.ConnectOptions<TOpaque>,
    callback: (err: Error | null, data: Dispatcher.ConnectData<TOpaque>) => void,
  ): void;
  override connect(
    request: ConnectRequest | Dispatcher.ConnectOptions<unknown>,
    callback?: (err: Error | null, data: Dispatcher.ConnectData<unknown>) => void,
  ): Promise<unknown> | undefined {
    if (request && typeof request === "object" && "url" in request && !("path" in request)) {
      return this.#connectConnection(request);
    }
    const options = request as Dispatcher.ConnectOptions<unknown>;
    if (!callback) return super.connect(options);
    super.connect(options, callback);
    return undefined;
  }

  /** The connector as a {@link SocketSource}: `connect()` by another name, for websocket clients. */
  connectSocket(request: ConnectRequest): Promise<Connection> {
    return this.#connectConnection(request);
  }

  async #connectConnection(request: ConnectRequest): Promise<Connection> {
    if (this.#lifecycle.closed || this.#lifecycle.destroyed) throw new ConnectorClosedError();
    // A raw connection through a proxy must be a tunnel, whatever the scheme.
    const key = this.#keys.keyFor(request.url, request, request.proxy !== undefined);
    const signal = request.signal;
    signal?.throwIfAborted();
    return acquireConnection(
      this.#host,
      {
        key,
        need: "raw",
        trace: request.trace,
        connectTimeout: request.timeout?.connect,
        sockConnect: request.timeout?.sockConnect,
      },
      signal,
    ).catch((err: unknown) => {
      throw isDispatcherClosed(err) ? new ConnectorClosedError(undefined, { cause: err }) : err;
    });
  }

  // ── the parts' callbacks ────────────────────────────────────────────

  /** A request on `conn` ended: HTTP/1.1 connections go back to the pool, HTTP/2 ones when idle. */
  #leave(conn: PooledConnection): void {
    if (conn.removeStream() === 0) conn.release();
    else this.#sharing.fill(conn);
    this.#drained(conn.key);
  }

  #settled(request: PooledRequest): void {
    this.#drained(request.key);
    this.#lifecycle.ended();
  }

  /** After `dispatch()` returned false: emits `'drain'` once a request for `key` would not wait. */
  #drained(key: PoolKey): void {
    if (!this.#needDrain || !this.#pool.hasRoom(key.id)) return;
    this.#needDrain = false;
    // undici's dispatchers emit (origin, targets); its typings name only the origin.
    (this.emit as (event: string, ...args: unknown[]) => boolean)("drain", new URL(key.origin), [this]);
  }

  /** `conn`'s socket left HTTP through an upgrade or CONNECT: it counts until it closes. */
  #upgraded(conn: PooledConnection): void {
    const client = conn.markUpgraded();
    const socket = conn.socket;
    if (!socket || socket.destroyed) queueMicrotask(() => conn.close());
    if (client) void client.destroy().catch(() => {});
  }

  #socketClosed(conn: PooledConnection, socket: Socket): void {
    if (conn.socket !== socket) return;
    if (!this.#clients.handedToClient(socket)) {
      this.emit(
        "disconnect",
        new URL(conn.key.origin),
        [this],
        new undiciErrors.SocketError("other side closed"),
      );
    }
    if (conn.upgraded) conn.close();
    else this.#pool.dropIdle(conn);
  }

  #onIdle(conn: PooledConnection): void {
    // undici's Client closes its own idle socket after keepaliveTimeout; a raw socket given back
    // through connect().release() needs a timer of its own.
    if (conn.client) return;
    const timer = setTimeout(() => this.#pool.dropIdle(conn), this.#settings.keepaliveTimeout);
    timer.unref();
    conn.setIdleTimer(timer);
    conn.socket?.unref();
  }

  #destroyConnection(conn: PooledConnection, err?: Error): Promise<void> {
    if (this.#settings.cleanupClosed && !this.#lifecycle.destroyed && conn.closeTlsGracefully(2000))
      return Promise.resolve();
    return conn.destroy(err);
  }

  // ── shutdown ────────────────────────────────────────────────────────

  /** Releases what a subclass owns (a resolver) after every connection is closed. */
  protected async closeResources(): Promise<void> {}
}

/** compose()'s arguments as undici reads them: a first argument that is an array is the whole list. */
function interceptorList(
  args: Array<Dispatcher.DispatcherComposeInterceptor | Dispatcher.DispatcherComposeInterceptor[]>,
): Dispatcher.DispatcherComposeInterceptor[] {
  return (Array.isArray(args[0]) ? args[0] : args) as Dispatcher.DispatcherComposeInterceptor[];
}
