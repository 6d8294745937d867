import { createHash, timingSafeEqual } from "node:crypto";
import { InvalidArgumentError } from "@x/errors";

const SHA256_LENGTH = 32;
const INSECURE: Record<number, string> = { 16: "md5", 20: "sha1" };

function parseDigest(digest: Uint8Array | string): Buffer {
  if (typeof digest === "string") {
    const hex = digest.replace(/^sha256[/:=]/i, "").replace(/[:\s]/g, "");
    if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length % 2 !== 0) {
      throw new InvalidArgumentError(
        `fingerprint must be hex digits (optionally colon-separated), got ${JSON.stringify(digest)}`,
      );
    }
    return Buffer.from(hex, "hex");
  }
  if (digest instanceof Uint8Array) return Buffer.from(digest);
  throw new InvalidArgumentError("fingerprint must be a Buffer, a Uint8Array or a hex string");
}

/**
 * A pinned server certificate: the SHA-256 digest of its DER encoding (aiohttp's `Fingerprint`).
 * MD5 and SHA-1 digests are refused, as in aiohttp.
 *
 * Passing a `Fingerprint` as `ssl` pins the certificate *instead of* verifying it against CAs
 * (aiohttp's behaviour, useful for self-signed servers). To pin *and* verify, pass TLS options
 * with a `fingerprint` field: `ssl: { ca, fingerprint }`.
 *
 * @example
 * const pin = new Fingerprint("5e:88:...:a1"); // or a 32-byte Buffer
 * new TCPConnector({ ssl: pin });
 * @throws {InvalidArgumentError} for a digest that is not 32 bytes, naming MD5/SHA-1 when it is one of those.
 */
export class Fingerprint {
  readonly #digest: Buffer;

  constructor(digest: Uint8Array | string) {
    const bytes = parseDigest(digest);
    const insecure = INSECURE[bytes.length];
    if (insecure) {
      throw new InvalidArgumentError(`${insecure} fingerprints are insecure and not supported; use sha256`);
    }
    if (bytes.length !== SHA256_LENGTH) {
      throw new InvalidArgumentError(
        `fingerprint has invalid length ${bytes.length}; a SHA-256 digest is 32 bytes`,
      );
    }
    this.#digest = bytes;
  }

  /** The pinned SHA-256 digest (a copy). */
  get fingerprint(): Buffer {
    return Buffer.from(this.#digest);
  }

  /** The digest as lower-case colon-separated hex, e.g. `ab:01:…`. */
  toString(): string {
    return Array.from(this.#digest, (b) => b.toString(16).padStart(2, "0")).join(":");
  }

  /** The SHA-256 digest of a DER certificate. */
  static digest(der: Uint8Array): Buffer {
    return createHash("sha256").update(der).digest();
  }

  /** True when `der` (a certificate in DER form) has the pinned digest. */
  matches(der: Uint8Array): boolean {
    return timingSafeEqual(Fingerprint.digest(der), this.#digest);
  }
}
