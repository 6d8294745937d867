import type { Socket } from "node:net";
import { ConnectorClosedError } from "@x/errors";
import { forHandlers } from "./handler-errors.js";
import type { PoolKey } from "./pool-key.js";
import type { PooledConnection } from "./pooled-connection.js";
import { type ConnectorTrace, publish } from "./trace.js";

/** What one connection attempt may use (the argument of a connector's `openSocket`). */
export interface ConnectAttempt {
  /** Aborted when the request is cancelled or the connector closes; reject with `signal.reason`. */
  readonly signal: AbortSignal;
  /** Per-attempt timeout, ms; `null` = none. */
  readonly timeout: number | null;
  /** The request's trace hooks, for DNS events. */
  readonly trace: ConnectorTrace | undefined;
  /** ALPN protocols to offer on TLS: `["h2", "http/1.1"]` when HTTP/2 may be used, else `["http/1.1"]`. */
  readonly alpn: readonly string[];
}

/** How one connection's socket is to be opened. */
export interface OpenRequest {
  /** Aborting it stops the opening; the promise rejects with its reason. */
  readonly controller: AbortController;
  /** Per-attempt timeout, ms; `null` = none, `undefined` = the connector's `connectTimeout`. */
  readonly sockConnect: number | null | undefined;
  readonly trace: ConnectorTrace | undefined;
  /** Offer HTTP/1.1 only (raw sockets, upgrades), even when the connector allows HTTP/2. */
  readonly http1Only: boolean;
}

/** What the opener needs from its connector. */
export interface OpenerHost {
  /** The connector itself, for events and channel messages. */
  readonly dispatcher: { emit(event: string, ...args: unknown[]): boolean };
  /** True once the connector was destroyed: nothing new is opened. */
  readonly destroyed: boolean;
  /** The subclass's socket factory (`BaseConnector.openSocket`). */
  openSocket(key: PoolKey, attempt: ConnectAttempt): Promise<Socket>;
  /** A connection's socket closed. */
  socketClosed(conn: PooledConnection, socket: Socket): void;
}

const H2_ALPN: readonly string[] = Object.freeze(["h2", "http/1.1"]);
const H1_ALPN: readonly string[] = Object.freeze(["http/1.1"]);

/**
 * Opens the socket of a connection: DNS, TCP, TLS and proxy tunnels are the subclass's
 * `openSocket`; around it, the opener applies the attempt timeout, reports aiohttp's trace
 * signals and the `diagnostics_channel` messages, and emits undici's `connect` and
 * `connectionError` events.
 */
export class ConnectionOpener {
  readonly #host: OpenerHost;
  readonly #connectTimeout: number | null;
  readonly #allowH2: boolean;

  constructor(host: OpenerHost, settings: { connectTimeout: number | null; allowH2: boolean }) {
    this.#host = host;
    this.#connectTimeout = settings.connectTimeout;
    this.#allowH2 = settings.allowH2;
  }

  /** The connector, as channel messages name it. */
  get dispatcher(): object {
    return this.#host.dispatcher;
  }

  /** True when a connection of `key` may turn out to speak HTTP/2. */
  mayBeH2(key: PoolKey): boolean {
    return this.#allowH2 && key.protocol === "https:" && !key.tunnel;
  }

  /** Opens a socket for `conn` and gives it to the connection. */
  async open(conn: PooledConnection, request: OpenRequest): Promise<Socket> {
    const { controller, trace } = request;
    const dispatcher = this.#host.dispatcher;
    conn.setOpening(controller);
    trace?.onConnectionCreateStart?.();
    publish("connectionCreateStart", () => ({ connector: dispatcher, origin: conn.key.origin }));
    try {
      if (this.#host.destroyed) throw new ConnectorClosedError();
      const timeout = request.sockConnect === undefined ? this.#connectTimeout : request.sockConnect;
      const alpn = !request.http1Only && this.mayBeH2(conn.key) ? H2_ALPN : H1_ALPN;
      const socket = await this.#host.openSocket(conn.key, {
        signal: controller.signal,
        timeout,
        trace,
        alpn,
      });
      if (controller.signal.aborted || conn.state === "closed") {
        socket.destroy();
        // Aborted, the catch below throws the signal's reason instead.
        throw new ConnectorClosedError();
      }
      socket.on("error", noop);
      conn.setSocket(socket);
      socket.once("close", () => this.#host.socketClosed(conn, socket));
      trace?.onConnectionCreateEnd?.();
      publish("connectionCreateEnd", () => ({
        connector: dispatcher,
        origin: conn.key.origin,
        connection: conn,
      }));
      dispatcher.emit("connect", new URL(conn.key.origin), [dispatcher]);
      return socket;
    } catch (err) {
      if (controller.signal.aborted) throw controller.signal.reason;
      dispatcher.emit("connectionError", new URL(conn.key.origin), [dispatcher], forHandlers(err));
      throw err;
    } finally {
      conn.setOpening(undefined);
    }
  }
}

function noop(): void {}
