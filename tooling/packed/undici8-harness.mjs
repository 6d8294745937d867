// Shared by undici8-connector.mjs and undici8-session.mjs (packed.mjs copies it next to them):
// the local origin server, a tiny forward proxy, and the reporter packed.mjs reads.
//
// Reporter protocol: one line per check, `@@check {"name","ok","detail"}`, then `@@done` once
// every check has run. packed.mjs prints each as its own line; a script that dies before
// `@@done` is reported as a crash with its output's tail.
import { createHash } from "node:crypto";
import { createServer, request as httpRequest } from "node:http";
import { connect } from "node:net";
import { gzipSync } from "node:zlib";

export const BASIC = `Basic ${Buffer.from("ada:lovelace").toString("base64")}`;
export const STREAM_CHUNKS = Array.from({ length: 5 }, (_, i) => `chunk ${i}\n`);

let failures = 0;
/** The running check's reject: an uncaught exception or unhandled rejection fails that check. */
let failCurrent = null;
const escaped = (kind) => (err) => {
  const wrapped = new CheckFailure(`${kind} (would crash the process): ${describe(err)}`, err);
  if (failCurrent) failCurrent(wrapped);
  else {
    failures++;
    report(`no ${kind} between checks`, false, withFrame(wrapped));
  }
};
process.on("uncaughtException", escaped("uncaught exception"));
process.on("unhandledRejection", escaped("unhandled rejection"));

/** A check's own verdict; `inner` is the error it is about (its @x frame is reported). */
export class CheckFailure extends Error {
  constructor(message, inner) {
    super(message);
    this.inner = inner;
  }
}

/** Runs one check (bounded by `ms`: $X_CHECK_MS, default 3000) and prints its line; never throws. */
export async function check(name, fn, ms = Number(process.env.X_CHECK_MS) || 3000) {
  let timer;
  try {
    const detail = await Promise.race([
      fn(),
      new Promise((_, reject) => {
        failCurrent = reject;
        timer = setTimeout(() => reject(new CheckFailure(`did not finish within ${ms} ms`)), ms);
      }),
    ]);
    report(name, true, typeof detail === "string" ? detail : "");
  } catch (err) {
    failures++;
    report(name, false, withFrame(err));
  } finally {
    clearTimeout(timer);
    failCurrent = null;
  }
}
function report(name, ok, detail) {
  console.log(`@@check ${JSON.stringify({ name, ok, detail: detail.replace(/\s+/g, " ").trim() })}`);
}
/** Ends the script: `@@done`, exit status 1 if any check failed. */
export function done() {
  console.log("@@done");
  process.exit(failures > 0 ? 1 : 0);
}

/** A failure in a form that says where it came from: `[undici] InvalidArgumentError (UND_…): …`. */
export function describe(err, depth = 0) {
  if (err instanceof CheckFailure) return err.message;
  if (!(err instanceof Error)) return `non-Error thrown: ${String(err)}`;
  const origin = err.code?.startsWith?.("UND_") ? "[undici] " : "";
  const code = err.code ? ` (${err.code})` : "";
  const own = `${origin}${err.name}${code}: ${err.message}`;
  return err.cause instanceof Error && depth < 2 ? `${own} ← cause: ${describe(err.cause, depth + 1)}` : own;
}

/** `describe(err)` plus the innermost-first @x stack frame it passed through, if any. */
function withFrame(err) {
  for (let e = err, i = 0; e instanceof Error && i < 4; e = e.inner ?? e.cause, i++) {
    const frame = String(e.stack ?? "")
      .split("\n")
      .find((line) => line.includes("/@x/"))
      ?.trim()
      .replace(/(?:file:\/\/)?\/\S*\/node_modules\//, "");
    if (frame) return `${describe(err)} — ${frame}`;
  }
  return describe(err);
}

/** Fails with a message naming what was expected and what came instead. */
export function expectEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new CheckFailure(`${what}: expected ${e}, got ${a}`);
}

/** A header's value from any of undici's header shapes (flat array, pairs, record, Headers). */
export function headerValue(headers, name) {
  const lower = name.toLowerCase();
  if (!headers) return undefined;
  if (typeof headers.get === "function") return headers.get(name) ?? undefined;
  if (Array.isArray(headers)) {
    if (Array.isArray(headers[0])) return headers.find(([k]) => String(k).toLowerCase() === lower)?.[1];
    for (let i = 0; i < headers.length; i += 2)
      if (String(headers[i]).toLowerCase() === lower) return String(headers[i + 1]);
    return undefined;
  }
  for (const [k, v] of Object.entries(headers))
    if (k.toLowerCase() === lower) return Array.isArray(v) ? v.join(", ") : String(v);
  return undefined;
}

/**
 * The origin server on 127.0.0.1, port 0. Routes:
 *   /hello…            200 "hello <path>"
 *   POST /echo         200 "echo: <request body>"
 *   /flaky?k=K         503, 503, then 200 "ok after 3 attempts" (counted per K)
 *   /redirect          302 → /target;  /target  200 "target reached"
 *   /host              200 <Host header>
 *   /status/404        404 "no such thing" (text/plain)
 *   /gzip              200 gzip("hello gzip"), Content-Encoding: gzip
 *   /cached?k=K        200 "hit N" (N counted per K), Cache-Control: max-age=60
 *   /set-cookie        200, Set-Cookie: sid=s1; Path=/
 *   /echo-cookie       200 <Cookie header or "none">
 *   /private           200 with Basic ada:lovelace, else 401
 *   /stream            200 chunked: STREAM_CHUNKS, 20 ms apart
 *   /slow              200 after 3 s (timeouts and aborts end it sooner)
 *   upgrade /ws        101, a real websocket handshake (so a silent private pool shows)
 */
export async function startOrigin() {
  const counts = new Map();
  const bump = (key) => {
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    return n;
  };
  const seen = [];
  const upgrades = [];
  const upgraded = new Set();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    seen.push(`${req.method} ${url.pathname}${url.search}`);
    const p = url.pathname;
    if (p.startsWith("/hello")) return res.end(`hello ${p}`);
    if (p === "/echo") {
      let body = "";
      for await (const chunk of req) body += chunk;
      return res.end(`echo: ${body}`);
    }
    if (p === "/flaky") {
      const n = bump(`flaky:${url.searchParams.get("k")}`);
      return n < 3 ? res.writeHead(503).end("busy") : res.end(`ok after ${n} attempts`);
    }
    if (p === "/redirect") return res.writeHead(302, { location: "/target" }).end();
    if (p === "/target") return res.end("target reached");
    if (p === "/host") return res.end(req.headers.host ?? "");
    if (p === "/status/404") return res.writeHead(404, { "content-type": "text/plain" }).end("no such thing");
    if (p === "/gzip") {
      return res
        .writeHead(200, { "content-encoding": "gzip", "content-type": "text/plain" })
        .end(gzipSync("hello gzip"));
    }
    if (p === "/cached") {
      const n = bump(`cached:${url.searchParams.get("k")}`);
      return res
        .writeHead(200, { "cache-control": "public, max-age=60", "content-type": "text/plain" })
        .end(`hit ${n}`);
    }
    if (p === "/set-cookie") return res.writeHead(200, { "set-cookie": "sid=s1; Path=/" }).end("set");
    if (p === "/echo-cookie") return res.end(req.headers.cookie ?? "none");
    if (p === "/private") return res.writeHead(req.headers.authorization === BASIC ? 200 : 401).end();
    if (p === "/stream") {
      res.writeHead(200, { "content-type": "text/plain" });
      for (const chunk of STREAM_CHUNKS) {
        if (res.destroyed) return;
        res.write(chunk);
        await new Promise((r) => setTimeout(r, 20));
      }
      return res.end();
    }
    if (p === "/slow") {
      const timer = setTimeout(() => res.end("late"), 3000);
      res.on("close", () => clearTimeout(timer));
      return;
    }
    res.writeHead(404).end();
  });
  server.on("upgrade", (req, socket) => {
    upgrades.push(req.url);
    const accept = createHash("sha1")
      .update(`${req.headers["sec-websocket-key"]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.on("error", () => {});
    socket.on("data", () => socket.destroy()); // the websocket's first frame ends it
    upgraded.add(socket);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = server.address().port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    counts,
    seen,
    upgrades,
    close() {
      for (const s of upgraded) s.destroy();
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * A forward proxy on 127.0.0.1, port 0 (the logic of tooling/fixtures/src/proxy-server.ts, in
 * plain JS): absolute-form requests are forwarded, CONNECT is tunnelled. `requests` lists what it
 * was asked, as "METHOD target".
 */
export async function startProxy() {
  const requests = [];
  const sockets = new Set();
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    let url;
    try {
      url = new URL(req.url);
    } catch {
      return res.writeHead(400).end("absolute-form required");
    }
    const headers = { ...req.headers };
    delete headers["proxy-authorization"];
    delete headers["proxy-connection"];
    const upstream = httpRequest(url, { method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.rawHeaders);
      up.pipe(res);
    });
    upstream.on("error", () => res.writeHead(502).end("bad gateway"));
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on("connect", (req, client, head) => {
    requests.push(`CONNECT ${req.url}`);
    client.on("error", () => {});
    const [host = "", port = "443"] = (req.url ?? "").split(/:(?=\d+$)/);
    const upstream = connect(Number(port), host.replace(/^\[|\]$/g, ""), () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.end("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"));
    client.on("close", () => upstream.destroy());
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
