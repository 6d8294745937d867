import { InvalidArgumentError } from "@x/errors";

/** The request an {@link Auth} is asked about. */
export interface AuthRequest {
  /** Upper-case method. */
  readonly method: string;
  readonly url: URL;
  /**
   * The request body when it can be read again (bytes or a string), for schemes that hash it
   * (Digest `auth-int`); `undefined` when there is none or it is a one-shot stream.
   */
  readonly body?: Uint8Array | string | null | undefined;
}

/** The 401 response a challenge-answering {@link Auth} sees. */
export interface AuthChallenge {
  readonly status: number;
  readonly url: URL;
  readonly headers: Headers;
}

/** Headers to send on the one retry an {@link Auth} asks for. */
export interface AuthRetry {
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * What `@x/session` takes as `auth` (and websockets as `auth`). The minimal form is
 * `{ encode() }`, returning the `Authorization` header value; a scheme that answers challenges
 * (Digest) also implements `challenge`, which sees a 401 and may ask for one retry.
 *
 * @example
 * const apiKey: Auth = { encode: () => `ApiKey ${process.env.KEY}` };
 */
export interface Auth {
  /** The `Authorization` value to send with `request`, or `undefined` to send none. */
  encode(request?: AuthRequest): string | undefined;
  /**
   * Called with a 401 response to a request that used this auth. Return the headers to retry
   * the request with once, or `undefined` to give the 401 to the caller.
   */
  challenge?(
    request: AuthRequest,
    response: AuthChallenge,
  ): AuthRetry | undefined | Promise<AuthRetry | undefined>;
}

/** Refuses CR, LF and NUL: they would let a credential inject headers. */
export function checkHeaderSafe(what: string, value: string): void {
  if (typeof value !== "string") throw new InvalidArgumentError(`${what} must be a string`);
  if (/[\r\n\0]/.test(value)) throw new InvalidArgumentError(`${what} must not contain CR, LF or NUL`);
}
