// Use (a): only @x/connector installed (with @x/errors, its one @x dependency). Node's own fetch,
// pooled through TCPConnector({ limit: 2 }): 20 concurrent requests, at most 2 connections.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { TCPConnector } from "@x/connector";

let open = 0;
let maxOpen = 0;
let accepted = 0;
const server = createServer((req, res) => setTimeout(() => res.end(`item ${req.url}`), 20));
server.on("connection", (socket) => {
  accepted++;
  maxOpen = Math.max(maxOpen, ++open);
  socket.on("close", () => open--);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const connector = new TCPConnector({ limit: 2 });
try {
  const urls = Array.from({ length: 20 }, (_, i) => `http://127.0.0.1:${server.address().port}/item/${i}`);
  const bodies = await Promise.all(
    urls.map((u) => fetch(u, { dispatcher: connector }).then((r) => r.text())),
  );
  for (const [i, body] of bodies.entries()) assert.equal(body, `item /item/${i}`);
  assert.ok(maxOpen <= 2, `the server saw ${maxOpen} connections at once`);
  console.log(`connector-only: 20 requests, ${accepted} connections accepted, at most ${maxOpen} open`);
} finally {
  await connector.close();
  server.close();
}
