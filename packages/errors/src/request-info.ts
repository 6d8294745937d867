/**
 * What was sent, as a response or an error reports it (aiohttp's `RequestInfo`).
 * `url` is the URL as requested; `realUrl` keeps the fragment the request line dropped.
 */
export interface RequestInfo {
  /** The requested URL without its fragment. */
  readonly url: URL;
  /** The HTTP method, upper case. */
  readonly method: string;
  /** The headers that were sent, auto headers included. */
  readonly headers: Headers;
  /** The URL exactly as given, fragment included. */
  readonly realUrl: URL;
}

/**
 * The part of a response an error keeps in its `history`; `ClientResponse` from `@x/session`
 * satisfies it.
 */
export interface HistoryEntry {
  readonly status: number;
  readonly url: URL;
  readonly headers: Headers;
}
