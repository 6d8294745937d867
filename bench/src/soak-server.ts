// The soak's loopback server, in its own process so its sockets and memory are not the client's.
// Routes: /small, /big (1 MiB), /slow (answers after 300 ms), /reset (destroys the socket),
// /status/N, and /echo (POST). Counts connections: accepted, open now, most open at once; sends
// them over IPC when asked ("stats") and can reset the peak ("reset").
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

const small = Buffer.from('{"hello":"world"}');
const big = Buffer.alloc(1024 * 1024, 97);
const stats = { accepted: 0, open: 0, maxOpen: 0 };

function reply(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { "content-type": "application/octet-stream", "content-length": body.length });
  res.end(body);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? "/";
  if (url === "/slow") {
    const timer = setTimeout(() => reply(res, 200, small), 300);
    res.on("close", () => clearTimeout(timer));
  } else if (url === "/reset") {
    req.socket.destroy();
  } else if (url === "/echo") {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => reply(res, 200, Buffer.concat(chunks)));
  } else if (url.startsWith("/status/")) {
    reply(res, Number(url.slice(8)) || 500, small);
  } else if (url === "/big") {
    reply(res, 200, big);
  } else {
    reply(res, url === "/small" ? 200 : 404, small);
  }
}

const server = createServer(handle);
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.on("connection", (socket) => {
  stats.accepted++;
  stats.open++;
  stats.maxOpen = Math.max(stats.maxOpen, stats.open);
  socket.on("close", () => stats.open--);
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address && typeof address === "object") process.stdout.write(`${address.port}\n`);
});
process.on("message", (msg) => {
  if (msg === "reset") stats.maxOpen = stats.open;
  process.send?.({ ...stats });
});
process.on("disconnect", () => process.exit(0));
