import type { Socket } from "node:net";
import {
  ConnectionTimeoutError,
  ConnectorClosedError,
  InvalidArgumentError,
  InvalidUrlClientError,
} from "@x/errors";
import { Client, Dispatcher } from "undici";
import type { Connection } from "./connection.js";
import type { ConnectorDispatchExtension, ConnectorDispatchOptions, KeyOptions } from "./dispatch-options.js";
import { toLegacyHandler } from "./handler-adapter.js";
import { Pool, type PoolWaiter } from "./pool.js";
import type { PoolKey } from "./pool-key.js";
import { PooledRequest } from "./pooled-request.js";
import { type ConnectorTrace, publish } from "./trace.js";

/** Options every connector takes (aiohttp's `BaseConnector` arguments; durations in ms). */
export interface BaseConnectorOptions {
  /** How long a released connection may wait for reuse, ms. Default 15000; 0 disables keep-alive. */
  keepaliveTimeout?: number;
  /** Close every connection after its response instead of keeping it alive. Default `false`. */
  forceClose?: boolean;
  /** Most connections in use at once, over all hosts. Default 100; 0 = unlimited. */
  limit?: number;
  /** Most connections in use at once to one endpoint (host, port, TLS settings). Default 0 = unlimited. */
  limitPerHost?: number;
  /**
   * Close idle TLS connections gracefully (send close_notify) but abort them if the peer has not
   * finished closing within 2 s — aiohttp's guard for servers that never complete the TLS
   * shutdown. Without it, idle TLS connections are aborted at once. Default `false`.
   */
  enableCleanupClosed?: boolean;
  /** Timeout of each connection attempt (TCP connect plus TLS handshake), ms; `null` = none. Default 30000. */
  connectTimeout?: number | null;
  /** Largest response head (status line and headers) accepted, bytes. Default: Node's `http.maxHeaderSize` (16 KiB). */
  maxHeaderSize?: number;
  /**
   * Offer HTTP/2 to https origins (ALPN `h2`, falling back to HTTP/1.1). An HTTP/2 connection
   * carries up to 100 requests at once and counts once against `limit`. Default `false`.
   */
  allowH2?: boolean;
}

/** What one connection attempt may use. */
export interface ConnectAttempt {
  /** Aborted when the request is cancelled or the connector closes; reject with `signal.reason`. */
  readonly signal: AbortSignal;
  /** Per-attempt timeout, ms; `null` = none. */
  readonly timeout: number | null;
  /** The request's trace hooks, for DNS events. */
  readonly trace: ConnectorTrace | undefined;
}

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

const DEFAULT_PORTS: Record<string, number> = { "http:": 80, "https:": 443, "ws:": 80, "wss:": 443 };
/** Concurrent requests on one HTTP/2 connection (Node's http2 servers allow 100 by default). */
const MAX_STREAMS = 100;

function checkCount(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === Number.POSITIVE_INFINITY) return 0;
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidArgumentError(
      `${name} must be a non-negative integer (0 = unlimited), got ${String(value)}`,
    );
  }
  return value;
}

function checkDuration(
  name: string,
  value: number | null | undefined,
  fallback: number | null,
): number | null {
  if (value === undefined) return fallback;
  if (value === null) return null;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(
      `${name} must be a non-negative number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * The base of every connector: a connection pool with aiohttp's semantics that is also an undici
 * `Dispatcher`, so `fetch(url, { dispatcher })`, `undici.request(url, { dispatcher })` and
 * `@x/session` all use it the same way.
 *
 * Subclasses say how to open a socket ({@link BaseConnector.openSocket}) and, optionally, what
 * makes two requests share one ({@link BaseConnector.createKey}).
 */
export abstract class BaseConnector extends Dispatcher implements AsyncDisposable {
  // It is the RequestHost of pooled-request.ts structurally: those methods are @internal and
  // stripped from the published types, so the class cannot name that interface.
  readonly pool: Pool;
  readonly #keepaliveTimeout: number;
  readonly #forceClose: boolean;
  readonly #limit: number;
  readonly #limitPerHost: number;
  readonly #cleanupClosed: boolean;
  readonly #connectTimeout: number | null;
  readonly #maxHeaderSize: number | undefined;
  readonly #allowH2: boolean;
  readonly #shared = new Map<string, Set<Connection>>();
  /** Requests waiting for a connection being opened that may speak HTTP/2, per key. */
  readonly #opening = new Map<string, PooledRequest[]>();
  readonly #keys = new Map<string, PoolKey>();
  readonly #handedToClient = new WeakSet<Socket>();
  #closing: Promise<void> | undefined;

  constructor(options: BaseConnectorOptions = {}) {
    super();
    if (typeof options !== "object" || options === null)
      throw new InvalidArgumentError("options must be an object");
    this.#forceClose = options.forceClose ?? false;
    if (typeof this.#forceClose !== "boolean") throw new InvalidArgumentError("forceClose must be a boolean");
    if (this.#forceClose && options.keepaliveTimeout !== undefined && options.keepaliveTimeout !== 0) {
      throw new InvalidArgumentError("keepaliveTimeout cannot be set if forceClose is true");
    }
    this.#keepaliveTimeout = this.#forceClose
      ? 0
      : (checkDuration("keepaliveTimeout", options.keepaliveTimeout, 15_000) ?? 0);
    this.#limit = checkCount("limit", options.limit, 100);
    this.#limitPerHost = checkCount("limitPerHost", options.limitPerHost, 0);
    this.#cleanupClosed = options.enableCleanupClosed ?? false;
    this.#connectTimeout = checkDuration("connectTimeout", options.connectTimeout, 30_000);
    if (
      options.maxHeaderSize !== undefined &&
      (!Number.isInteger(options.maxHeaderSize) || options.maxHeaderSize < 1)
    ) {
      throw new InvalidArgumentError("maxHeaderSize must be a positive integer");
    }
    this.#maxHeaderSize = options.maxHeaderSize;
    this.#allowH2 = options.allowH2 ?? false;
    if (typeof this.#allowH2 !== "boolean") throw new InvalidArgumentError("allowH2 must be a boolean");
    this.pool = new Pool(
      { limit: this.#limit, limitPerHost: this.#limitPerHost, keepaliveTimeout: this.#keepaliveTimeout },
      { destroy: (conn) => this.#destroyConnection(conn), idle: (conn) => this.#onIdle(conn) },
    );
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Same as `closed`: a closed connector is destroyed (undici's name). */
  get destroyed(): boolean {
    return this.#closing !== undefined;
  }

  /** True when connections are closed after each response. */
  get forceClose(): boolean {
    return this.#forceClose;
  }

  /** The cap on connections in use over all hosts; 0 = unlimited. */
  get limit(): number {
    return this.#limit;
  }

  /** The cap on connections in use per endpoint; 0 = unlimited. */
  get limitPerHost(): number {
    return this.#limitPerHost;
  }

  /** True when HTTP/2 is offered to https origins. */
  get allowH2(): boolean {
    return this.#allowH2;
  }

  /** How long idle connections are kept, ms (0 when keep-alive is off). */
  get keepaliveTimeout(): number {
    return this.#keepaliveTimeout;
  }

  /** Connections in use, idle, and requests waiting. */
  get stats(): ConnectorStats {
    return { acquired: this.pool.acquiredCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  // ── what subclasses provide ─────────────────────────────────────────

  /**
   * Opens a socket for `key`: connected, and secured when `key.tls` is set. Reject with a
   * `ClientConnectorError` subclass on failure, with `attempt.signal.reason` once it aborts.
   */
  protected abstract openSocket(key: PoolKey, attempt: ConnectAttempt): Promise<Socket>;

  /**
   * Says which connections a request may share. The default keys plain and TLS origins by
   * origin alone; `TCPConnector` adds TLS settings and the server name.
   */
  protected createKey(url: URL, options: KeyOptions | undefined): PoolKey {
    if (options?.proxy) throw new InvalidArgumentError(`${this.constructor.name} does not support proxies`);
    const protocol = url.protocol === "https:" || url.protocol === "wss:" ? "https:" : "http:";
    const port = url.port ? Number(url.port) : (DEFAULT_PORTS[url.protocol] ?? 80);
    const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const origin = `${protocol}//${url.hostname}:${port}`;
    return { id: origin, origin, protocol, hostname, port, tls: undefined, servername: undefined };
  }

  // ── Dispatcher ──────────────────────────────────────────────────────

  /**
   * undici's `Dispatcher.dispatch`: queues the request for a connection from the pool.
   * `opts.connectorOptions` carries per-request TLS, timeouts and trace hooks.
   */
  override dispatch(
    opts: Dispatcher.DispatchOptions & ConnectorDispatchExtension,
    handler: Dispatcher.DispatchHandler,
  ): boolean {
    if (!handler || typeof handler !== "object") throw new InvalidArgumentError("handler must be an object");
    const legacy = toLegacyHandler(handler);
    try {
      if (!opts || typeof opts !== "object") throw new InvalidArgumentError("opts must be an object");
      if (this.#closing) throw new ConnectorClosedError();
      const key = this.#keyFor(opts.origin, opts.connectorOptions);
      new PooledRequest(this, key, opts, legacy).start();
      return true;
    } catch (err) {
      if (!legacy.onError) throw err;
      legacy.onError(err as Error);
      return false;
    }
  }

  /**
   * Closes every connection — idle and in use — and fails every waiting request with
   * `ConnectorClosedError` (aiohttp's `close()`; undici's `destroy()`). Resolves once every socket
   * is closed.
   */
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = this.#shutdown();
    if (typeof callback === "function") {
      done.then(() => callback());
      return;
    }
    return done;
  }

  /** The same as {@link BaseConnector.close}: a connector's close is already abrupt. */
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(callback: () => void): void;
  override destroy(err?: Error | null): Promise<void>;
  override destroy(errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    const cb = typeof errOrCallback === "function" ? errOrCallback : callback;
    const done = this.#shutdown();
    if (cb) {
      done.then(() => cb());
      return;
    }
    return done;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
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
    if ("url" in request && !("path" in request)) return this.#connectConnection(request);
    const options = request as Dispatcher.ConnectOptions<unknown>;
    if (!callback) return super.connect(options);
    super.connect(options, callback);
    return undefined;
  }

  async #connectConnection(request: ConnectRequest): Promise<Connection> {
    if (this.#closing) throw new ConnectorClosedError();
    // A raw connection through a proxy must be a tunnel, whatever the scheme.
    const key = this.#keyFor(request.url, request, request.proxy !== undefined);
    const signal = request.signal;
    signal?.throwIfAborted();
    const trace = request.trace;
    const connectTimeout = request.timeout?.connect;
    return new Promise<Connection>((resolve, reject) => {
      let conn: Connection | undefined;
      let timer: NodeJS.Timeout | undefined;
      let queued = false;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const queuedEnd = () => {
        if (!queued) return;
        queued = false;
        trace?.onConnectionQueuedEnd?.();
        publish("connectionQueuedEnd", () => ({ origin: key.origin, key: key.id }));
      };
      const giveUp = (reason: Error) => {
        if (conn) {
          conn.connecting?.abort(reason);
          return;
        }
        if (this.pool.cancel(waiter)) queuedEnd();
        cleanup();
        reject(reason);
      };
      const onAbort = () => giveUp(signal?.reason as Error);
      const waiter: PoolWaiter = {
        key,
        accepts: (c) => c.client === undefined,
        queued: () => {
          queued = true;
          trace?.onConnectionQueuedStart?.();
          publish("connectionQueuedStart", () => ({ origin: key.origin, key: key.id }));
        },
        fail: (err) => {
          queuedEnd();
          cleanup();
          reject(err);
        },
        grant: (granted, reused) => {
          conn = granted;
          queuedEnd();
          if (reused) {
            trace?.onConnectionReuseconn?.();
            publish("connectionReuseconn", () => ({ origin: key.origin, connection: granted }));
            cleanup();
            resolve(granted);
            return;
          }
          granted.openContext = { trace, sockConnect: request.timeout?.sockConnect };
          this.#open(granted).then(
            () => {
              cleanup();
              resolve(granted);
            },
            (err: unknown) => {
              cleanup();
              granted.close();
              reject(err);
            },
          );
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (connectTimeout != null && connectTimeout > 0) {
        timer = setTimeout(
          () =>
            giveUp(
              new ConnectionTimeoutError(`Connection timeout after ${connectTimeout} ms`, {
                host: key.hostname,
                port: key.port,
              }),
            ),
          connectTimeout,
        );
      }
      this.pool.acquire(waiter);
    });
  }

  // ── RequestHost: used by PooledRequest ──────────────────────────────

  /** @internal */
  clientFor(conn: Connection): Client {
    const existing = conn.client;
    if (existing && !existing.destroyed) return existing;
    const keepAlive = this.#keepaliveTimeout > 0 ? this.#keepaliveTimeout : 1;
    const h2 = this.#allowH2 && conn.key.protocol === "https:";
    const client = new Client(conn.key.origin, {
      connect: (_opts, callback) =>
        this.#clientConnect(conn, callback as (err: Error | null, socket: Socket | null) => void),
      // One request at a time over HTTP/1.1 (the pool decides); HTTP/2 streams share the socket.
      pipelining: h2 ? MAX_STREAMS : 1,
      ...(h2 ? { allowH2: true, maxConcurrentStreams: MAX_STREAMS } : {}),
      keepAliveTimeout: keepAlive,
      keepAliveMaxTimeout: keepAlive,
      ...(this.#maxHeaderSize !== undefined ? { maxHeaderSize: this.#maxHeaderSize } : {}),
    });
    conn.setClient(client);
    return client;
  }

  /** @internal */
  sharedFor(key: PoolKey): Connection | undefined {
    const set = this.#shared.get(key.id);
    if (!set) return undefined;
    for (const conn of set) {
      if (conn.state === "closed" || conn.state === "detached" || !conn.alive) {
        set.delete(conn);
        continue;
      }
      if (conn.state === "acquired" && conn.streams < MAX_STREAMS) return conn;
    }
    if (set.size === 0) this.#shared.delete(key.id);
    return undefined;
  }

  /** @internal */
  joinOpening(request: PooledRequest): boolean {
    const waiting = this.#opening.get(request.key.id);
    if (!waiting) return false;
    waiting.push(request);
    return true;
  }

  /** The connection being opened for `conn.key` is open (or failed): serve those who waited on it. */
  #settleOpening(conn: Connection): void {
    const waiting = this.#opening.get(conn.key.id);
    if (!waiting) return;
    this.#opening.delete(conn.key.id);
    for (const request of waiting) {
      if (request.settled) continue;
      if (conn.h2 && conn.state === "acquired" && conn.alive && conn.streams < MAX_STREAMS) {
        conn.streams++;
        request.grant(conn, true, true);
      } else {
        this.pool.acquire(request);
      }
    }
  }

  /** @internal */
  leave(conn: Connection): void {
    conn.streams = Math.max(0, conn.streams - 1);
    if (conn.streams === 0) conn.release();
    else if (conn.h2) this.#attachWaiters(conn);
  }

  /** Moves requests waiting for `conn`'s key onto it, as HTTP/2 streams. */
  #attachWaiters(conn: Connection): void {
    if (conn.state !== "acquired") return;
    const waiters = this.pool.takeWaiters(
      conn.key.id,
      MAX_STREAMS - conn.streams,
      (w) => w instanceof PooledRequest,
    );
    for (const waiter of waiters) {
      conn.streams++;
      (waiter as PooledRequest).grant(conn, true, true);
    }
  }

  /** @internal */
  upgraded(conn: Connection): void {
    const client = conn.client;
    conn.setClient(undefined);
    const socket = conn.socket;
    if (socket) conn.markUpgraded(socket);
    // The socket now belongs to whoever upgraded it; it keeps counting until it closes.
    if (!socket || socket.destroyed) queueMicrotask(() => conn.close());
    if (client) void client.destroy().catch(() => {});
  }

  // ── internals ───────────────────────────────────────────────────────

  #keyFor(
    origin: string | URL | undefined,
    options: ConnectorDispatchOptions | undefined,
    tunnel = false,
  ): PoolKey {
    const simple =
      !tunnel &&
      (options === undefined ||
        (options.ssl === undefined && options.serverHostname === undefined && options.proxy === undefined));
    const text = typeof origin === "string" ? origin : origin?.href;
    if (simple && text !== undefined) {
      const cached = this.#keys.get(text);
      if (cached) return cached;
    }
    let url: URL;
    try {
      url = typeof origin === "string" ? new URL(origin) : (origin as URL);
      if (!(url instanceof URL)) throw new TypeError("missing origin");
    } catch (err) {
      throw new InvalidUrlClientError(String(origin), "the request origin is not a valid URL", {
        cause: err,
      });
    }
    if (!(url.protocol in DEFAULT_PORTS)) {
      throw new InvalidUrlClientError(
        url.href,
        `unsupported scheme ${url.protocol} (expected http:, https:, ws: or wss:)`,
      );
    }
    if (!url.hostname) throw new InvalidUrlClientError(url.href, "the URL has no host");
    const key = this.createKey(url, tunnel ? { ...options, tunnel: true } : options);
    if (simple && text !== undefined) {
      if (this.#keys.size >= 1024) this.#keys.clear();
      this.#keys.set(text, key);
    }
    return key;
  }

  #clientConnect(conn: Connection, callback: (err: Error | null, socket: Socket | null) => void): void {
    const socket = conn.socket;
    if (socket && conn.alive && !this.#handedToClient.has(socket)) {
      this.#handedToClient.add(socket);
      callback(null, socket);
      return;
    }
    this.#open(conn).then(
      (opened) => {
        this.#handedToClient.add(opened);
        callback(null, opened);
      },
      (err: unknown) => callback(err as Error, null),
    );
  }

  /** ALPN protocols to offer for `key`: h2 first when HTTP/2 is allowed. */
  protected alpnFor(key: PoolKey): string[] {
    return this.#allowH2 && key.protocol === "https:" && !key.tunnel ? ["h2", "http/1.1"] : ["http/1.1"];
  }

  /** Opens a new socket for `conn`, with the trace events and timeouts of its current request. */
  async #open(conn: Connection): Promise<Socket> {
    const context = conn.openContext;
    // While a connection that may turn out HTTP/2 is opened, other requests for its key wait
    // for it instead of opening connections of their own.
    const coalesce =
      this.#allowH2 && this.alpnFor(conn.key).includes("h2") && !this.#opening.has(conn.key.id);
    if (coalesce) this.#opening.set(conn.key.id, []);
    const trace = context?.trace;
    const controller = new AbortController();
    conn.connecting = controller;
    trace?.onConnectionCreateStart?.();
    publish("connectionCreateStart", () => ({ connector: this, origin: conn.key.origin }));
    try {
      if (this.#closing) throw new ConnectorClosedError();
      const timeout = context?.sockConnect === undefined ? this.#connectTimeout : context.sockConnect;
      const socket = await this.openSocket(conn.key, { signal: controller.signal, timeout, trace });
      if (controller.signal.aborted || conn.state === "closed") {
        socket.destroy();
        throw controller.signal.reason ?? new ConnectorClosedError();
      }
      socket.on("error", noop);
      conn.setSocket(socket);
      if (conn.h2) {
        let set = this.#shared.get(conn.key.id);
        if (!set) this.#shared.set(conn.key.id, (set = new Set()));
        set.add(conn);
        queueMicrotask(() => this.#attachWaiters(conn));
      }
      if (coalesce) queueMicrotask(() => this.#settleOpening(conn));
      socket.once("close", () => this.#socketClosed(conn, socket));
      trace?.onConnectionCreateEnd?.();
      publish("connectionCreateEnd", () => ({ connector: this, origin: conn.key.origin, connection: conn }));
      if (this.listenerCount("connect") > 0) this.emit("connect", new URL(conn.key.origin), [this]);
      return socket;
    } catch (err) {
      if (coalesce) queueMicrotask(() => this.#settleOpening(conn));
      const reported = controller.signal.aborted ? (controller.signal.reason as Error) : err;
      if (this.listenerCount("connectionError") > 0) {
        this.emit("connectionError", new URL(conn.key.origin), [this], reported as never);
      }
      throw reported;
    } finally {
      if (conn.connecting === controller) conn.connecting = undefined;
    }
  }

  #socketClosed(conn: Connection, socket: Socket): void {
    if (conn.socket !== socket) return;
    if (this.listenerCount("disconnect") > 0) {
      this.emit(
        "disconnect",
        new URL(conn.key.origin),
        [this],
        new ConnectorClosedError("socket closed") as never,
      );
    }
    if (conn.upgraded && conn.state === "acquired") conn.close();
    else this.pool.dropIdle(conn);
  }

  #onIdle(conn: Connection): void {
    // undici's Client closes its own idle socket after keepaliveTimeout; a raw socket given back
    // through connect().release() needs a timer of its own.
    if (conn.client) return;
    const timer = setTimeout(() => this.pool.dropIdle(conn), this.#keepaliveTimeout);
    timer.unref();
    conn.setIdleTimer(timer);
    conn.socket?.unref();
  }

  #destroyConnection(conn: Connection): Promise<void> {
    const socket = conn.socket;
    const tls = socket !== undefined && (socket as { encrypted?: boolean }).encrypted === true;
    if (
      this.#cleanupClosed &&
      tls &&
      socket &&
      !socket.destroyed &&
      conn.client === undefined &&
      !this.#closing
    ) {
      // Graceful TLS close with a bound: close_notify now, abort if the peer lingers.
      socket.end();
      const timer = setTimeout(() => socket.destroy(), 2000);
      timer.unref();
      socket.once("close", () => clearTimeout(timer));
      conn.setState("closed");
      return Promise.resolve();
    }
    return conn.destroy(this.#closing ? new ConnectorClosedError() : undefined);
  }

  #shutdown(): Promise<void> {
    this.#closing ??= (async () => {
      await this.pool.close(new ConnectorClosedError());
      await this.closeResources();
    })();
    return this.#closing;
  }

  /** Releases what a subclass owns (a resolver) after every connection is closed. */
  protected async closeResources(): Promise<void> {}
}

function noop(): void {}
