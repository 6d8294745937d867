import { request as httpRequest } from "node:http";
import type { Readable } from "node:stream";
import type { BaseConnector } from "@x/connector";
import { SocketTimeoutError } from "@x/errors";
import type { ClientRequest } from "./client-request.js";
import type { ResponseHandler } from "./response-handler.js";

/**
 * Sends a request with `Expect: 100-continue`: the head first, the body only after the server's
 * `100 Continue` (or never, if it answers with a final status). undici's HTTP/1.1 client has no
 * such mode, so this runs node:http over a connection taken from the connector — with its limits,
 * TLS and pinning — and closes that connection afterwards. The same handler sees the response.
 */
export async function sendWithExpectContinue(
  connector: BaseConnector,
  request: ClientRequest,
  headers: string[],
  handler: ResponseHandler,
): Promise<void> {
  const t = request.timeout;
  const conn = await connector.connect({
    url: request.url,
    ssl: request.ssl,
    serverHostname: request.serverHostname,
    proxy: request.proxy,
    timeout: { connect: t.connect, sockConnect: t.sockConnect },
  });
  const socket = conn.transport;
  if (!socket) {
    conn.close();
    throw new SocketTimeoutError("the connection closed before the request was sent");
  }
  handler.onConnection({ connection: conn, reused: false });
  // node:http adds no header of its own when given raw header pairs: Host and length are ours.
  const names = headers.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
  const head = names.includes("host") ? [...headers] : ["Host", request.url.host, ...headers];
  const bytes = request.body?.bytes;
  if (bytes && !names.includes("content-length") && !names.includes("transfer-encoding")) {
    head.push("Content-Length", String(bytes.length));
  }
  head.push("Expect", "100-continue");
  const req = httpRequest({
    method: request.method,
    path: request.rawTarget ?? `${request.url.pathname}${request.url.search}`,
    host: request.url.hostname,
    port: request.url.port,
    headers: head,
    createConnection: () => socket,
  });
  const done = () => conn.close();
  handler.onConnect((err?: Error) => {
    req.destroy(err);
    done();
  });
  req.on("error", (err) => {
    handler.onError(err);
    done();
  });
  req.on("continue", () => {
    const body = request.body?.take();
    if (body === null || body === undefined) req.end();
    else if (typeof body === "string" || Buffer.isBuffer(body)) req.end(body);
    else if (typeof Blob !== "undefined" && body instanceof Blob) {
      body.arrayBuffer().then(
        (b) => req.end(Buffer.from(b)),
        (err: Error) => req.destroy(err),
      );
    } else {
      (async () => {
        for await (const chunk of body as AsyncIterable<Uint8Array>) {
          if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
        }
        req.end();
      })().catch((err: Error) => req.destroy(err));
    }
  });
  req.on("response", (res) => {
    const raw = res.rawHeaders as unknown as Buffer[];
    const keepReading = handler.onHeaders(
      res.statusCode ?? 0,
      raw,
      () => res.resume(),
      res.statusMessage ?? "",
    );
    if (!keepReading) res.pause();
    res.on("data", (chunk: Buffer) => {
      if (!handler.onData(chunk)) res.pause();
    });
    res.on("end", () => {
      handler.onComplete();
      done();
    });
    (res as Readable).on("error", (err) => {
      handler.onError(err);
      done();
    });
  });
  // The head goes out now; the body waits for "continue".
  req.flushHeaders();
}
