import { brandClass, hasBrand } from "./brand.js";
import { ValueError } from "./traits.js";

type AnyConstructor<T> = abstract new (...args: never[]) => T;

/**
 * The root of every error this toolkit throws (aiohttp's `ClientError`).
 *
 * Every class carries a stable `code` (`X_CLIENT_ERROR`, …), the original failure as `cause`,
 * and a `Symbol.for` brand so that `instanceof` holds even when two copies of `@x/errors` are
 * installed side by side.
 */
export class ClientError extends Error {
  /** Stable machine-readable identifier, e.g. `X_CLIENT_CONNECTOR_ERROR`. */
  declare readonly code: string;
  /** The `Symbol.for` key that identifies this class across installed copies. */
  declare static readonly brand: symbol;

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
  }

  /**
   * `instanceof` by brand, so errors from another installed copy match. A subclass that
   * was not branded (a user's own) falls back to ordinary prototype checks.
   */
  static override [Symbol.hasInstance]<T>(this: AnyConstructor<T>, value: unknown): value is T {
    // `this` is the class on the right of `instanceof`, which may be any subclass.
    if (Object.hasOwn(this, "brand")) return hasBrand(value, (this as unknown as { brand: symbol }).brand);
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  static {
    brandClass(ClientError, "ClientError", "X_CLIENT_ERROR");
  }
}

/**
 * A value the caller passed is wrong: an option of the wrong type or range, CR/LF/NUL in a
 * header, `data` together with `json`. Thrown where the input enters, before any I/O.
 * aiohttp raises Python's `ValueError`/`TypeError` here; test for it with
 * `err instanceof InvalidArgumentError` or `err instanceof ValueError`.
 */
export class InvalidArgumentError extends ClientError {
  static {
    brandClass(InvalidArgumentError, "InvalidArgumentError", "X_INVALID_ARGUMENT", [ValueError]);
  }
}

/**
 * The object is in a state that does not allow the call: a closed session, a second concurrent
 * `receive()` on a websocket. aiohttp raises `RuntimeError` in these places.
 */
export class ClientStateError extends ClientError {
  static {
    brandClass(ClientStateError, "ClientStateError", "X_INVALID_STATE");
  }
}

/**
 * The payload of a response could not be read as sent: a body shorter than its
 * Content-Length, broken chunked framing, undecodable compression, a decompression cap hit,
 * or a one-shot request body that a 307/308 redirect would have to send again.
 */
export class ClientPayloadError extends ClientError {
  static {
    brandClass(ClientPayloadError, "ClientPayloadError", "X_CLIENT_PAYLOAD_ERROR");
  }
}

/**
 * A websocket message was not of the type the caller asked for (`receiveStr()` got BINARY,
 * `receiveJson()` got CLOSE). aiohttp derives it from `TypeError`.
 */
export class WSMessageTypeError extends ClientError {
  static {
    brandClass(WSMessageTypeError, "WSMessageTypeError", "X_WS_MESSAGE_TYPE_ERROR");
  }
}
