// The tour's embedded server: plain node:http on 127.0.0.1, nothing from the internet.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocketServer } from "ws";

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

export interface TourServer {
  origin: string;
  /** Sockets the server accepted: shows the client's connection reuse. */
  connections(): number;
  close(): Promise<void>;
  server: Server;
}

export async function startTourServer(): Promise<TourServer> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://tour");
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    switch (url.pathname) {
      case "/search":
        return json(200, {
          query: Object.fromEntries(url.searchParams),
          userAgent: req.headers["user-agent"],
        });
      case "/echo":
        return json(200, {
          received: JSON.parse((await body(req)) || "null"),
          contentType: req.headers["content-type"],
        });
      case "/login":
        res.setHeader("set-cookie", ["session=abc123; Path=/; HttpOnly", "theme=dark; Path=/"]);
        return json(200, { loggedIn: true });
      case "/whoami":
        return json(200, { cookie: req.headers.cookie ?? null });
      case "/old":
        res.writeHead(301, { location: "/moved" }).end();
        return;
      case "/moved":
        res.writeHead(302, { location: "/final" }).end();
        return;
      case "/final":
        return json(200, { arrived: true });
      case "/private": {
        const expected = `Basic ${Buffer.from("ada:lovelace").toString("base64")}`;
        if (req.headers.authorization !== expected) {
          res.writeHead(401, { "www-authenticate": 'Basic realm="tour"' }).end("who are you?");
          return;
        }
        return json(200, { secret: "the analytical engine" });
      }
      case "/download": {
        const size = 4 * 1024 * 1024;
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": size });
        const chunk = Buffer.alloc(256 * 1024, 120);
        for (let sent = 0; sent < size; sent += chunk.length) {
          if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
        }
        res.end();
        return;
      }
      case "/broken":
        res.writeHead(503).end("try later");
        return;
      default:
        res.writeHead(404).end("not found");
    }
  });
  // The websocket side: /chat echoes each message back in upper case, and says goodbye on "bye".
  const wss = new WebSocketServer({ server, path: "/chat" });
  wss.on("connection", (ws) => {
    ws.send("welcome to the tour chat");
    ws.on("message", (data) => {
      const text = String(data);
      if (text === "bye") ws.close(1000, "see you");
      else ws.send(text.toUpperCase());
    });
  });
  server.on("connection", (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    connections: () => connections,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        wss.close();
        server.close(() => resolve());
      }),
  };
}
