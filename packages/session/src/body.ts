import { Readable } from "node:stream";
import zlib from "node:zlib";
import { ClientPayloadError, InvalidArgumentError } from "@x/errors";
import { FormData as UndiciFormData, Response as UndiciResponse } from "undici";

/** What `data` may be. */
export type RequestData =
  | string
  | Uint8Array
  | ArrayBuffer
  | DataView
  | URLSearchParams
  | FormData
  | Blob
  | Readable
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array | string>
  | Readonly<Record<string, FormValue | readonly FormValue[]>>
  | ReadonlyArray<readonly [string, FormValue]>;

/** A value in a form record: sent URL-encoded; `null` and `undefined` leave the field out. */
export type FormValue = string | number | boolean | null | undefined;

type Source = Buffer | Blob | UndiciFormData | AsyncIterable<Uint8Array>;

/**
 * A request body made ready to send, and to send again where that is possible (redirects that
 * keep the body, the retry after a stale keep-alive connection, a Digest challenge).
 */
export class RequestBody {
  /** The default `Content-Type` for this kind of body, if any. */
  readonly contentType: string | undefined;
  /** True when the body can be produced again from scratch. */
  readonly replayable: boolean;
  /** The body's bytes when they are known up front (for Digest `auth-int`). */
  readonly bytes: Buffer | undefined;
  /** A multipart form, encoded by undici as it is sent. */
  readonly isForm: boolean;
  readonly #make: () => Source;
  #consumed = false;

  constructor(
    make: () => Source,
    options: { contentType?: string | undefined; replayable: boolean; bytes?: Buffer; isForm?: boolean },
  ) {
    this.#make = make;
    this.contentType = options.contentType;
    this.replayable = options.replayable;
    this.bytes = options.bytes;
    this.isForm = options.isForm ?? false;
  }

  /** True once a one-shot body was handed out for sending. */
  get consumed(): boolean {
    return this.#consumed;
  }

  /**
   * The body to send now. A one-shot body can be taken once.
   * @throws {ClientPayloadError} when a one-shot body is asked for a second time.
   */
  take(): Source {
    if (!this.replayable) {
      if (this.#consumed) {
        throw new ClientPayloadError(
          "Cannot send the request body again: it was a one-shot stream and has been consumed. Use bytes, a string, a Blob or FormData to allow redirects and retries to resend it.",
        );
      }
      this.#consumed = true;
    }
    return this.#make();
  }
}

function isFormData(value: unknown): value is FormData {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === "FormData" &&
    typeof (value as FormData).entries === "function"
  );
}

/**
 * Refuses CR, LF and NUL in field and file names: the encoder would percent-escape them, but a
 * name carrying a line break is an injection attempt, and it is stopped before anything is sent.
 */
function checkFormNames(form: FormData): void {
  for (const [name, value] of form.entries()) {
    if (/[\r\n\0]/.test(name))
      throw new InvalidArgumentError(
        `multipart field name ${JSON.stringify(name)} must not contain CR, LF or NUL`,
      );
    const file = typeof value === "string" ? undefined : (value as File).name;
    if (file !== undefined && /[\r\n\0]/.test(file))
      throw new InvalidArgumentError(
        `multipart file name ${JSON.stringify(file)} must not contain CR, LF or NUL`,
      );
  }
}

function copyForm(source: FormData): UndiciFormData {
  const form = new UndiciFormData();
  for (const [name, value] of source.entries()) {
    if (typeof value === "string") form.append(name, value);
    else form.append(name, value as Blob, (value as File).name);
  }
  return form;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array | string> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function"
  );
}

async function* toBytes(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    if (typeof chunk === "string") yield Buffer.from(chunk);
    else if (chunk instanceof Uint8Array) yield chunk;
    else throw new InvalidArgumentError("a streamed body must yield strings or bytes");
  }
}

function formEncode(
  data:
    | Readonly<Record<string, FormValue | readonly FormValue[]>>
    | ReadonlyArray<readonly [string, FormValue]>,
): string {
  const params = new URLSearchParams();
  const entries = Array.isArray(data) ? data : Object.entries(data);
  for (const entry of entries as Iterable<readonly [string, FormValue | readonly FormValue[]]>) {
    if (!Array.isArray(entry) || entry.length !== 2)
      throw new InvalidArgumentError("form data must be [name, value] pairs");
    const [name, value] = entry;
    for (const v of Array.isArray(value) ? value : [value]) {
      // undefined and null mean "leave it out", as everywhere a record is taken.
      if (v === undefined || v === null) continue;
      if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
        throw new InvalidArgumentError(
          `form field ${JSON.stringify(name)} must be a string, number or boolean`,
        );
      }
      params.append(name, String(v));
    }
  }
  return params.toString();
}

const bytesBody = (bytes: Buffer, contentType: string | undefined) =>
  new RequestBody(() => bytes, { contentType, replayable: true, bytes });

/**
 * Turns `data` or `json` into a {@link RequestBody}; `undefined` when there is neither.
 * @throws {InvalidArgumentError} for both at once or a value that cannot be a body.
 */
export function prepareBody(
  data: RequestData | null | undefined,
  json: unknown,
  hasJson: boolean,
  serialize: (value: unknown) => string,
): RequestBody | undefined {
  if (hasJson) {
    if (data !== undefined && data !== null)
      throw new InvalidArgumentError("data and json cannot be used together");
    let text: string;
    try {
      text = serialize(json);
    } catch (err) {
      // JSON.stringify refuses BigInt and circular structures with a bare TypeError.
      throw new InvalidArgumentError(`json cannot be serialized: ${(err as Error).message}`, { cause: err });
    }
    if (typeof text !== "string") throw new InvalidArgumentError("jsonSerialize must return a string");
    return bytesBody(Buffer.from(text), "application/json");
  }
  if (data === undefined || data === null) return undefined;
  if (typeof data === "string") return bytesBody(Buffer.from(data), "text/plain; charset=utf-8");
  if (Buffer.isBuffer(data)) return bytesBody(data, "application/octet-stream");
  if (data instanceof Uint8Array)
    return bytesBody(Buffer.from(data.buffer, data.byteOffset, data.byteLength), "application/octet-stream");
  if (data instanceof ArrayBuffer) return bytesBody(Buffer.from(data), "application/octet-stream");
  if (data instanceof DataView)
    return bytesBody(Buffer.from(data.buffer, data.byteOffset, data.byteLength), "application/octet-stream");
  if (data instanceof URLSearchParams)
    return bytesBody(Buffer.from(data.toString()), "application/x-www-form-urlencoded");
  if (isFormData(data)) {
    // undici encodes it as multipart with its boundary on every send. Node's global FormData may
    // come from another undici than ours, so the entries are moved into our undici's FormData.
    checkFormNames(data);
    const form = data instanceof UndiciFormData ? data : copyForm(data);
    return new RequestBody(() => form, { replayable: true, isForm: true });
  }
  if (data instanceof Blob) {
    return new RequestBody(() => data, {
      contentType: data.type || "application/octet-stream",
      replayable: true,
    });
  }
  if (data instanceof ReadableStream) {
    // objectMode: each chunk reaches toBytes as it is, so a bad one is refused as for other streams.
    return new RequestBody(() => toBytes(Readable.fromWeb(data as never, { objectMode: true })), {
      contentType: "application/octet-stream",
      replayable: false,
    });
  }
  // Node's Readable streams too.
  if (isAsyncIterable(data)) {
    return new RequestBody(() => toBytes(data), {
      contentType: "application/octet-stream",
      replayable: false,
    });
  }
  if (
    Array.isArray(data) ||
    (typeof data === "object" && Object.getPrototypeOf(data) === Object.prototype) ||
    Object.getPrototypeOf(data) === null
  ) {
    return bytesBody(Buffer.from(formEncode(data as never)), "application/x-www-form-urlencoded");
  }
  throw new InvalidArgumentError(
    "data must be a string, bytes, URLSearchParams, FormData, a Blob, a form record, a Readable, a ReadableStream or an async iterable",
  );
}

/** Request-body compression (`compress`). */
export type CompressOption = boolean | "deflate" | "gzip";

/** Wraps `body` so it is sent compressed (as a stream, so chunked, as aiohttp does). */
export function compressBody(
  body: RequestBody,
  how: CompressOption,
): { body: RequestBody; encoding: string } {
  const encoding = how === "gzip" ? "gzip" : "deflate";
  const make = () => {
    const source = body.take();
    const z = encoding === "gzip" ? zlib.createGzip() : zlib.createDeflate();
    // No FormData here: a form to compress was encoded to bytes before (`encodeForm`).
    const input = Buffer.isBuffer(source)
      ? Readable.from([source])
      : source instanceof Blob
        ? Readable.fromWeb(source.stream() as never)
        : Readable.from(source as AsyncIterable<Uint8Array>);
    return toBytes(input.pipe(z) as AsyncIterable<Uint8Array>);
  };
  return {
    body: new RequestBody(make, { contentType: body.contentType, replayable: body.replayable }),
    encoding,
  };
}

/** Sends a known-length body as a stream, so undici frames it with `Transfer-Encoding: chunked`. */
export function chunkedBody(body: RequestBody): RequestBody {
  const make = () => {
    const source = body.take();
    if (Buffer.isBuffer(source)) {
      return (async function* () {
        if (source.length > 0) yield source;
      })();
    }
    return source;
  };
  return new RequestBody(make, {
    contentType: body.contentType,
    replayable: body.replayable,
    ...(body.bytes ? { bytes: body.bytes } : {}),
  });
}

/** Pieces a known-length body is cut into when someone watches it go out. */
const OBSERVED_PIECE = 64 * 1024;

/**
 * The body to send, watched as it goes: `onChunk` hears every piece undici takes for the wire and
 * `onEnd` the end of the body — whatever dispatcher carries it. Bytes (which come here only when
 * someone follows the upload) and a Blob are sent in 64 KiB pieces with their length (`length`,
 * for `Content-Length`); a stream goes as it comes; FormData, whose encoding undici owns, goes as it is.
 */
export function observedBody(
  source: ReturnType<RequestBody["take"]>,
  onChunk: (chunk: Buffer) => void,
  onEnd: () => void,
): { body: unknown; length: number | undefined } {
  if (source instanceof UndiciFormData) return { body: source, length: undefined };
  if (Buffer.isBuffer(source)) {
    return { body: counted(pieces(source), onChunk, onEnd), length: source.length };
  }
  if (source instanceof Blob) {
    return {
      body: counted(toBytes(Readable.fromWeb(source.stream() as never)), onChunk, onEnd),
      length: source.size,
    };
  }
  return { body: counted(source as AsyncIterable<Uint8Array>, onChunk, onEnd), length: undefined };
}

function* pieces(bytes: Buffer): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += OBSERVED_PIECE) yield bytes.subarray(i, i + OBSERVED_PIECE);
}

async function* counted(
  source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  onChunk: (chunk: Buffer) => void,
  onEnd: () => void,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    onChunk(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    yield chunk;
  }
  onEnd();
}

/**
 * A multipart form as bytes, with its `multipart/form-data; boundary=…` type: for sending it
 * chunked or compressed, which undici's own encoding (a whole body of known length) does not do.
 */
export async function encodeForm(body: RequestBody): Promise<RequestBody> {
  const encoded = new UndiciResponse(body.take() as UndiciFormData);
  const bytes = Buffer.from(await encoded.arrayBuffer());
  return new RequestBody(() => bytes, {
    contentType: encoded.headers.get("content-type") ?? undefined,
    replayable: true,
    bytes,
  });
}

/** A stream body cut at `length` bytes (aiohttp sends no more than a Content-Length set by the caller). */
export function truncatedBody(body: RequestBody, length: number): RequestBody {
  const make = () => {
    const source = body.take();
    return (async function* () {
      let left = length;
      // Bytes are cut before (the request keeps a cut copy); what is left is a Blob or a stream.
      const input =
        source instanceof Blob
          ? toBytes(Readable.fromWeb(source.stream() as never))
          : (source as AsyncIterable<Uint8Array>);
      for await (const chunk of input) {
        if (left <= 0) break;
        const piece = chunk.length > left ? chunk.subarray(0, left) : chunk;
        left -= piece.length;
        yield piece;
      }
    })();
  };
  return new RequestBody(make, { contentType: body.contentType, replayable: body.replayable });
}
