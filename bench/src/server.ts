// The benchmark's loopback server, run in its own process so its CPU is not counted against the
// clients. Keep-alive, small body on "/", 1 MiB on "/big". Prints its port on stdout.
import { createServer } from "node:http";

const small = Buffer.from('{"hello":"world"}');
const big = Buffer.alloc(1024 * 1024, 97);

const server = createServer((req, res) => {
  const body = req.url === "/big" ? big : small;
  res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address && typeof address === "object") process.stdout.write(`${address.port}\n`);
});
process.on("disconnect", () => process.exit(0));
