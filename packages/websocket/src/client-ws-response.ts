import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import {
  ClientConnectionError,
  ClientConnectionResetError,
  ClientPayloadError,
  ClientStateError,
  InvalidArgumentError,
  ServerTimeoutError,
  SocketTimeoutError,
  WSMessageTypeError,
} from "@x/errors";
import type { WebSocket } from "ws";
import { CLOSED_MESSAGE, CLOSING_MESSAGE, message, typeName, type WSMessage, WSMsgType } from "./messages.js";

/** Bytes of bookkeeping a queued message is counted as, on top of its payload. */
const MESSAGE_OVERHEAD = 256;

/** @internal How a response is set up by `wsConnect`. */
export interface WSResponseInit {
  readonly ws: WebSocket;
  readonly socket: Socket;
  readonly protocol: string | null;
  readonly compress: number;
  readonly headers: Headers;
  readonly autoclose: boolean;
  readonly autoping: boolean;
  readonly heartbeat: number | null;
  readonly receiveTimeout: number | null;
  readonly closeTimeout: number;
  /** Bytes of received messages held before the socket stops being read. */
  readonly maxQueueBytes: number;
  /** Called once the connection is closed, to give its pool slot back. */
  readonly onClosed: () => void;
}

/** Options of {@link ClientWebSocketResponse.close}. */
export interface WSCloseOptions {
  /** Default 1000. */
  code?: number;
  /** The reason; at most 123 bytes. */
  message?: string | Uint8Array;
}

/** The close code ws sends for each of its errors (it reports 1006 itself, having stopped reading). */
function closeCodeOf(err: Error): number {
  const code = (err as { code?: unknown }).code;
  if (code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") return 1009;
  if (code === "WS_ERR_INVALID_UTF8") return 1007;
  if (code === "WS_ERR_TOO_MANY_BUFFERED_PARTS") return 1008;
  if (typeof code === "string" && code.startsWith("WS_ERR_")) return 1002;
  return 1006;
}

/** An error of ws's parser: the server broke the protocol (as opposed to the socket failing). */
function isProtocolError(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("WS_ERR_");
}

function wsError(err: Error): Error {
  const code = (err as { code?: unknown }).code;
  if (code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
    return new ClientPayloadError(`Message size exceeds the limit (maxMsgSize): ${err.message}`, {
      cause: err,
    });
  }
  if (typeof code === "string" && code.startsWith("WS_ERR_")) {
    return new ClientPayloadError(`WebSocket protocol error: ${err.message}`, { cause: err });
  }
  return new ClientConnectionError(err.message, { cause: err });
}

/**
 * A client websocket (aiohttp's `ClientWebSocketResponse`), from `wsConnect()` or
 * `session.wsConnect()`. Read with `receive()` (or `for await`), write with `sendStr`,
 * `sendBytes`, `sendJson`, and close with `close()` — `await using` does.
 *
 * @example
 * await using ws = await wsConnect("ws://127.0.0.1:8080/chat");
 * await ws.sendStr("hello");
 * for await (const msg of ws) if (msg.type === WSMsgType.TEXT) console.log(msg.data);
 */
export class ClientWebSocketResponse implements AsyncDisposable, AsyncIterable<WSMessage> {
  readonly #ws: WebSocket;
  readonly #socket: Socket;
  readonly #init: WSResponseInit;
  readonly #queue: WSMessage[] = [];
  /** What each queued message counts against maxQueueBytes: its payload plus a fixed overhead. */
  readonly #sizes: number[] = [];
  #queueBytes = 0;
  #paused = false;
  #waiter: ((msg: WSMessage | undefined) => void) | undefined;
  #closed = false;
  #closing = false;
  #closeCode: number | null = null;
  #exception: Error | null = null;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #pongTimer: NodeJS.Timeout | undefined;
  #closedWaiters: Array<() => void> = [];
  #abnormal = false;
  /** ws's own close(), for the closes this class decides. */
  readonly #closeNow: (code?: number, data?: string | Buffer) => void;
  /** A protocol error arrived: ws's close waits until `receive()` reaches the ERROR (aiohttp's order). */
  #protocolError: WSMessage | undefined;
  #heldClose: [number | undefined, (string | Buffer)?] | undefined;

  /** @internal Made by `wsConnect`. */
  constructor(init: WSResponseInit) {
    this.#init = init;
    this.#ws = init.ws;
    this.#socket = init.socket;
    const ws = init.ws;
    const closeNow = ws.close.bind(ws);
    this.#closeNow = closeNow;
    // ws closes by itself when it answers the server's CLOSE and when a frame breaks the
    // protocol. The first goes ahead; the second waits until the application has read the
    // messages that came before the broken frame, and the ERROR, and could still answer them —
    // aiohttp fails the connection when receive() reaches the error, not before.
    ws.close = ((code?: number, data?: string | Buffer) => {
      queueMicrotask(() => {
        if (this.#protocolError && !this.#closed) this.#heldClose = [code, data];
        else closeNow(code, data);
      });
    }) as typeof ws.close;
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      this.#push(
        isBinary ? message(WSMsgType.BINARY, data) : message(WSMsgType.TEXT, data.toString("utf8")),
        data.length,
      );
    });
    ws.on("ping", (data: Buffer) => {
      if (!init.autoping) {
        this.#push(message(WSMsgType.PING, data), data.length);
      } else if (ws.readyState !== ws.OPEN && !this.#closing && this.#exception === null) {
        // ws drops the connection when more than 60 automatic pongs wait to be written: the
        // peer pings faster than it reads. Say so rather than report a bare 1006.
        const err = new ClientPayloadError(
          "the server sent pings faster than it read the pongs (more than 60 pending); connection dropped",
        );
        this.#exception = err;
        this.#closeCode ??= 1006;
        this.#push(message(WSMsgType.ERROR, err), 0);
      }
    });
    ws.on("pong", (data: Buffer) => {
      if (this.#pongTimer) {
        clearTimeout(this.#pongTimer);
        this.#pongTimer = undefined;
      }
      if (!init.autoping) this.#push(message(WSMsgType.PONG, data), data.length);
    });
    ws.on("error", (err: Error) => {
      const mapped = wsError(err);
      this.#exception = mapped;
      this.#closeCode ??= closeCodeOf(err);
      const msg = message(WSMsgType.ERROR, mapped);
      if (isProtocolError(err)) this.#protocolError = msg;
      this.#push(msg, 0);
    });
    ws.on("close", (code: number, reason: Buffer) => this.#onClose(code, reason));
    if (init.heartbeat !== null && init.heartbeat > 0) {
      const beat = init.heartbeat;
      this.#heartbeatTimer = setTimeout(() => this.#sendHeartbeat(beat), beat);
      // Any data from the server proves it alive (aiohttp 3.14), not only pongs.
      this.#socket.on("data", this.#touch);
    }
  }

  // ── state ───────────────────────────────────────────────────────────

  /** True once the connection is closed, or `close()` was called. */
  get closed(): boolean {
    return this.#closed || this.#closing;
  }

  /** The close code, once there is one. */
  get closeCode(): number | null {
    return this.#closeCode;
  }

  /** The subprotocol the server chose, or `null`. */
  get protocol(): string | null {
    return this.#init.protocol;
  }

  /** The negotiated permessage-deflate window bits, or 0 when messages are not compressed. */
  get compress(): number {
    return this.#init.compress;
  }

  /** The handshake response's headers. */
  get headers(): Headers {
    return this.#init.headers;
  }

  /** The error the connection failed with, or `null`. */
  exception(): Error | null {
    return this.#exception;
  }

  /**
   * Information about the connection (aiohttp's `get_extra_info`): `"peername"` and `"sockname"`
   * (`[address, port]`), `"socket"`, and for TLS `"peercert"` and `"cipher"`; `fallback` otherwise.
   */
  getExtraInfo(name: string, fallback: unknown = null): unknown {
    // As aiohttp's transport, gone once the connection is closed.
    if (this.#closed) return fallback;
    const s = this.#socket;
    switch (name) {
      case "peername":
        return s.remoteAddress === undefined ? fallback : [s.remoteAddress, s.remotePort];
      case "sockname":
        return s.localAddress === undefined ? fallback : [s.localAddress, s.localPort];
      case "socket":
        return s;
      case "peercert":
        return typeof (s as TLSSocket).getPeerCertificate === "function"
          ? (s as TLSSocket).getPeerCertificate()
          : fallback;
      case "cipher":
        return typeof (s as TLSSocket).getCipher === "function" ? (s as TLSSocket).getCipher() : fallback;
      default:
        return fallback;
    }
  }

  // ── sending ─────────────────────────────────────────────────────────

  /** Sends a PING frame. */
  async ping(data: string | Uint8Array = Buffer.alloc(0)): Promise<void> {
    this.#checkOpen();
    return new Promise((resolve, reject) =>
      this.#ws.ping(data, true, (err) => (err ? reject(this.#sendError(err)) : resolve())),
    );
  }

  /** Sends a PONG frame. */
  async pong(data: string | Uint8Array = Buffer.alloc(0)): Promise<void> {
    this.#checkOpen();
    return new Promise((resolve, reject) =>
      this.#ws.pong(data, true, (err) => (err ? reject(this.#sendError(err)) : resolve())),
    );
  }

  /**
   * Sends a TEXT message.
   * @throws {InvalidArgumentError} when `data` is not a string.
   * @throws {ClientConnectionResetError} once the websocket is closing or closed.
   */
  async sendStr(data: string, compress?: boolean): Promise<void> {
    if (typeof data !== "string")
      throw new InvalidArgumentError(`data argument must be a string, got ${typeof data}`);
    return this.#send(data, false, compress);
  }

  /**
   * Sends a BINARY message.
   * @throws {InvalidArgumentError} when `data` is not bytes.
   */
  async sendBytes(data: Uint8Array | ArrayBuffer, compress?: boolean): Promise<void> {
    if (!(data instanceof Uint8Array) && !(data instanceof ArrayBuffer)) {
      throw new InvalidArgumentError(`data argument must be bytes, got ${typeof data}`);
    }
    return this.#send(data, true, compress);
  }

  /** Sends `data` as JSON in a TEXT message. */
  async sendJson(
    data: unknown,
    options: { dumps?: (value: unknown) => string; compress?: boolean } = {},
  ): Promise<void> {
    const text = (options.dumps ?? JSON.stringify)(data);
    if (typeof text !== "string") throw new InvalidArgumentError("dumps must return a string");
    return this.sendStr(text, options.compress);
  }

  /** Sends one frame of the given type: TEXT, BINARY, PING, PONG or CLOSE (code in the first two bytes). */
  async sendFrame(data: string | Uint8Array, opcode: WSMsgType, compress?: boolean): Promise<void> {
    switch (opcode) {
      case WSMsgType.TEXT:
        return this.#send(
          typeof data === "string" ? data : Buffer.from(data).toString("utf8"),
          false,
          compress,
        );
      case WSMsgType.BINARY:
        return this.#send(typeof data === "string" ? Buffer.from(data) : data, true, compress);
      case WSMsgType.PING:
        return this.ping(data);
      case WSMsgType.PONG:
        return this.pong(data);
      case WSMsgType.CLOSE: {
        const bytes = typeof data === "string" ? Buffer.from(data) : Buffer.from(data);
        const code = bytes.length >= 2 ? bytes.readUInt16BE(0) : 1000;
        await this.close({ code, message: bytes.subarray(2) });
        return;
      }
      default:
        throw new InvalidArgumentError(`cannot send a frame of type ${typeName(opcode)}`);
    }
  }

  /**
   * Starts the closing handshake and waits for the server's CLOSE, at most the `wsClose`
   * timeout; then the connection is dropped. Resolves `false` if it was already closed.
   */
  async close(options: WSCloseOptions = {}): Promise<boolean> {
    if (this.#closed || this.#closing) {
      if (!this.#closed) await this.#waitClosed();
      return false;
    }
    const code = options.code ?? 1000;
    const reason = options.message ?? "";
    try {
      this.#closeNow(code, typeof reason === "string" ? reason : Buffer.from(reason));
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message, { cause: err });
    }
    this.#closing = true;
    // A receive() waiting now gets CLOSING, as in aiohttp.
    const waiter = this.#waiter;
    if (waiter) waiter(CLOSING_MESSAGE);
    const limit = this.#init.closeTimeout;
    const timer = setTimeout(() => {
      // The server never answered our CLOSE: aiohttp records the timeout and drops the connection.
      this.#exception ??= new ServerTimeoutError(
        `The server did not answer the CLOSE within ${limit} ms (wsClose)`,
      );
      this.#closeCode = 1006;
      this.#ws.terminate();
    }, limit);
    await this.#waitClosed();
    clearTimeout(timer);
    return true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ── receiving ───────────────────────────────────────────────────────

  /**
   * The next message. PING and PONG are answered and hidden with `autoping`; a server CLOSE
   * arrives as a CLOSE message, then every call gives CLOSED.
   * @throws {ClientStateError} when another `receive()` is already waiting.
   * @throws {SocketTimeoutError} when nothing arrives within `timeout` (default: `wsReceive`).
   */
  async receive(timeout?: number | null): Promise<WSMessage> {
    if (this.#waiter) throw new ClientStateError("Concurrent call to receive() is not allowed");
    const queued = this.#shift();
    if (queued) return this.#delivered(queued);
    if (this.#closed) return CLOSED_MESSAGE;
    const limit = timeout === undefined ? this.#init.receiveTimeout : timeout;
    return new Promise<WSMessage>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      if (limit !== null && limit > 0) {
        timer = setTimeout(() => {
          this.#waiter = undefined;
          reject(new SocketTimeoutError(`No websocket message received within ${limit} ms`));
        }, limit);
      }
      this.#waiter = (msg) => {
        if (timer) clearTimeout(timer);
        this.#waiter = undefined;
        resolve(this.#delivered(msg ?? this.#shift() ?? CLOSED_MESSAGE));
      };
    });
  }

  /**
   * The next message's text.
   * @throws {WSMessageTypeError} when it is not a TEXT message.
   */
  async receiveStr(timeout?: number | null): Promise<string> {
    const msg = await this.receive(timeout);
    if (msg.type !== WSMsgType.TEXT) {
      throw new WSMessageTypeError(
        `Received message ${typeName(msg.type)}:${String(msg.data)} is not WSMsgType.TEXT`,
      );
    }
    return msg.data;
  }

  /**
   * The next message's bytes.
   * @throws {WSMessageTypeError} when it is not a BINARY message.
   */
  async receiveBytes(timeout?: number | null): Promise<Buffer> {
    const msg = await this.receive(timeout);
    if (msg.type !== WSMsgType.BINARY) {
      throw new WSMessageTypeError(
        `Received message ${typeName(msg.type)}:${String(msg.data)} is not WSMsgType.BINARY`,
      );
    }
    return msg.data;
  }

  /**
   * The next TEXT message parsed as JSON.
   * @throws {WSMessageTypeError} when it is not a TEXT message.
   */
  async receiveJson<T = unknown>(
    options: { loads?: (text: string) => unknown; timeout?: number | null } = {},
  ): Promise<T> {
    const text = await this.receiveStr(options.timeout);
    return (options.loads ?? JSON.parse)(text) as T;
  }

  /** Iterates over messages until the connection closes (CLOSE, CLOSING and CLOSED end it). */
  async *[Symbol.asyncIterator](): AsyncIterator<WSMessage> {
    for (;;) {
      const msg = await this.receive();
      if (msg.type === WSMsgType.CLOSE || msg.type === WSMsgType.CLOSING || msg.type === WSMsgType.CLOSED)
        return;
      yield msg;
    }
  }

  // ── internals ───────────────────────────────────────────────────────

  /** A message is handed to the application; reaching a protocol error fails the connection now. */
  #delivered(msg: WSMessage): WSMessage {
    if (msg === this.#protocolError) {
      this.#protocolError = undefined;
      const held = this.#heldClose;
      this.#heldClose = undefined;
      if (held && !this.#closed) this.#closeNow(held[0], held[1]);
    }
    return msg;
  }

  readonly #touch = (): void => {
    this.#heartbeatTimer?.refresh();
  };

  #sendHeartbeat(beat: number): void {
    if (this.closed) return;
    this.#heartbeatTimer = setTimeout(() => this.#sendHeartbeat(beat), beat);
    if (this.#pongTimer) return;
    this.#ws.ping();
    this.#pongTimer = setTimeout(() => {
      this.#pongTimer = undefined;
      if (this.#closed) return;
      // No PONG within half the heartbeat: the peer is gone (aiohttp closes with 1006).
      this.#abnormal = true;
      this.#exception = new ServerTimeoutError(`No PONG received after ${beat / 2} ms`);
      this.#closeCode = 1006;
      this.#push(message(WSMsgType.ERROR, this.#exception), 0);
      this.#ws.terminate();
    }, beat / 2);
  }

  #push(msg: WSMessage, size: number): void {
    const waiter = this.#waiter;
    if (waiter && this.#queue.length === 0) {
      waiter(msg);
      return;
    }
    // Even an empty PING costs memory to queue; counting a fixed overhead per message keeps a
    // flood of empty frames from growing the queue without ever pausing the socket.
    const cost = size + MESSAGE_OVERHEAD;
    this.#queue.push(msg);
    this.#sizes.push(cost);
    this.#queueBytes += cost;
    if (!this.#paused && this.#queueBytes > this.#init.maxQueueBytes && !this.#closed) {
      this.#paused = true;
      this.#ws.pause();
    }
    waiter?.(undefined);
  }

  #shift(): WSMessage | undefined {
    const msg = this.#queue.shift();
    if (!msg) return undefined;
    this.#queueBytes -= this.#sizes.shift()!;
    if (this.#paused && this.#queueBytes <= this.#init.maxQueueBytes / 2) {
      this.#paused = false;
      this.#ws.resume();
    }
    return msg;
  }

  #onClose(code: number, reason: Buffer): void {
    if (this.#heartbeatTimer) clearTimeout(this.#heartbeatTimer);
    if (this.#pongTimer) clearTimeout(this.#pongTimer);
    this.#socket.off("data", this.#touch);
    // 1006 is what ws reports when no CLOSE frame came (the peer vanished): no CLOSE message then,
    // only CLOSED, as in aiohttp.
    const serverInitiated = !this.#closing && !this.#abnormal && code !== 1006;
    this.#closed = true;
    if (this.#closeCode === null) this.#closeCode = code;
    if (serverInitiated) this.#push(message(WSMsgType.CLOSE, code, reason.toString("utf8")), 0);
    this.#init.onClosed();
    const waiters = this.#closedWaiters;
    this.#closedWaiters = [];
    for (const w of waiters) w();
    this.#waiter?.(undefined);
  }

  #waitClosed(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#closedWaiters.push(resolve));
  }

  #checkOpen(): void {
    if (this.#closed || this.#closing)
      throw new ClientConnectionResetError("Cannot write to closing transport");
  }

  #send(
    data: string | Uint8Array | ArrayBuffer,
    binary: boolean,
    compress: boolean | undefined,
  ): Promise<void> {
    this.#checkOpen();
    return new Promise((resolve, reject) => {
      this.#ws.send(data, { binary, compress: compress ?? true, fin: true }, (err) =>
        err ? reject(this.#sendError(err)) : resolve(),
      );
    });
  }

  #sendError(err: Error): Error {
    return new ClientConnectionResetError(err.message, { cause: err });
  }
}
