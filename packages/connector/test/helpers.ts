import { type Dispatcher, request } from "undici";
import {
  type AbstractResolver,
  type AddressFamily,
  type ConnectorTrace,
  dispatchError,
  type ResolvedHost,
  type TCPConnector,
} from "../src/index.js";

/** A resolver over a fixed table that counts its lookups and can be slowed down. */
export class TableResolver implements AbstractResolver {
  readonly calls: string[] = [];
  closed = false;
  constructor(
    private readonly table: Record<string, string[]>,
    private readonly delayMs = 0,
  ) {}

  async resolve(host: string, port: number, family: AddressFamily): Promise<ResolvedHost[]> {
    this.calls.push(host);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const ips = this.table[host];
    if (!ips)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), {
        code: "ENOTFOUND",
        syscall: "getaddrinfo",
      });
    return ips
      .map((ip) => ({ hostname: host, host: ip, port, family: (ip.includes(":") ? 6 : 4) as 4 | 6 }))
      .filter((a) => family === 0 || a.family === family);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export { until } from "@x/fixtures";

/**
 * `undici.request` through `dispatcher`, body read as text; a failure is reported as `@x/errors`
 * the way `@x/session` reports it: `dispatchError` over what the connector handed undici (an
 * undici or system error, as undici's own `Agent` hands), with the peer, whether the response
 * head had arrived, and the request's info.
 */
export async function requestText(
  dispatcher: Dispatcher,
  url: string,
  opts: Record<string, unknown> = {},
): Promise<string> {
  return (await send(dispatcher, url, opts)).body;
}

/** {@link requestText} with the status too. */
export async function send(
  dispatcher: Dispatcher,
  url: string,
  opts: Record<string, unknown> = {},
): Promise<{ status: number; body: string }> {
  let headersReceived = false;
  try {
    const res = await request(url, { dispatcher, ...opts });
    headersReceived = true;
    return { status: res.statusCode, body: await res.body.text() };
  } catch (err) {
    // The caller's own abort reason comes back as it is (the session does the same).
    const signal = opts.signal as AbortSignal | undefined;
    if (signal?.aborted && err === signal.reason) throw err;
    const target = new URL(url);
    const headers = new Headers((opts.headers as Record<string, string> | undefined) ?? {});
    throw dispatchError(err, {
      host: target.hostname.replace(/^\[|\]$/g, ""),
      port: Number(target.port) || (target.protocol === "https:" ? 443 : 80),
      headersReceived,
      requestInfo: () => ({ url: target, method: String(opts.method ?? "GET"), headers, realUrl: target }),
    });
  }
}

/** A request through `dispatcher` with connector options, its body as text. */
export function go(
  dispatcher: TCPConnector,
  url: string,
  connectorOptions: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<string> {
  return request(url, { dispatcher, signal, connectorOptions } as never).then((r) => r.body.text());
}

/** A trace whose connection and DNS-cache events are noted, in order, as short words. */
export function recorder(): { events: string[]; trace: ConnectorTrace } {
  const events: string[] = [];
  return {
    events,
    trace: {
      onConnectionQueuedStart: () => events.push("queued-start"),
      onConnectionQueuedEnd: () => events.push("queued-end"),
      onConnectionCreateStart: () => events.push("create-start"),
      onConnectionCreateEnd: () => events.push("create-end"),
      onConnectionReuseconn: () => events.push("reuseconn"),
      onDnsCacheHit: (h) => events.push(`cache-hit ${h}`),
      onDnsCacheMiss: (h) => events.push(`cache-miss ${h}`),
    },
  };
}

export function refusal(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error("nothing was refused");
}
