import { Transform, type TransformCallback } from "node:stream";
import zlib from "node:zlib";
import { ClientPayloadError } from "@x/errors";

type ZlibWithZstd = typeof zlib & { createZstdDecompress?: () => Transform };
const zstd = (zlib as ZlibWithZstd).createZstdDecompress;

/** The content codings this Node can decode, for `Accept-Encoding`. */
export const ACCEPT_ENCODING = zstd ? "gzip, deflate, br, zstd" : "gzip, deflate, br";

/** Output pieces of 64 KiB (zlib's default is 16 KiB): a quarter of the hand-offs per decoded byte. */
const CHUNK = 64 * 1024;

function decoder(coding: string): Transform | undefined {
  // A gzip or br body cut short gives what it decoded to, as aiohttp's decoders do.
  const flush = { finishFlush: zlib.constants.Z_SYNC_FLUSH, chunkSize: CHUNK };
  switch (coding) {
    case "gzip":
    case "x-gzip":
      return zlib.createGunzip(flush);
    case "deflate":
      return new AnyInflate();
    case "br":
      return zlib.createBrotliDecompress({
        finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
        chunkSize: CHUNK,
      });
    case "zstd":
      return zstd?.();
  }
  return undefined;
}

/**
 * "deflate" as servers really send it: zlib-wrapped (RFC 9110) or raw (old IIS and friends).
 * The first two bytes tell which. Unlike gzip and br (whose decoders give what a body cut short
 * decoded to), a deflate stream that stops before its end fails, as in aiohttp.
 */
class AnyInflate extends Transform {
  #inner: Transform | undefined;
  #head = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.#inner) {
      this.#head = Buffer.concat([this.#head, chunk]);
      if (this.#head.length < 2) {
        callback();
        return;
      }
      const [b0 = 0, b1 = 0] = this.#head;
      const wrapped = (b0 & 0x0f) === 8 && ((b0 << 8) | b1) % 31 === 0;
      const pieces = { chunkSize: CHUNK };
      const inner = wrapped ? zlib.createInflate(pieces) : zlib.createInflateRaw(pieces);
      inner.on("data", (out: Buffer) => this.push(out));
      inner.on("error", (err) => this.destroy(err));
      this.#inner = inner;
      chunk = this.#head;
    }
    if (this.#inner.write(chunk)) callback();
    else this.#inner.once("drain", () => callback());
  }

  override _flush(callback: TransformCallback): void {
    const inner = this.#inner;
    if (!inner) {
      callback(this.#head.length > 0 ? new Error("truncated deflate stream") : undefined);
      return;
    }
    inner.once("end", () => callback());
    inner.end();
  }
}

/** Limits on decoding a response body. */
export interface DecompressLimits {
  /** Most content codings accepted in one `Content-Encoding`. */
  readonly maxCodings: number;
  /** Most decoded bytes accepted; past it the body fails with `ClientPayloadError`. */
  readonly maxSize: number;
}

/**
 * Decoders for a `Content-Encoding` value, outermost last as sent, or `undefined` when the body
 * is not encoded (or only with `identity`).
 * @throws {ClientPayloadError} for an unknown coding or more codings than allowed.
 */
export function decodersFor(
  contentEncoding: string | undefined,
  limits: DecompressLimits,
): Transform[] | undefined {
  if (!contentEncoding) return undefined;
  const codings = contentEncoding
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c && c !== "identity");
  if (codings.length === 0) return undefined;
  if (codings.length > limits.maxCodings) {
    throw new ClientPayloadError(
      `Too many content codings (${codings.length}); at most ${limits.maxCodings} are decoded`,
    );
  }
  // Codings were applied in order; undo them in reverse.
  return codings.reverse().map((c) => {
    const d = decoder(c);
    if (!d) throw new ClientPayloadError(`Cannot decode content encoding ${JSON.stringify(c)}`);
    return d;
  });
}
