import zlib from "node:zlib";
import type { Transform } from "node:stream";
import { ClientPayloadError } from "@x/errors";

type ZlibWithZstd = typeof zlib & { createZstdDecompress?: () => Transform };
const zstd = (zlib as ZlibWithZstd).createZstdDecompress;

/** The content codings this Node can decode, for `Accept-Encoding`. */
export const ACCEPT_ENCODING = zstd ? "gzip, deflate, br, zstd" : "gzip, deflate, br";

function decoder(coding: string): Transform | undefined {
  const flush = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
  switch (coding) {
    case "gzip":
    case "x-gzip":
      return zlib.createGunzip(flush);
    case "deflate":
      // Servers send both zlib-wrapped and raw deflate; inflate() accepts either.
      return zlib.createInflate(flush);
    case "br":
      return zlib.createBrotliDecompress({ finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH });
    case "zstd":
      return zstd?.();
    default:
      return undefined;
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
export function decodersFor(contentEncoding: string | undefined, limits: DecompressLimits): Transform[] | undefined {
  if (!contentEncoding) return undefined;
  const codings = contentEncoding
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c && c !== "identity");
  if (codings.length === 0) return undefined;
  if (codings.length > limits.maxCodings) {
    throw new ClientPayloadError(`Too many content codings (${codings.length}); at most ${limits.maxCodings} are decoded`);
  }
  // Codings were applied in order; undo them in reverse.
  return codings.reverse().map((c) => {
    const d = decoder(c);
    if (!d) throw new ClientPayloadError(`Cannot decode content encoding ${JSON.stringify(c)}`);
    return d;
  });
}
