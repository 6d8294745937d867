import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import {
  ClientConnectionError,
  ClientHttpProxyError,
  ConnectionTimeoutError,
  InvalidArgumentError,
  InvalidUrlClientError,
  NonHttpUrlClientError,
  type RequestInfo,
} from "@x/errors";
import { checkHeaderName, checkHeaderValue } from "./fields.js";

/**
 * A proxy to go through: its URL (`http:` or `https:`), the `Proxy-Authorization` value, and
 * headers for the proxy alone. Part of the pool key: connections are never shared across proxies
 * or proxy credentials.
 */
export interface ProxySettings {
  readonly url: URL;
  /** The `Proxy-Authorization` header value, e.g. `new BasicAuth(u, p).encode()`. */
  readonly authorization?: string | undefined;
  /** Headers sent to the proxy only (in CONNECT, or with absolute-form requests). */
  readonly headers?: ReadonlyArray<readonly [string, string]> | undefined;
}

/** Checks a proxy's settings, refusing anything that could inject headers. */
export function checkProxy(proxy: ProxySettings): void {
  if (!(proxy.url instanceof URL)) throw new InvalidArgumentError("proxy.url must be a URL");
  if (proxy.url.protocol !== "http:" && proxy.url.protocol !== "https:") {
    throw new InvalidArgumentError(
      `unsupported proxy scheme ${proxy.url.protocol} (expected http: or https:)`,
    );
  }
  if (proxy.authorization !== undefined)
    checkHeaderValue("Proxy-Authorization", proxy.authorization, "proxy");
  for (const [name, value] of proxy.headers ?? []) {
    checkHeaderName(name, "proxy header");
    checkHeaderValue(name, value, "proxy header");
  }
}

/** The proxy's part of a pool key: its origin and a digest of its credentials and headers. */
export function proxyId(proxy: ProxySettings): string {
  // JSON keeps no authorization (null) apart from an empty one (sent as an empty line); no headers
  // and an empty list send the same.
  const secret = createHash("sha256")
    .update(JSON.stringify([proxy.authorization, proxy.headers ?? []]))
    .digest("base64url")
    .slice(0, 16);
  return `${proxy.url.origin}#${secret}`;
}

/** Headers that go to the proxy: its own, then Proxy-Authorization. */
export function proxyHeaderLines(proxy: ProxySettings): string[] {
  const lines: string[] = [];
  for (const [name, value] of proxy.headers ?? []) {
    if (name.toLowerCase() !== "proxy-authorization" || proxy.authorization === undefined)
      lines.push(`${name}: ${value}`);
  }
  if (proxy.authorization !== undefined) lines.push(`Proxy-Authorization: ${proxy.authorization}`);
  return lines;
}

const MAX_HEAD = 64 * 1024;

/**
 * Asks the proxy on `socket` for a tunnel to `host:port` (HTTP CONNECT) and resolves with the same
 * socket once the proxy answers 2xx.
 * @throws {ClientHttpProxyError} when the proxy answers anything else (its status kept).
 */
export function openTunnel(
  socket: Socket,
  target: { host: string; port: number },
  proxy: ProxySettings,
  signal: AbortSignal,
  timeout: number | null,
): Promise<Socket> {
  const authority = `${target.host.includes(":") ? `[${target.host}]` : target.host}:${target.port}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`, ...proxyHeaderLines(proxy)];
  return new Promise<Socket>((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const done = (err?: Error) => {
      settled = true;
      clearTimeout(timer);
      socket.off("readable", onReadable);
      socket.off("error", onError);
      socket.off("close", onClose);
      signal.removeEventListener("abort", onAbort);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(socket);
    };
    const onAbort = () => done(signal.reason as Error);
    const onError = (err: Error) =>
      done(new ClientConnectionError(`proxy connection failed: ${err.message}`, { cause: err }));
    const onClose = () => done(new ClientConnectionError("the proxy closed the connection during CONNECT"));
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) {
        if (buffered.length > MAX_HEAD)
          done(new ClientConnectionError("the proxy's CONNECT response head is too large"));
        return;
      }
      const head = buffered.subarray(0, end).toString("latin1");
      const rest = buffered.subarray(end + 4);
      const [statusLine, ...headerLines] = head.split("\r\n") as [string, ...string[]];
      const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
      if (!m) {
        done(
          new ClientConnectionError(
            `the proxy sent an invalid CONNECT response: ${JSON.stringify(statusLine.slice(0, 80))}`,
          ),
        );
        return;
      }
      const status = Number(m[1]);
      if (status < 200 || status > 299) {
        const headers = new Headers();
        for (const line of headerLines) {
          const i = line.indexOf(":");
          if (i > 0) {
            try {
              headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
            } catch {
              // A header the Headers class refuses is dropped from the report, nothing else.
            }
          }
        }
        const sent = new Headers([["Host", authority]]);
        if (proxy.authorization !== undefined) sent.set("Proxy-Authorization", "<redacted>");
        const url = new URL(`${proxy.url.protocol}//${authority}`);
        const requestInfo: RequestInfo = { url, method: "CONNECT", headers: sent, realUrl: url };
        done(new ClientHttpProxyError(requestInfo, [], { status, message: m[2] ?? "", headers }));
        return;
      }
      socket.unshift(rest); // nothing for an empty rest
      done();
    };
    // Read with 'readable', not 'data': the bytes after the head go back with unshift() and wait,
    // the socket not flowing, for whoever reads the tunnel next.
    const onReadable = () => {
      while (!settled) {
        const chunk = socket.read() as Buffer | null;
        if (chunk === null) return;
        onData(chunk);
      }
    };
    socket.on("readable", onReadable);
    socket.once("error", onError);
    socket.once("close", onClose);
    signal.addEventListener("abort", onAbort); // done() takes it off again
    if (timeout !== null && timeout > 0) {
      timer = setTimeout(
        () =>
          done(
            new ConnectionTimeoutError(`CONNECT through the proxy timed out after ${timeout} ms`, {
              host: proxy.url.hostname,
            }),
          ),
        timeout,
      );
    }
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  });
}

/**
 * Checks a `proxy` option as aiohttp does, before any I/O: a `ProxySettings` as it is, else a
 * string or `URL` holding an absolute `http://` or `https://` URL (credentials in it become a
 * Basic `Proxy-Authorization`).
 * @throws {InvalidArgumentError} for anything that is not a string, a `URL` or `ProxySettings`.
 * @throws {InvalidUrlClientError} for a string that is not an absolute URL with a host.
 * @throws {NonHttpUrlClientError} for a scheme other than http and https (`socks5:`).
 */
export function proxyOption(
  proxy: unknown,
  what = "proxy",
  authorization?: string | undefined,
  headers?: ReadonlyArray<readonly [string, string]> | undefined,
): ProxySettings {
  if (
    typeof proxy === "object" &&
    proxy !== null &&
    !(proxy instanceof URL) &&
    (proxy as ProxySettings).url instanceof URL
  ) {
    checkProxy(proxy as ProxySettings);
    return proxy as ProxySettings;
  }
  if (typeof proxy !== "string" && !(proxy instanceof URL)) {
    throw new InvalidArgumentError(
      `${what} must be a URL (a string or a URL object), got ${proxy === null ? "null" : typeof proxy}`,
    );
  }
  const text = String(proxy);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\/[^/?#\s]/i.exec(text.trim())?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw new InvalidUrlClientError(text, `${what} must be an absolute http:// or https:// URL with a host`);
  }
  if (scheme !== "http" && scheme !== "https") {
    throw new NonHttpUrlClientError(
      text,
      `${what} must be an http:// or https:// proxy (${scheme}: is not supported)`,
    );
  }
  return proxySettings(text, authorization, headers);
}

/**
 * Makes {@link ProxySettings} from a proxy URL as users write it: credentials in the URL become
 * a Basic `Proxy-Authorization` and leave the URL; a URL without a scheme is `http://`.
 * @throws {InvalidArgumentError} for an unusable URL, or credentials given twice.
 */
export function proxySettings(
  proxy: string | URL,
  authorization?: string | undefined,
  headers?: ReadonlyArray<readonly [string, string]> | undefined,
): ProxySettings {
  const text = String(proxy);
  if (/[\r\n\0]/.test(text)) throw new InvalidArgumentError("the proxy URL must not contain CR, LF or NUL");
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch (err) {
    throw new InvalidArgumentError(`invalid proxy URL ${JSON.stringify(text)}`, { cause: err });
  }
  let auth = authorization;
  if (url.username || url.password) {
    if (auth !== undefined)
      throw new InvalidArgumentError("proxy credentials given both in the proxy URL and as proxyAuth");
    const user = decodeURIComponent(url.username);
    const pass = decodeURIComponent(url.password);
    auth = `Basic ${Buffer.from(`${user}:${pass}`, "latin1").toString("base64")}`;
    url = new URL(url.href);
    url.username = "";
    url.password = "";
  }
  const settings: ProxySettings = { url, authorization: auth, headers };
  checkProxy(settings);
  return settings;
}
