import { channel } from "node:diagnostics_channel";
import type { ConnectorTrace } from "@x/connector";
import type { ClientResponse } from "./client-response.js";

/** A list of handlers for one trace signal (aiohttp's `Signal`): `push()` or `append()` to add one. */
export class Signal<P> extends Array<(session: unknown, context: object, params: P) => void | Promise<void>> {
  /** aiohttp's spelling of `push`. */
  append(handler: (session: unknown, context: object, params: P) => void | Promise<void>): void {
    this.push(handler);
  }

  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }
}

export interface TraceRequestStartParams {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
}
export interface TraceRequestEndParams extends TraceRequestStartParams {
  readonly response: ClientResponse;
}
export interface TraceRequestRedirectParams extends TraceRequestStartParams {
  readonly response: ClientResponse;
}
export interface TraceRequestExceptionParams extends TraceRequestStartParams {
  readonly exception: unknown;
}
export interface TraceRequestHeadersSentParams extends TraceRequestStartParams {}
export interface TraceRequestChunkSentParams {
  readonly method: string;
  readonly url: URL;
  readonly chunk: Buffer;
}
export interface TraceResponseChunkReceivedParams {
  readonly method: string;
  readonly url: URL;
  readonly chunk: Buffer;
}
export interface TraceDnsParams {
  readonly host: string;
}
/** Connection signals carry no parameters (aiohttp's are empty too). */
export type TraceConnectionParams = Record<string, never>;

/** Options of {@link TraceConfig}. */
export interface TraceConfigOptions {
  /** Makes each request's trace context from the request's `traceRequestCtx`; default: an empty object. */
  traceConfigCtx?: (traceRequestCtx: unknown) => object;
}

/**
 * aiohttp's `TraceConfig`: lists of handlers for the events of each request, each called as
 * `(session, context, params)`, where `context` is this config's per-request object.
 * Request-level handlers are awaited; connection, DNS and chunk handlers run without waiting.
 *
 * @example
 * const trace = new TraceConfig();
 * trace.onRequestStart.push((_s, ctx, p) => { (ctx as { t0: number }).t0 = performance.now(); });
 * trace.onRequestEnd.push((_s, ctx, p) => console.log(p.url.href, performance.now() - (ctx as { t0: number }).t0));
 * new ClientSession({ traceConfigs: [trace] });
 */
export class TraceConfig {
  readonly onRequestStart = new Signal<TraceRequestStartParams>();
  readonly onRequestEnd = new Signal<TraceRequestEndParams>();
  readonly onRequestException = new Signal<TraceRequestExceptionParams>();
  readonly onRequestRedirect = new Signal<TraceRequestRedirectParams>();
  readonly onRequestHeadersSent = new Signal<TraceRequestHeadersSentParams>();
  readonly onRequestChunkSent = new Signal<TraceRequestChunkSentParams>();
  readonly onResponseChunkReceived = new Signal<TraceResponseChunkReceivedParams>();
  readonly onConnectionQueuedStart = new Signal<TraceConnectionParams>();
  readonly onConnectionQueuedEnd = new Signal<TraceConnectionParams>();
  readonly onConnectionCreateStart = new Signal<TraceConnectionParams>();
  readonly onConnectionCreateEnd = new Signal<TraceConnectionParams>();
  readonly onConnectionReuseconn = new Signal<TraceConnectionParams>();
  readonly onDnsResolveHostStart = new Signal<TraceDnsParams>();
  readonly onDnsResolveHostEnd = new Signal<TraceDnsParams>();
  readonly onDnsCacheHit = new Signal<TraceDnsParams>();
  readonly onDnsCacheMiss = new Signal<TraceDnsParams>();
  readonly #makeContext: (traceRequestCtx: unknown) => object;

  constructor(options: TraceConfigOptions = {}) {
    this.#makeContext = options.traceConfigCtx ?? ((traceRequestCtx) => ({ traceRequestCtx }));
  }

  /** @internal A fresh context for one request. */
  makeContext(traceRequestCtx: unknown): object {
    return this.#makeContext(traceRequestCtx);
  }
}

/**
 * `diagnostics_channel` names the session publishes on (for APM tools), with the same params as
 * the TraceConfig signals plus `session`. Connection and DNS events are on `x:connector:*`.
 */
export const sessionChannels = {
  requestStart: channel("x:session:request-start"),
  requestEnd: channel("x:session:request-end"),
  requestException: channel("x:session:request-exception"),
  requestRedirect: channel("x:session:request-redirect"),
  requestHeadersSent: channel("x:session:request-headers-sent"),
  requestChunkSent: channel("x:session:request-chunk-sent"),
  responseChunkReceived: channel("x:session:response-chunk-received"),
} as const;

type SignalName = {
  [K in keyof TraceConfig]: TraceConfig[K] extends Signal<infer _P> ? K : never;
}[keyof TraceConfig];
type ParamsOf<K extends SignalName> = TraceConfig[K] extends Signal<infer P> ? P : never;

function report(err: unknown): void {
  process.emitWarning(`a trace handler failed: ${(err as Error)?.message ?? String(err)}`, {
    code: "X_TRACE_HANDLER",
  });
}

/** The traces of one request call: every config with its context. */
export class RequestTraces {
  readonly #session: unknown;
  readonly #entries: Array<{ config: TraceConfig; context: object }>;

  constructor(session: unknown, configs: readonly TraceConfig[], traceRequestCtx: unknown) {
    this.#session = session;
    this.#entries = configs.map((config) => ({ config, context: config.makeContext(traceRequestCtx) }));
  }

  /** Calls every handler of `name` in order and waits for each. */
  async send<K extends SignalName>(name: K, params: ParamsOf<K>): Promise<void> {
    for (const { config, context } of this.#entries) {
      for (const handler of config[name] as unknown as Array<
        (s: unknown, c: object, p: unknown) => unknown
      >) {
        await handler(this.#session, context, params);
      }
    }
  }

  /** Calls every handler of `name` without waiting; failures become warnings. */
  fire<K extends SignalName>(name: K, params: ParamsOf<K>): void {
    for (const { config, context } of this.#entries) {
      for (const handler of config[name] as unknown as Array<
        (s: unknown, c: object, p: unknown) => unknown
      >) {
        try {
          const out = handler(this.#session, context, params);
          if (out && typeof (out as Promise<void>).catch === "function") (out as Promise<void>).catch(report);
        } catch (err) {
          report(err);
        }
      }
    }
  }

  /** The connector's hooks, routed to the connection and DNS signals. */
  connectorTrace(): ConnectorTrace {
    const empty = {} as TraceConnectionParams;
    return {
      onConnectionQueuedStart: () => this.fire("onConnectionQueuedStart", empty),
      onConnectionQueuedEnd: () => this.fire("onConnectionQueuedEnd", empty),
      onConnectionCreateStart: () => this.fire("onConnectionCreateStart", empty),
      onConnectionCreateEnd: () => this.fire("onConnectionCreateEnd", empty),
      onConnectionReuseconn: () => this.fire("onConnectionReuseconn", empty),
      onDnsResolveHostStart: (host) => this.fire("onDnsResolveHostStart", { host }),
      onDnsResolveHostEnd: (host) => this.fire("onDnsResolveHostEnd", { host }),
      onDnsCacheHit: (host) => this.fire("onDnsCacheHit", { host }),
      onDnsCacheMiss: (host) => this.fire("onDnsCacheMiss", { host }),
    };
  }
}
