import type { Duplex, Transform } from "node:stream";
import { type ConnectionInfo, dispatchError, isToken, type PooledConnection } from "@x/connector";
import { ClientPayloadError, ClientResponseError, type RequestInfo, SocketTimeoutError } from "@x/errors";
import type { Dispatcher } from "undici";
import {
  type CharsetResolver,
  ClientResponse,
  type HttpVersion,
  type ResponseSource,
} from "./client-response.js";
import { type DecompressLimits, decodersFor } from "./decompress.js";
import { StreamReader } from "./stream-reader.js";

/** What the handler of one request needs to know about it. */
export interface HopContext {
  readonly method: string;
  readonly url: URL;
  readonly realUrl: URL;
  readonly requestInfo: RequestInfo;
  readonly autoDecompress: boolean;
  readonly decompress: DecompressLimits;
  readonly readBufsize: number;
  readonly maxLineSize: number;
  readonly maxFieldSize: number;
  /** Most header lines a response may have (aiohttp's `max_headers`). */
  readonly maxHeaders: number;
  readonly readUntilEof: boolean;
  readonly fallbackCharset: CharsetResolver;
  /** Longest silence while waiting for the response or its body, ms; `null` = none. */
  readonly sockRead: number | null;
  /**
   * The request body is a stream: the request counts as sent (and `sockRead` starts) only when
   * the body has gone out, not when the head has.
   */
  readonly streamedBody: boolean;
  /**
   * The dispatcher reports the connection (`onConnection`, an `@x/connector` connector) when the
   * request starts going out; others call `onRequestStart` then.
   */
  readonly reportsConnection: boolean;
  readonly observer: HopObserver | undefined;
}

/** Hears what happens on the wire for tracing and progress; absent when nobody listens. */
export interface HopObserver {
  headersSent(): void;
  chunkSent(chunk: Buffer): void;
  chunkReceived(chunk: Buffer): void;
  responseStarted(contentLength: number | null): void;
}

type Controller = Dispatcher.DispatchController;
type ResponseHeaders = Parameters<NonNullable<Dispatcher.DispatchHandler["onResponseStart"]>>[2];

const HTTP11: HttpVersion = Object.freeze({ major: 1, minor: 1 });
const HTTP2: HttpVersion = Object.freeze({ major: 2, minor: 0 });
const NO_BODY_STATUS = new Set([204, 304]);

const settledAlready = () => {};

/** Closes the connection of a response whose body was dropped unread (see `#readerRef`). */
const abandonment = new FinalizationRegistry<ResponseHandler>((handler) => handler.abandon());

/** What no header value may hold: CR, LF, NUL, and characters past one byte (WHATWG `Headers` refuses them). */
const BAD_VALUE = /[\r\n\0]|[^\0-\xff]/;

/** Header pairs as undici reports them: raw `[name, value, …]` when it can, else the parsed record. */
function headerPairs(raw: unknown, parsed: ResponseHeaders): Array<[Buffer | string, string]> {
  const pairs: Array<[Buffer | string, string]> = [];
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const value = raw[i + 1] as Buffer | string;
      pairs.push([raw[i] as Buffer | string, typeof value === "string" ? value : value.toString("latin1")]);
    }
    return pairs;
  }
  for (const [name, value] of Object.entries(parsed ?? {})) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) pairs.push([name, String(v)]);
  }
  return pairs;
}

/**
 * undici's view of one request sent by a session, in undici's controller-based handler API (the
 * one undici 7 and 8 share, so any dispatcher of either can carry it): it turns the response head
 * into a `ClientResponse`, feeds the body (decoded when asked) into its `StreamReader` with
 * back-pressure (`controller.pause()`/`resume()`), and reports failures as `@x/errors`.
 */
export class ResponseHandler implements ResponseSource {
  readonly #ctx: HopContext;
  // Dropped once called: a settled promise holds its value, and the handler must not keep the
  // response reachable through it.
  #resolve: (response: ClientResponse) => void;
  #reject: (err: unknown) => void;
  #controller: Controller | undefined;
  #abortReason: Error | undefined;
  /**
   * The body's reader. Held strongly while the body flows; once it backs up (the caller is not
   * reading, so the connection is held) only weakly, through `#readerRef`: the response and the
   * caller hold it. While a read waits for data it is pinned, so a pending read always
   * completes; a response dropped unread is collected, and `abandon` closes its connection
   * (aiohttp's `__del__`). Bodies that arrive whole never pay for the weak reference.
   */
  #heldReader: StreamReader | undefined;
  #readerRef: WeakRef<StreamReader> | undefined;
  #pinned: StreamReader | undefined;
  /** The response promise is settled (rejected, or its head handed out): later errors go to the body. */
  #settled = false;
  #complete = false;
  #finished = false;
  #finishedResolve: (() => void) | undefined;
  #finishedPromise: Promise<void> | undefined;
  #headersReceived = false;
  #noBody = false;
  #decoders: Transform[] | undefined;
  #wroteToDecoder = false;
  #readTimer: NodeJS.Timeout | undefined;
  #readerPaused = false;
  #sentHeaders = false;
  /** Body bytes received (as on the wire), for the chunk-line guard. */
  #bodyRead = 0;
  #unguard: (() => void) | undefined;
  /** The connection the request went out on, when the dispatcher tells. */
  connection: PooledConnection | null = null;
  /** The connection had carried a request before. */
  reused = false;

  constructor(ctx: HopContext, resolve: (response: ClientResponse) => void, reject: (err: unknown) => void) {
    this.#ctx = ctx;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /**
   * The request has been sent: `sockRead` starts now, as in aiohttp (a streamed upload that
   * pauses is not a silent server). undici's own read timeouts tick at half-second granularity;
   * this one is exact, and every piece of the response refreshes it.
   */
  #sent(): void {
    const read = this.#ctx.sockRead;
    if (read === null || this.#readTimer || this.#finished) return;
    this.#readTimer = setTimeout(() => {
      if (this.#readerPaused) {
        this.#readTimer?.refresh();
        return;
      }
      const url = this.#ctx.url;
      this.abort(
        new SocketTimeoutError(`Timeout on reading data from socket after ${read} ms`, {
          host: url.hostname,
          port: Number(url.port) || (url.protocol === "https:" ? 443 : 80),
        }),
      );
    }, read);
    // A request or read in progress keeps the process alive through its socket; the timer
    // alone must not (an unread body may wait forever).
    this.#readTimer.unref();
  }

  #touch(): void {
    this.#readTimer?.refresh();
  }

  /** For `connectorOptions.onConnection`: an @x connector says which connection carries the request. */
  readonly onConnection = (info: ConnectionInfo): void => {
    this.connection = info.connection;
    this.reused = info.reused;
    this.#headersSent();
  };

  /** The request head is going out now (an @x connector says so exactly; others at the response). */
  #headersSent(): void {
    if (this.#sentHeaders) return;
    this.#sentHeaders = true;
    this.#ctx.observer?.headersSent();
    if (!this.#ctx.streamedBody) this.#sent();
  }

  /** A piece of the request body went out (reported by the session's body wrapper). */
  bodySent(chunk: Buffer): void {
    this.#touch();
    this.#ctx.observer?.chunkSent(chunk);
  }

  /** The whole request body went out (reported by the session's body wrapper). */
  bodyEnded(): void {
    this.#sent();
  }

  /** True once response headers arrived. */
  get headersReceived(): boolean {
    return this.#headersReceived;
  }

  // ── ResponseSource ───────────────────────────────────────────────────

  get complete(): boolean {
    return this.#complete;
  }

  get closed(): boolean {
    return this.#finished;
  }

  get finished(): Promise<void> {
    if (this.#finished) return Promise.resolve();
    this.#finishedPromise ??= new Promise<void>((resolve) => {
      this.#finishedResolve = resolve;
    });
    return this.#finishedPromise;
  }

  abort(reason: Error): void {
    if (this.#complete || this.#abortReason) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
    if (!this.#settled) this.#rejectWith(reason);
    else {
      this.#reader?.setException(reason);
      for (const d of this.#decoders ?? []) d.destroy();
    }
    this.finish();
  }

  /** @internal The response's reader was garbage-collected: an unfinished body gives up its connection. */
  abandon(): void {
    this.#abandoned();
  }

  finish(): void {
    this.#finished = true;
    this.#unguard?.();
    abandonment.unregister(this);
    clearTimeout(this.#readTimer);
    this.#finishedResolve?.();
  }

  // ── undici handler (controller API) ──────────────────────────────────

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.#abortReason) {
      controller.abort(this.#abortReason);
      return;
    }
    // undici's own dispatchers start a request when it goes out; an @x connector says so
    // through onConnection (it calls onRequestStart while the request still waits in its pool).
    if (!this.#ctx.reportsConnection) this.#headersSent();
  }

  onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: ResponseHeaders,
    statusText?: string,
  ): void {
    this.#controller = controller;
    this.#touch();
    this.#headersSent();
    if (statusCode < 200) return;
    if (this.#abortReason) return;
    this.#headersReceived = true;
    const ctx = this.#ctx;
    const pairs: Array<[string, string]> = [];
    const rawNames: string[] = [];
    let contentEncoding: string | undefined;
    let hasLength = false;
    let contentLength: number | null = null;
    let chunked = false;
    const all = headerPairs(controller.rawHeaders, headers);
    if (all.length > ctx.maxHeaders) {
      this.#failHead(
        `Too many headers: ${all.length} lines, more than maxHeaders (${ctx.maxHeaders})`,
        statusCode,
      );
      return;
    }
    for (const [rawName, value] of all) {
      const spelled = typeof rawName === "string" ? rawName : rawName.toString("latin1");
      const name = spelled.toLowerCase();
      if (spelled.length + value.length + 2 > ctx.maxFieldSize) {
        this.#failHead(`Got more than ${ctx.maxFieldSize} bytes when reading header ${name}`, statusCode);
        return;
      }
      // undici's own parser never passes these on; a dispatcher of the user's (a mock) might.
      if (!isToken(spelled) || BAD_VALUE.test(value)) {
        this.#failHead(
          `Invalid response header ${JSON.stringify(spelled)}: ${JSON.stringify(value)}`,
          statusCode,
        );
        return;
      }
      pairs.push([name, value]);
      rawNames.push(spelled);
      if (name === "content-encoding")
        contentEncoding = contentEncoding ? `${contentEncoding}, ${value}` : value;
      else if (name === "content-length") {
        hasLength = true;
        contentLength = /^\d+$/.test(value) ? Number(value) : null;
      } else if (name === "transfer-encoding") chunked = /chunked/i.test(value);
    }
    const reason = statusText ?? "";
    if (reason.length + 13 > ctx.maxLineSize) {
      this.#failHead(`Got more than ${ctx.maxLineSize} bytes when reading the status line`, statusCode);
      return;
    }
    ctx.observer?.responseStarted(contentLength);
    const reader = new StreamReader(ctx.readBufsize, 2 * ctx.readBufsize);
    this.#heldReader = reader;
    const noBody = ctx.method === "HEAD" || NO_BODY_STATUS.has(statusCode);
    // A HEAD's or a 204's/304's Content-Length describes some other body: nothing is collected for it.
    if (contentLength !== null && !contentEncoding && !noBody) reader.expectLength(contentLength);
    reader.setWaitHook((waiting) => {
      this.#pinned = waiting;
    });
    reader.setResume(this.#resumeSocket);
    this.#noBody = noBody;
    if (!noBody && ctx.autoDecompress && contentEncoding) {
      try {
        this.#decoders = decodersFor(contentEncoding, ctx.decompress);
      } catch (err) {
        this.#abortReason = err as Error;
        controller.abort(err as Error);
        this.#rejectWith(err);
        this.finish();
        return;
      }
      if (this.#decoders) this.#wireDecoders(this.#decoders, contentEncoding);
    }
    const socket = this.connection?.transport as
      | (Duplex & { alpnProtocol?: string | false })
      | null
      | undefined;
    const response = new ClientResponse({
      method: ctx.method,
      url: ctx.url,
      realUrl: ctx.realUrl,
      status: statusCode,
      reason,
      headerPairs: pairs,
      rawNames,
      version: socket?.alpnProtocol === "h2" ? HTTP2 : HTTP11,
      content: reader,
      requestInfo: ctx.requestInfo,
      connection: this.connection,
      source: this,
      fallbackCharset: ctx.fallbackCharset,
    });
    this.#settled = true;
    if (chunked && !noBody && socket && socket.alpnProtocol !== "h2") this.#guardChunkLines(socket);
    if (!ctx.readUntilEof && !noBody && !hasLength && !chunked) {
      // aiohttp's read_until_eof=False: a body delimited only by the connection closing is not read.
      this.#complete = true;
      reader.feedEof();
      controller.abort(new ClientPayloadError("body not read: readUntilEof is false"));
      this.finish();
    }
    this.#fulfil(response);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#complete) return;
    this.#touch();
    this.#bodyRead += chunk.length;
    this.#ctx.observer?.chunkReceived(chunk);
    this.#reader?.countRaw(chunk.length);
    const decoders = this.#decoders;
    if (decoders) {
      this.#wroteToDecoder = true;
      const first = decoders[0]!;
      if (!first.write(chunk)) {
        this.#readerPaused = true;
        controller.pause();
        first.once("drain", this.#resumeSocket);
      }
      return;
    }
    const reader = this.#reader;
    if (!reader) {
      this.#abandoned();
      return;
    }
    if (!reader.feed(chunk)) {
      this.#readerPaused = true;
      controller.pause();
      this.#holdWeakly();
    }
  }

  onResponseEnd(): void {
    if (this.#complete) return;
    const decoders = this.#decoders;
    if (decoders && this.#wroteToDecoder) {
      decoders[0]!.end();
      return;
    }
    this.#markComplete();
  }

  onResponseError(_controller: Controller | null, err: Error): void {
    if (this.#complete && !this.#decoders) return;
    const mismatch = "UND_ERR_RES_CONTENT_LENGTH_MISMATCH";
    const code = (err as { code?: unknown }).code;
    if (
      this.#noBody &&
      (code === mismatch || (err.cause as { code?: unknown } | undefined)?.code === mismatch)
    ) {
      // undici holds a 204/304 to its Content-Length; RFC 9110 (and aiohttp) says they have no
      // body whatever it says. The body is empty; undici has closed the connection.
      this.#markComplete();
      return;
    }
    const url = this.#ctx.url;
    const reported =
      err === this.#abortReason
        ? err
        : (dispatchError(err, {
            host: url.hostname.replace(/^\[|\]$/g, ""),
            port: Number(url.port) || (url.protocol === "https:" ? 443 : 80),
            headersReceived: this.#headersReceived,
            requestInfo: () => this.#ctx.requestInfo,
          }) as Error);
    if (!this.#settled) this.#rejectWith(reported);
    else {
      this.#reader?.setException(reported);
      for (const d of this.#decoders ?? []) d.destroy();
    }
    this.finish();
  }

  onRequestUpgrade(
    _controller: Controller,
    _statusCode: number,
    _headers: ResponseHeaders,
    socket: Duplex,
  ): void {
    socket.destroy();
    this.onResponseError(null, new ClientPayloadError("unexpected protocol upgrade"));
  }

  // ── internals ───────────────────────────────────────────────────────

  /**
   * aiohttp refuses a chunk-size line longer than `maxLineSize`; undici's parser reads any (a
   * server can stream megabytes of chunk extensions, as in Node's CVE-2024-22019). Bytes that
   * come off the socket without any body byte among them can only be framing: past
   * `maxLineSize` plus a little slack for CRLFs and trailers, the body fails.
   */
  #guardChunkLines(socket: Duplex & { bytesRead?: number }): void {
    const limit = this.#ctx.maxLineSize + 1024;
    let lastRead = socket.bytesRead ?? 0;
    let lastBody = this.#bodyRead;
    let framing = 0;
    const onReadable = () => {
      const now = socket.bytesRead ?? 0;
      const read = now - lastRead;
      lastRead = now;
      if (this.#bodyRead !== lastBody) {
        lastBody = this.#bodyRead;
        framing = 0;
        return;
      }
      framing += read;
      if (framing > limit) {
        this.abort(
          new ClientPayloadError(
            `Response payload is not completed: a chunk-size line longer than maxLineSize (${this.#ctx.maxLineSize})`,
          ),
        );
      }
    };
    socket.on("readable", onReadable);
    this.#unguard = () => socket.off("readable", onReadable);
  }

  readonly #resumeSocket = (): void => {
    this.#readerPaused = false;
    this.#touch();
    this.#controller?.resume();
  };

  #fulfil(response: ClientResponse): void {
    const resolve = this.#resolve;
    this.#resolve = this.#reject = settledAlready;
    resolve(response);
  }

  #rejectWith(err: unknown): void {
    this.#settled = true;
    const reject = this.#reject;
    this.#resolve = this.#reject = settledAlready;
    reject(err);
  }

  get #reader(): StreamReader | undefined {
    return this.#heldReader ?? this.#pinned ?? this.#readerRef?.deref();
  }

  /** The body backed up: from now on the reader is held weakly (see `#heldReader`). */
  #holdWeakly(): void {
    const reader = this.#heldReader;
    if (!reader || this.#complete || this.#finished) return;
    this.#heldReader = undefined;
    this.#readerRef = new WeakRef(reader);
    abandonment.register(reader, this, this);
  }

  /** The response was dropped before its body was read: its connection is closed. */
  #abandoned(): void {
    this.abort(new ClientPayloadError("the response was garbage-collected before its body was read"));
  }

  #markComplete(): void {
    this.#complete = true;
    this.#reader?.feedEof();
    this.finish();
  }

  #failHead(message: string, status: number): void {
    const err = new ClientResponseError(this.#ctx.requestInfo, [], {
      status: 400,
      message: `${message} (status ${status})`,
    });
    this.#abortReason = err;
    this.#controller?.abort(err);
    this.#rejectWith(err);
    this.finish();
  }

  #wireDecoders(decoders: Transform[], contentEncoding: string): void {
    for (let i = 0; i + 1 < decoders.length; i++) decoders[i]!.pipe(decoders[i + 1]!);
    const last = decoders[decoders.length - 1]!;
    const max = this.#ctx.decompress.maxSize;
    let produced = 0;
    // The body is complete only once the last decoder ended: a decoder's failure is always before.
    const fail = (err: Error) => this.abort(err);
    last.on("data", (chunk: Buffer) => {
      produced += chunk.length;
      if (produced > max) {
        fail(new ClientPayloadError(`Decompressed body exceeds the ${max}-byte limit (maxDecompressedSize)`));
        return;
      }
      const reader = this.#reader;
      if (!reader) {
        this.#abandoned();
        return;
      }
      if (!reader.feed(chunk)) {
        last.pause();
        this.#holdWeakly();
      }
    });
    this.#reader!.setResume(() => {
      last.resume();
      this.#resumeSocket();
    });
    last.on("pause", () => {
      this.#readerPaused = true;
    });
    last.on("end", () => this.#markComplete());
    for (const d of decoders) {
      d.on("error", (err: Error) =>
        fail(new ClientPayloadError(`Can not decode content-encoding: ${contentEncoding}`, { cause: err })),
      );
    }
  }
}
