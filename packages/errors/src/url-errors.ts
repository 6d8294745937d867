import { brandClass } from "./brand.js";
import { ClientError } from "./client-error.js";
import type { HistoryEntry } from "./request-info.js";
import { RedirectClientError, ValueError } from "./traits.js";

/** Options of the redirect URL errors: the redirect responses that led to the bad `Location`. */
export interface RedirectUrlErrorOptions extends ErrorOptions {
  /** The redirect responses so far, oldest first; the last one named the bad URL. */
  history?: readonly HistoryEntry[];
}

/**
 * A URL that cannot be requested (aiohttp's `InvalidURL`, also a `ValueError`).
 * The message names the URL: `"http://[::1 - unterminated IPv6 address"`.
 */
export class InvalidURL extends ClientError {
  /** The offending URL, as given. */
  readonly url: string;
  /** What is wrong with it, when known. */
  readonly description: string | undefined;

  constructor(url: string | URL, description?: string, options?: ErrorOptions) {
    const text = String(url);
    super(description ? `${text} - ${description}` : text, options);
    this.url = text;
    this.description = description;
  }

  static {
    brandClass(InvalidURL, "InvalidURL", "X_INVALID_URL", [ValueError]);
  }
}

/** The URL given to a request does not parse, or has no host. */
export class InvalidUrlClientError extends InvalidURL {
  static {
    brandClass(InvalidUrlClientError, "InvalidUrlClientError", "X_INVALID_URL_CLIENT_ERROR");
  }
}

/** The URL given to a request is not `http:` or `https:` (or `ws:`/`wss:` for websockets). */
export class NonHttpUrlClientError extends InvalidURL {
  static {
    brandClass(NonHttpUrlClientError, "NonHttpUrlClientError", "X_NON_HTTP_URL_CLIENT_ERROR");
  }
}

/** A redirect's `Location` does not parse. Also a `RedirectClientError`. */
export class InvalidUrlRedirectClientError extends InvalidUrlClientError {
  /** The redirect responses that led here, oldest first; the last one named the bad `Location`. */
  readonly history: readonly HistoryEntry[];

  constructor(url: string | URL, description?: string, options?: RedirectUrlErrorOptions) {
    super(url, description, options);
    this.history = options?.history ?? [];
  }

  static {
    brandClass(
      InvalidUrlRedirectClientError,
      "InvalidUrlRedirectClientError",
      "X_INVALID_URL_REDIRECT_CLIENT_ERROR",
      [RedirectClientError],
    );
  }
}

/** A redirect points to a scheme other than http/https (`file:`, `data:`, `ftp:`). Also a `RedirectClientError`. */
export class NonHttpUrlRedirectClientError extends NonHttpUrlClientError {
  /** The redirect responses that led here, oldest first; the last one named the bad `Location`. */
  readonly history: readonly HistoryEntry[];

  constructor(url: string | URL, description?: string, options?: RedirectUrlErrorOptions) {
    super(url, description, options);
    this.history = options?.history ?? [];
  }

  static {
    brandClass(
      NonHttpUrlRedirectClientError,
      "NonHttpUrlRedirectClientError",
      "X_NON_HTTP_URL_REDIRECT_CLIENT_ERROR",
      [RedirectClientError],
    );
  }
}
