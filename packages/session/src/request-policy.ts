import { type Auth, type AuthRequest, BasicAuth } from "@x/auth";
import { type ProxySettings, proxyOption, proxySettings } from "@x/connector";
import {
  type CookieInput,
  type CookiesToSend,
  cookieHeader,
  requestCookies,
  type SendableCookie,
} from "@x/cookies";
import { InvalidArgumentError } from "@x/errors";
import type { RequestBody } from "./body.js";
import { HeaderList, type HeadersInput } from "./headers.js";
import { netrcFor } from "./netrc.js";
import { proxyFromEnv } from "./proxy-env.js";
import type { SessionConfig } from "./session-config.js";

/** What a call may say about its own headers, credentials, cookies and proxy. */
export interface PolicyInput {
  headers?: HeadersInput | undefined;
  skipAutoHeaders?: Iterable<string> | undefined;
  /** Auth for this call; `null` or absent: the session's. */
  auth?: Auth | null | undefined;
  /** Cookies for this call only; `null` or absent: none. */
  cookies?: CookieInput | null | undefined;
  /**
   * This call's proxy (settings made by `proxySettings()` are taken as they are); `null` goes
   * direct; absent: the session's, or the environment's with `trustEnv`.
   */
  proxy?: string | URL | ProxySettings | null | undefined;
  proxyAuth?: Auth | undefined;
  proxyHeaders?: HeadersInput | undefined;
}

/** What the policy decided for one hop: its headers (in order) and the auth that wrote `Authorization`. */
export interface HopDecision {
  readonly headers: HeaderList;
  readonly auth: Auth | undefined;
  /** What `auth` was shown, for a challenge it may answer later. */
  readonly authRequest: AuthRequest;
}

/** Headers that carry credentials: never sent to another origin after a redirect. */
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
// undici writes `Content-Length: 0` only for the methods that expect a body (RFC 9110), where
// aiohttp sends it for every method but GET, HEAD, OPTIONS, TRACE and CONNECT (DELETE too).
const LENGTH_METHODS = new Set(["POST", "PUT", "PATCH", "QUERY", "PROPFIND", "PROPPATCH"]);

const isThenable = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown } | null)?.then === "function";

/** The http(s) URL of a ws(s) URL: cookies, auth and `baseUrl` scoping speak http. */
export function httpUrl(url: URL): URL {
  if (url.protocol !== "ws:" && url.protocol !== "wss:") return url;
  const out = new URL(url.href);
  out.protocol = url.protocol === "ws:" ? "http:" : "https:";
  return out;
}

/**
 * The one place that decides, for a session's HTTP requests and websocket handshakes alike, what
 * a request carries: default and per-call headers in their order, skipped auto headers, auth and
 * its scoping to origins (request auth, URL userinfo, the session's `auth` to `baseUrl`'s origin
 * only, `.netrc` with `trustEnv`), cookies (the jar's and the call's, merged one way), and the
 * proxy (explicit, the session's, or `trustEnv`'s with `NO_PROXY`). A policy lives for one call
 * and follows it across redirects: credentials never follow a request to another origin.
 */
export class RequestPolicy {
  readonly #config: SessionConfig;
  readonly #input: PolicyInput;
  /** Session headers with the call's laid over them by name; the call's come first. */
  readonly #userHeaders: HeaderList;
  readonly #skip: ReadonlySet<string>;
  readonly #requestAuth: Auth | undefined;
  #urlAuth: Auth | undefined;
  #dropRequestAuth = false;
  #requestCookies: CookieInput | undefined;

  /**
   * @param url The call's first URL, userinfo included (it becomes Basic auth).
   * @throws {InvalidArgumentError} for credentials given twice (URL and `auth`, or either and an
   * `Authorization` header), as aiohttp.
   */
  constructor(config: SessionConfig, input: PolicyInput, url: URL) {
    this.#config = config;
    this.#input = input;
    let userHeaders = config.headers.clone();
    if (input.headers) {
      const given = HeaderList.from(input.headers);
      // A name the request gives replaces every session header of that name (aiohttp's merge).
      for (const [name] of given) userHeaders.delete(name);
      given.appendAll(userHeaders);
      userHeaders = given;
    }
    this.#userHeaders = userHeaders;
    this.#requestAuth = input.auth ?? undefined;
    this.#urlAuth = BasicAuth.fromUrl(url) ?? undefined;
    if (this.#urlAuth && this.#requestAuth) {
      throw new InvalidArgumentError("credentials in the URL cannot be combined with auth");
    }
    if ((this.#requestAuth || this.#urlAuth) && userHeaders.has("authorization")) {
      throw new InvalidArgumentError(
        "an Authorization header cannot be combined with auth or credentials in the URL",
      );
    }
    let skip = config.skipAutoHeaders;
    if (input.skipAutoHeaders) {
      const merged = new Set(skip);
      for (const name of input.skipAutoHeaders) merged.add(name.toLowerCase());
      skip = merged;
    }
    this.#skip = skip;
    this.#requestCookies = input.cookies ?? undefined;
    // A bad proxy is refused before any I/O, as in aiohttp.
    if (input.proxy !== undefined && input.proxy !== null) proxyOption(input.proxy);
  }

  /** The caller's headers (session and call) as the call started, before auto headers. */
  get userHeaders(): HeaderList {
    return this.#userHeaders;
  }

  /**
   * Everything one hop to `url` sends: the caller's headers, then the auto headers not skipped
   * (Accept, Accept-Encoding, User-Agent, Content-Type, `Content-Length: 0`), then cookies, then
   * `Authorization`. A promise only when the cookie jar answers with one.
   */
  hop(method: string, url: URL, body: RequestBody | undefined): HopDecision | Promise<HopDecision> {
    const ready = this.#config.cookiesReady;
    if (ready) return ready.then(() => this.#decide(method, url, body));
    return this.#decide(method, url, body);
  }

  #decide(method: string, url: URL, body: RequestBody | undefined): HopDecision | Promise<HopDecision> {
    const headers = this.#userHeaders.clone();
    this.#autoHeaders(headers, method, body);
    const cookies = this.#config.cookieJar.filterCookies(httpUrl(url));
    if (isThenable(cookies)) return cookies.then((found) => this.#finish(headers, method, url, body, found));
    return this.#finish(headers, method, url, body, cookies);
  }

  /**
   * The next hop goes to `to` after a redirect from `from`: credential headers, the call's
   * cookies and its auth stay with their origin; credentials in the redirect's URL win (on the
   * same origin too).
   */
  redirected(from: URL, to: URL, dropBody: boolean): void {
    if (dropBody) this.#userHeaders.delete("content-length");
    const crossOrigin = to.origin !== from.origin;
    if (crossOrigin) {
      for (const name of CREDENTIAL_HEADERS) this.#userHeaders.delete(name);
      this.#requestCookies = undefined;
      this.#dropRequestAuth = true;
    }
    const toAuth = BasicAuth.fromUrl(to);
    if (toAuth) {
      this.#urlAuth = toAuth;
      this.#userHeaders.delete("authorization");
    } else if (crossOrigin) this.#urlAuth = undefined;
  }

  /** Stores the `Set-Cookie` values a response to `url` carried; a promise only when the jar gives one. */
  storeCookies(rawHeaders: Iterable<readonly [string, string]>, url: URL): void | Promise<void> {
    const values: string[] = [];
    for (const [name, value] of rawHeaders)
      if (name.length === 10 && name.toLowerCase() === "set-cookie") values.push(value);
    if (values.length === 0) return;
    return this.#config.cookieJar.updateCookiesFromHeaders(values, httpUrl(url));
  }

  /**
   * The proxy for one hop: the call's, else the session's, else (with `trustEnv`) the
   * environment's for the URL's scheme unless `NO_PROXY` names its host.
   */
  proxyFor(url: URL): ProxySettings | undefined {
    const input = this.#input;
    const cfg = this.#config;
    let proxy: string | URL | ProxySettings | null | undefined =
      input.proxy !== undefined ? input.proxy : cfg.proxy;
    if (proxy === null) return undefined;
    if (typeof proxy === "object" && !(proxy instanceof URL)) return proxy;
    if (proxy === undefined && cfg.trustEnv) proxy = proxyFromEnv(url);
    if (proxy === undefined) return undefined;
    const auth = (input.proxyAuth ?? cfg.proxyAuth)?.encode({
      method: "CONNECT",
      url: httpUrl(url),
      body: null,
    });
    const headers = input.proxyHeaders ? [...HeaderList.from(input.proxyHeaders)] : cfg.proxyHeaders;
    return proxySettings(proxy, auth || undefined, headers);
  }

  // ── internals ───────────────────────────────────────────────────────

  #finish(
    headers: HeaderList,
    method: string,
    url: URL,
    body: RequestBody | undefined,
    jar: CookiesToSend,
  ): HopDecision {
    this.#cookies(headers, url, jar);
    const auth = this.#authFor(url);
    const authRequest: AuthRequest = { method, url: httpUrl(url), body: body ? body.bytes : null };
    if (auth && !headers.has("authorization")) {
      const value = auth.encode(authRequest);
      if (value !== undefined && value !== "") headers.set("Authorization", value);
    }
    return { headers, auth, authRequest };
  }

  /** URL userinfo, else the call's auth, else the session's (for `baseUrl`'s origin only), else `.netrc`. */
  #authFor(url: URL): Auth | undefined {
    const cfg = this.#config;
    const origin = httpUrl(url).origin;
    const sessionOrigin = cfg.baseUrl?.origin;
    return (
      this.#urlAuth ??
      (this.#dropRequestAuth ? undefined : this.#requestAuth) ??
      (sessionOrigin === undefined || sessionOrigin === origin ? cfg.auth : undefined) ??
      this.#netrc(url)
    );
  }

  #netrc(url: URL): Auth | undefined {
    if (!this.#config.trustEnv) return undefined;
    const entry = netrcFor(url.hostname);
    return entry ? new BasicAuth(entry.login, entry.password) : undefined;
  }

  #autoHeaders(headers: HeaderList, method: string, body: RequestBody | undefined): void {
    const skip = this.#skip;
    const cfg = this.#config;
    if (!skip.has("accept") && !headers.has("accept")) headers.append("Accept", "*/*");
    if (!skip.has("accept-encoding") && !headers.has("accept-encoding"))
      headers.append("Accept-Encoding", cfg.acceptEncoding);
    if (!skip.has("user-agent") && !headers.has("user-agent")) headers.append("User-Agent", cfg.userAgent);
    if (!skip.has("content-type") && !headers.has("content-type")) {
      const type = body
        ? body.contentType
        : BODY_METHODS.has(method)
          ? "application/octet-stream"
          : undefined;
      if (type) headers.append("Content-Type", type);
    }
    if (
      !body &&
      LENGTH_METHODS.has(method) &&
      !headers.has("content-length") &&
      !headers.has("transfer-encoding")
    ) {
      headers.append("Content-Length", "0");
    }
  }

  /**
   * The jar's cookies for `url`, with the call's own laid over them by name, appended to a
   * `Cookie` header the caller gave (if any).
   */
  #cookies(headers: HeaderList, url: URL, jar: CookiesToSend): void {
    let found: CookiesToSend = jar;
    const own = this.#requestCookies;
    if (own !== undefined) {
      const merged = new Map<string, SendableCookie>(jar);
      const { quoteCookie } = this.#config.cookieJar;
      for (const [name, cookie] of requestCookies(own, httpUrl(url), { quoteCookie }))
        merged.set(name, cookie);
      found = merged;
    }
    if (found.size === 0) return;
    const ours = cookieHeader(found);
    const given = headers.get("cookie");
    headers.set("Cookie", given ? `${given}; ${ours}` : ours);
  }
}
