// The server the packages' README examples talk to (they say 127.0.0.1:8080; the runner puts this
// server's port in their place). Prints its port, then serves until stdin closes.
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const basic = `Basic ${Buffer.from("ada:lovelace").toString("base64")}`;
const server = createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname.startsWith("/item/")) {
    res.end(`item ${url.pathname.slice(6)}`);
  } else if (url.pathname === "/private") {
    res.writeHead(req.headers.authorization === basic ? 200 : 401).end();
  } else if (url.pathname === "/api/users") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ page: Number(url.searchParams.get("page")), users: ["ada", "grace"] }));
  } else {
    res.writeHead(404).end();
  }
});
const wss = new WebSocketServer({ server, path: "/chat" });
wss.on("connection", (ws) => {
  ws.on("message", (data) => {
    const event = JSON.parse(String(data));
    if (event.type === "join") {
      ws.send(JSON.stringify({ type: "message", from: "bot", text: `welcome, ${event.nick}` }));
      ws.send(JSON.stringify({ type: "message", from: "bot", text: "/quit" }));
    }
  });
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
