import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { TCPConnector } from "@x/connector";
import { ClientConnectorError } from "@x/errors";
import { closedPort, readBody, startHttpServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession, sessionChannels, TraceConfig } from "../src/index.js";

// A resolver for svc.test, so the DNS signals have a name to report.
const resolver = {
  resolve: async (hostname: string, port: number) => [
    { hostname, host: "127.0.0.1", port, family: 4 as const },
  ],
  close: async () => {},
};

/** A server: /start answers 307 to /final (the body follows it), /final echoes the body back after a moment. */
async function server() {
  return startHttpServer(async (req, res) => {
    const body = await readBody(req);
    if (req.url === "/start") {
      res.writeHead(307, { location: "/final", "content-length": "0" }).end();
      return;
    }
    setTimeout(() => res.end(`got ${body}`), 10);
  });
}

type Params = Record<string, unknown>;
const describeParams = (p: Params): string =>
  Object.entries(p)
    .map(([k, v]) => {
      if (v instanceof URL) return `${k}=${v.pathname}`;
      if (v instanceof Headers) return `${k}=${v.get("x-trace") ?? "-"}`;
      if (Buffer.isBuffer(v)) return `${k}=${String(v)}`;
      if (v instanceof Error) return `${k}=${v.name}`;
      if (v && typeof v === "object" && "status" in v) return `${k}=${(v as { status: number }).status}`;
      return `${k}=${String(v)}`;
    })
    .join(" ");

describe("TraceConfig", () => {
  it("sends every signal, with its params, to every config, in aiohttp's order", async () => {
    await using srv = await server();
    const events: string[] = [];
    const first = new TraceConfig({ traceConfigCtx: (ctx) => ({ tag: `first ${String(ctx)}` }) });
    const second = new TraceConfig();
    const names = Object.keys(first).filter((k) => k.startsWith("on")) as (keyof TraceConfig)[];
    expect(names).toHaveLength(16);
    for (const name of names) {
      (first[name] as unknown as Array<unknown>).push((session: unknown, ctx: { tag: string }, p: Params) => {
        const who = session === traced ? "" : session === forced ? "" : "another session ";
        events.push(`${who}${ctx.tag} ${name} ${describeParams(p)}`.trim());
      });
    }
    second.onRequestStart.append((_s, ctx) => {
      events.push(`second onRequestStart ${JSON.stringify(ctx)}`);
    });
    const connector = new TCPConnector({ resolver, limit: 1 });
    await using traced = new ClientSession({ traceConfigs: [first, second], connector });
    const url = `http://svc.test:${srv.port}`;
    const resp = await traced.post(`${url}/start`, {
      data: "hi",
      headers: { "X-Trace": "t1" },
      traceRequestCtx: "ctx-1",
    });
    expect(await resp.text()).toBe("got hi");
    expect(events).toEqual([
      "first ctx-1 onRequestStart method=POST url=/start headers=t1",
      'second onRequestStart {"traceRequestCtx":"ctx-1"}',
      "first ctx-1 onConnectionCreateStart",
      "first ctx-1 onDnsCacheMiss host=svc.test",
      "first ctx-1 onDnsResolveHostStart host=svc.test",
      "first ctx-1 onDnsResolveHostEnd host=svc.test",
      "first ctx-1 onConnectionCreateEnd",
      "first ctx-1 onRequestHeadersSent method=POST url=/start headers=t1",
      "first ctx-1 onRequestChunkSent method=POST url=/start chunk=hi",
      "first ctx-1 onRequestRedirect method=POST url=/start headers=t1 response=307",
      "first ctx-1 onConnectionReuseconn",
      "first ctx-1 onRequestHeadersSent method=POST url=/final headers=t1",
      "first ctx-1 onRequestChunkSent method=POST url=/final chunk=hi",
      "first ctx-1 onResponseChunkReceived method=POST url=/final chunk=got hi",
      "first ctx-1 onRequestEnd method=POST url=/start headers=t1 response=200",
    ]);

    // With the one connection busy, a second request waits for it; a new connection to the same
    // host is answered from the DNS cache.
    events.length = 0;
    const busy = traced.get(`${url}/final`, { traceRequestCtx: "busy" });
    const queued = traced.get(`${url}/final`, { traceRequestCtx: "queued" });
    await Promise.all([(await busy).text(), (await queued).text()]);
    expect(events.filter((e) => e.startsWith("first queued onConnection"))).toEqual([
      "first queued onConnectionQueuedStart",
      "first queued onConnectionQueuedEnd",
      "first queued onConnectionReuseconn",
    ]);
    events.length = 0;
    await using forced = new ClientSession({
      traceConfigs: [first],
      connector: new TCPConnector({ resolver, forceClose: true }),
    });
    await (await forced.get(`${url}/final`, { traceRequestCtx: "c" })).text();
    await (await forced.get(`${url}/final`, { traceRequestCtx: "d" })).text();
    expect(events.filter((e) => e.startsWith("first d onDns"))).toEqual([
      "first d onDnsCacheHit host=svc.test",
    ]);
  });

  it("sends onRequestException with the error, and a failing connection handler becomes a warning", async () => {
    const port = await closedPort();
    const trace = new TraceConfig();
    const seen: string[] = [];
    trace.onRequestException.append((_s, _c, p) => {
      seen.push(describeParams(p as unknown as Params));
    });
    trace.onConnectionCreateStart.append(() => {
      throw new Error("handler broke");
    });
    trace.onConnectionCreateEnd.append(async () => {
      throw new Error("async handler broke");
    });
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(`${w.code} ${w.message}`);
    process.on("warning", onWarning);
    try {
      await using session = new ClientSession({ traceConfigs: [trace] });
      const err = await session
        .get(`http://127.0.0.1:${port}/x`, { headers: { "X-Trace": "e" } })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClientConnectorError);
      expect(seen).toEqual(["method=GET url=/x headers=e exception=ClientConnectorError"]);
      await using srv = await server();
      await (await session.get(srv.url("/final"))).text();
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).toEqual([
      "X_TRACE_HANDLER a trace handler failed: handler broke",
      "X_TRACE_HANDLER a trace handler failed: handler broke",
      "X_TRACE_HANDLER a trace handler failed: async handler broke",
    ]);
  });

  it("takes any value a handler returns, and names whatever it throws", async () => {
    const trace = new TraceConfig();
    const calls: string[] = [];
    trace.onConnectionCreateStart.append(() => {
      calls.push("undefined");
    });
    trace.onConnectionCreateStart.append((() => {
      calls.push("number");
      return 5;
    }) as () => void);
    trace.onConnectionCreateStart.append((() => {
      calls.push("object");
      return { catch: "not a function" };
    }) as () => void);
    trace.onConnectionCreateEnd.append(() => {
      throw null;
    });
    trace.onConnectionCreateEnd.append(() => {
      throw "plain words";
    });
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(`${w.code} ${w.message}`);
    process.on("warning", onWarning);
    try {
      await using srv = await server();
      await using session = new ClientSession({ traceConfigs: [trace] });
      expect((await session.get(srv.url("/any"))).status).toBe(200);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", onWarning);
    }
    expect(calls).toEqual(["undefined", "number", "object"]);
    expect(warnings).toEqual([
      "X_TRACE_HANDLER a trace handler failed: null",
      "X_TRACE_HANDLER a trace handler failed: plain words",
    ]);
  });
});

describe("diagnostics_channel", () => {
  it("publishes each request event with the session and the same params", async () => {
    await using srv = await server();
    const seen: string[] = [];
    const listeners = Object.entries(sessionChannels).map(([name, ch]) => {
      const fn = (m: unknown) => {
        const { session, ...rest } = m as Params;
        seen.push(`${name} ${session === traced ? "session" : "?"} ${describeParams(rest)}`);
      };
      subscribe(ch.name, fn);
      return [ch.name, fn] as const;
    });
    const port = await closedPort();
    await using traced = new ClientSession();
    try {
      const resp = await traced.post(srv.url("/start"), { data: "yo", headers: { "X-Trace": "dc" } });
      expect(await resp.text()).toBe("got yo");
      await traced.get(`http://127.0.0.1:${port}/gone`).catch(() => {});
    } finally {
      for (const [name, fn] of listeners) unsubscribe(name, fn);
    }
    expect(seen).toEqual([
      "requestStart session method=POST url=/start headers=dc",
      "requestHeadersSent session method=POST url=/start headers=dc",
      "requestChunkSent session method=POST url=/start chunk=yo",
      "requestRedirect session method=POST url=/start headers=dc response=307",
      "requestHeadersSent session method=POST url=/final headers=dc",
      "requestChunkSent session method=POST url=/final chunk=yo",
      "responseChunkReceived session method=POST url=/final chunk=got yo",
      "requestEnd session method=POST url=/start headers=dc response=200",
      "requestStart session method=GET url=/gone headers=-",
      "requestException session method=GET url=/gone headers=- exception=ClientConnectorError",
    ]);
  });
});
