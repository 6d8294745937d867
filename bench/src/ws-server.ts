// The websocket benchmark's echo server, in its own process. Prints its port.
import { WebSocketServer } from "ws";

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, maxPayload: 0 });
wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
wss.on("listening", () => {
  const address = wss.address();
  if (address && typeof address === "object") process.stdout.write(`${address.port}\n`);
});
process.on("disconnect", () => process.exit(0));
