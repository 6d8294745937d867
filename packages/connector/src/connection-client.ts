import type { Socket } from "node:net";
import { Client } from "undici";
import type { ConnectionOpener } from "./connection-opener.js";
import type { ConnectorSettings } from "./connector-options.js";
import { ExpectContinueSocket } from "./expect-continue.js";
import { MAX_STREAMS } from "./h2-sharing.js";
import { forHandlers } from "./handler-errors.js";
import type { PooledConnection } from "./pooled-connection.js";

/** The connector as an event emitter, for the events its clients report. */
interface Emitter {
  emit(event: string, ...args: unknown[]): boolean;
}

/**
 * Makes the undici `Client` that speaks HTTP on one connection: its `connect` hook hands over
 * the socket the connection already opened (and opens a fresh one, without a request's trace
 * hooks, if the client ever needs to reconnect). One request at a time over HTTP/1.1 — the pool
 * decides who goes next — and up to {@link MAX_STREAMS} streams over HTTP/2.
 */
export class ConnectionClients {
  readonly #settings: ConnectorSettings;
  readonly #opener: ConnectionOpener;
  readonly #emitter: Emitter;
  /** Sockets an HTTP client took; those report their own `disconnect`. */
  readonly #handed = new WeakSet<Socket>();

  constructor(settings: ConnectorSettings, opener: ConnectionOpener, emitter: Emitter) {
    this.#settings = settings;
    this.#opener = opener;
    this.#emitter = emitter;
  }

  /** True when an HTTP client took `socket` (it reports the socket's `disconnect` itself). */
  handedToClient(socket: Socket): boolean {
    return this.#handed.has(socket);
  }

  /**
   * The client bound to `conn`, created on first use. With `expectContinue`, a new connection
   * gets a client that speaks through an {@link ExpectContinueSocket} (for one request: the
   * connection closes after it).
   */
  clientFor(conn: PooledConnection, expectContinue?: boolean): Client {
    const existing = conn.client;
    if (existing && !existing.destroyed) return existing;
    const settings = this.#settings;
    const keepAlive = settings.keepaliveTimeout > 0 ? settings.keepaliveTimeout : 1;
    const h2 = conn.h2;
    const client = new Client(conn.key.origin, {
      connect: (_opts, callback) =>
        this.#connect(conn, expectContinue, callback as (err: Error | null, socket: Socket | null) => void),
      pipelining: h2 ? MAX_STREAMS : 1,
      ...(h2 ? { allowH2: true, maxConcurrentStreams: MAX_STREAMS } : {}),
      keepAliveTimeout: keepAlive,
      keepAliveMaxTimeout: keepAlive,
      maxHeaderSize: settings.maxHeaderSize, // undefined: undici's default
    });
    const emitter = this.#emitter;
    client.on("disconnect", (origin: URL, targets: readonly unknown[], err: Error) => {
      emitter.emit("disconnect", origin, [emitter, ...targets], err);
    });
    conn.setClient(client);
    return client;
  }

  #connect(
    conn: PooledConnection,
    expectContinue: boolean | undefined,
    callback: (err: Error | null, socket: Socket | null) => void,
  ): void {
    const socket = conn.socket;
    if (socket && conn.alive && !this.#handed.has(socket)) {
      this.#handed.add(socket);
      const given = expectContinue ? (new ExpectContinueSocket(socket) as unknown as Socket) : socket;
      // Never synchronously: undici's Client resumes its queue from the callback and must not
      // re-enter the resume it is calling us from.
      queueMicrotask(() => callback(null, given));
      return;
    }
    this.#opener
      .open(conn, {
        controller: new AbortController(),
        sockConnect: undefined,
        trace: undefined,
        http1Only: !conn.h2,
      })
      .then(
        (opened) => {
          this.#handed.add(opened);
          callback(null, opened);
        },
        (err: unknown) => callback(forHandlers(err) as Error, null),
      );
  }
}
