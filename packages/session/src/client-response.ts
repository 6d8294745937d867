import { isUtf8 } from "node:buffer";
import type { PooledConnection } from "@x/connector";
import { type CookieRecord, parseSetCookie } from "@x/cookies";
import {
  ClientConnectionError,
  ClientPayloadError,
  ClientResponseError,
  ContentTypeError,
  type HistoryEntry,
  type RequestInfo,
} from "@x/errors";
import {
  type ContentType,
  isJsonType,
  type LinkEntry,
  parseContentType,
  parseLinks,
} from "./content-type.js";
import type { StreamReader } from "./stream-reader.js";

/** How much of a failed response's body an error keeps. */
const ERROR_BODY_LIMIT = 8 * 1024;

/** An HTTP version, as aiohttp's `HttpVersion`. */
export interface HttpVersion {
  readonly major: number;
  readonly minor: number;
}

/** What a response needs from the request that produced it. */
export interface ResponseSource {
  /** True once the whole body has arrived. */
  readonly complete: boolean;
  /** True once the body is done with (arrived, failed or given up): the connection is back or closed. */
  readonly closed: boolean;
  /** Stops receiving: the connection is closed rather than reused. */
  abort(reason: Error): void;
  /** The body was consumed or given up: timers stop. */
  finish(): void;
  /** Settles once the body is done with: read to the end, failed, or given up. */
  readonly finished: Promise<void>;
}

/** Decides a text encoding when a response does not name one (aiohttp's `fallback_charset_resolver`). */
export type CharsetResolver = (response: ClientResponse, body: Buffer) => string;

/** @internal How a response is made. */
export interface ResponseInit {
  method: string;
  url: URL;
  realUrl: URL;
  status: number;
  reason: string;
  /** Lower-case name, value pairs in wire order. */
  headerPairs: ReadonlyArray<readonly [string, string]>;
  /** Names as received, same order. */
  rawNames: readonly string[];
  version: HttpVersion;
  content: StreamReader;
  requestInfo: RequestInfo;
  connection: PooledConnection | null;
  source: ResponseSource;
  fallbackCharset: CharsetResolver;
}

/** Options of {@link ClientResponse.json}. */
export interface JsonOptions {
  /** The text encoding; default: the response's (see `getEncoding()`). */
  encoding?: string;
  /** The parser; default `JSON.parse`. */
  loads?: (text: string) => unknown;
  /** The expected media type; `null` skips the check. Default `application/json` (any `+json` type passes). */
  contentType?: string | null;
}

/**
 * A response to a request (aiohttp's `ClientResponse`). Its status and headers are here as soon
 * as it is returned; the body is read through `read()`, `text()`, `json()` or `content`.
 * `await using resp = …` (or `release()`) gives the connection back.
 */
export class ClientResponse implements AsyncDisposable, HistoryEntry {
  readonly method: string;
  /** The URL of this response (the last one, after redirects), without fragment. */
  readonly url: URL;
  /** The URL as requested for this response, fragment included. */
  readonly realUrl: URL;
  readonly status: number;
  /** The reason phrase: "OK", "Not Found". */
  readonly reason: string;
  readonly version: HttpVersion;
  /** The body as a stream. */
  readonly content: StreamReader;
  readonly requestInfo: RequestInfo;
  readonly #pairs: ReadonlyArray<readonly [string, string]>;
  readonly #rawNames: readonly string[];
  readonly #source: ResponseSource;
  readonly #fallback: CharsetResolver;
  #history: readonly ClientResponse[] = [];
  #connection: PooledConnection | null;
  #headers: Headers | undefined;
  #contentType: ContentType | undefined;
  #body: Buffer | undefined;
  #released = false;

  /** @internal Responses come from a session; they are not constructed directly. */
  constructor(init: ResponseInit) {
    this.method = init.method;
    this.url = init.url;
    this.realUrl = init.realUrl;
    this.status = init.status;
    this.reason = init.reason;
    this.version = init.version;
    this.content = init.content;
    this.requestInfo = init.requestInfo;
    this.#pairs = init.headerPairs;
    this.#rawNames = init.rawNames;
    this.#connection = init.connection;
    this.#source = init.source;
    this.#fallback = init.fallbackCharset;
  }

  /** True for a status below 400 (aiohttp's meaning, not fetch's). */
  get ok(): boolean {
    return this.status < 400;
  }

  /** The response headers (WHATWG `Headers`: case-insensitive, repeated fields joined). */
  get headers(): Headers {
    if (!this.#headers) {
      const h = new Headers();
      for (const [name, value] of this.#pairs) {
        // Set-Cookie values must stay apart; Headers keeps them so.
        h.append(name, value);
      }
      this.#headers = h;
    }
    return this.#headers;
  }

  /** Every header as received, name spelling and order kept. */
  get rawHeaders(): ReadonlyArray<readonly [string, string]> {
    return this.#pairs.map(([, value], i) => [this.#rawNames[i]!, value] as const);
  }

  /** The responses of the redirects that led here, oldest first. */
  get history(): readonly ClientResponse[] {
    return this.#history;
  }

  /** @internal */
  setHistory(history: readonly ClientResponse[]): void {
    this.#history = history;
  }

  /** The connection carrying the body, until it is released; `null` with other dispatchers. */
  get connection(): PooledConnection | null {
    return this.#released || this.#source.complete ? null : this.#connection;
  }

  /** The media type, lower case; `application/octet-stream` when there is no Content-Type. */
  get contentType(): string {
    return this.#parsedType().mimetype;
  }

  /** The `charset` parameter of Content-Type, or `null`. */
  get charset(): string | null {
    return this.#parsedType().params.charset?.toLowerCase() ?? null;
  }

  /** Content-Length as a number, or `null`. */
  get contentLength(): number | null {
    const v = this.#header("content-length");
    if (v === undefined || !/^\d+$/.test(v.trim())) return null;
    return Number(v);
  }

  /** The cookies this response sets, name → cookie (the last of each name). */
  get cookies(): Map<string, CookieRecord> {
    const out = new Map<string, CookieRecord>();
    for (const [name, value] of this.#pairs) {
      if (name !== "set-cookie") continue;
      const c = parseSetCookie(value);
      if (c) out.set(c.name, c);
    }
    return out;
  }

  /** The `Link` header, keyed by `rel`. */
  get links(): Map<string, LinkEntry> {
    return parseLinks(
      this.#pairs.filter(([n]) => n === "link").map(([, v]) => v),
      this.url,
    );
  }

  /**
   * True once the connection has gone back to the pool or been closed: the body was read to the
   * end (or arrived whole), failed, or the response was released.
   */
  get closed(): boolean {
    return this.#released || this.#source.closed;
  }

  /**
   * The text encoding: the Content-Type's charset when Node knows it; UTF-8 for JSON types; else
   * the session's `fallbackCharsetResolver` (default UTF-8).
   */
  getEncoding(body?: Buffer): string {
    const charset = this.charset;
    if (charset && isKnownEncoding(charset)) return charset;
    const type = this.contentType;
    if (isJsonType(type)) return "utf-8";
    return this.#fallback(this, body ?? this.#body ?? Buffer.alloc(0));
  }

  /**
   * The whole body. Later calls return the same bytes.
   * @throws {ClientConnectionError} if the response was released before the body was read.
   * @throws {ClientPayloadError} if the body could not be read as sent.
   */
  async read(): Promise<Buffer> {
    if (this.#body) return this.#body;
    if (this.#released && !this.content.isEof()) throw new ClientConnectionError("Connection closed");
    try {
      this.#body = await this.content.read();
    } catch (err) {
      this.#source.abort(err as Error);
      throw err;
    }
    return this.#body;
  }

  /**
   * The body decoded as text: with `encoding`, or `getEncoding()`'s choice.
   * @throws {ClientPayloadError} when the bytes are not valid in that encoding.
   */
  async text(encoding?: string): Promise<string> {
    const body = await this.read();
    return decode(body, encoding ?? this.getEncoding(body));
  }

  /**
   * The body parsed as JSON; `null` for an empty (or whitespace-only) body.
   * @throws {ContentTypeError} when the Content-Type is not the expected one (the body is released).
   */
  async json<T = unknown>(options: JsonOptions = {}): Promise<T> {
    const expected = options.contentType === undefined ? "application/json" : options.contentType;
    if (expected !== null) {
      const actual = this.contentType;
      const fits = expected === "application/json" ? isJsonType(actual) : actual === expected.toLowerCase();
      if (!fits) {
        const body = this.#bufferedStart();
        this.release();
        throw new ContentTypeError(this.requestInfo, this.#history, {
          status: this.status,
          message: `Attempt to decode JSON with unexpected mimetype: ${actual} (expected ${expected}; json({ contentType: null }) skips the check)`,
          headers: this.headers,
          body,
        });
      }
    }
    const body = await this.read();
    const text = decode(body, options.encoding ?? this.getEncoding(body));
    if (text.trim() === "") return null as T;
    return (options.loads ?? JSON.parse)(text) as T;
  }

  /**
   * Throws `ClientResponseError` for a status of 400 or more (releasing the connection);
   * does nothing otherwise. The error's `body` is the start of the body (at most 8 KiB) as far
   * as it has arrived; a session with `raiseForStatus: true` waits for those 8 KiB first.
   */
  raiseForStatus(): void {
    if (this.status < 400) return;
    this.#raise(this.#bufferedStart());
  }

  /** @internal `raiseForStatus()` after reading the start of the body (at most 8 KiB). */
  async raiseForStatusWithBody(): Promise<void> {
    if (this.status < 400) return;
    // A body that fails part way keeps what had arrived.
    this.#raise(this.#asErrorBody(await this.content.readStart(ERROR_BODY_LIMIT)));
  }

  #raise(body: string | Buffer | undefined): never {
    this.release();
    throw new ClientResponseError(this.requestInfo, this.#history, {
      status: this.status,
      message: this.reason,
      headers: this.headers,
      body,
    });
  }

  /** What of the body has arrived (at most 8 KiB), for an error. */
  #bufferedStart(): string | Buffer | undefined {
    return this.#asErrorBody(
      this.#body?.subarray(0, ERROR_BODY_LIMIT) ?? this.content.peek(ERROR_BODY_LIMIT),
    );
  }

  /** The start of a body as an error carries it: text for a text type, else bytes; nothing if empty. */
  #asErrorBody(bytes: Buffer | undefined): string | Buffer | undefined {
    if (!bytes || bytes.length === 0) return undefined;
    const type = this.contentType;
    const text =
      type.startsWith("text/") ||
      isJsonType(type) ||
      /[/+]xml$/.test(type) ||
      type === "application/x-www-form-urlencoded" ||
      this.charset !== null;
    if (!text) return bytes;
    try {
      return new TextDecoder(this.getEncoding(bytes)).decode(bytes);
    } catch {
      return bytes;
    }
  }

  /**
   * Gives the connection back. If the body was not read to the end, the connection is closed
   * instead (it cannot be reused) and later reads throw `ClientConnectionError`.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (!this.#source.complete) {
      const err = new ClientConnectionError("Connection closed");
      this.content.setException(err);
      this.#source.abort(err);
    }
    this.#source.finish();
  }

  /**
   * Resolves once the response is done with: its body read to the end, failed, or released
   * (aiohttp's `wait_for_close()`).
   */
  waitForClose(): Promise<void> {
    return this.#source.finished;
  }

  /** @internal The request failed (total timeout, the caller's signal): the body read fails with `err`. */
  fail(err: Error): void {
    this.#source.abort(err);
  }

  /** Closes the response; the same as `release()` here. */
  close(): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }

  #header(name: string): string | undefined {
    for (const [n, v] of this.#pairs) if (n === name) return v;
    return undefined;
  }

  #parsedType(): ContentType {
    this.#contentType ??= parseContentType(this.#header("content-type"));
    return this.#contentType;
  }
}

function isKnownEncoding(label: string): boolean {
  try {
    new TextDecoder(label);
    return true;
  } catch {
    return false;
  }
}

function decode(body: Buffer, encoding: string): string {
  const label = encoding.toLowerCase();
  if (label === "utf-8" || label === "utf8") {
    if (!isUtf8(body)) throw new ClientPayloadError("The response body is not valid utf-8");
    return body.toString("utf8");
  }
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(label, { fatal: true });
  } catch (err) {
    throw new ClientPayloadError(`Unknown text encoding ${JSON.stringify(encoding)}`, { cause: err });
  }
  try {
    return decoder.decode(body);
  } catch (err) {
    throw new ClientPayloadError(`The response body is not valid ${encoding}`, { cause: err });
  }
}
