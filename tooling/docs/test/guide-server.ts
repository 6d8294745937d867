import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

/**
 * The one server every ```ts block of docs/*.md talks to (the guides say http://127.0.0.1:8080;
 * the test puts this server's origin in its place). Each path the guides use is listed here.
 */
export interface GuideServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Requests answered so far, by path. */
  readonly hits: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

const USERS = [
  { id: 1, name: "ada" },
  { id: 2, name: "grace" },
];
const BASIC = `Basic ${Buffer.from("ada:lovelace").toString("base64")}`;
const TOKEN = "Bearer s3cret";
const SESSION_COOKIE = "session=abc123";
/** The download: 1 MiB of a repeating pattern, so a saved file can be checked byte for byte. */
export const DOWNLOAD = Buffer.alloc(1024 * 1024, "0123456789abcdef");

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function json(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

/** Checks an RFC 7616 `Digest` answer (MD5, qop=auth) for ada:lovelace. */
function digestOk(header: string | undefined, method: string, nonce: string): boolean {
  if (!header?.startsWith("Digest ")) return false;
  const p: Record<string, string> = {};
  for (const m of header.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^\s,]+))/g))
    p[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? "";
  if (p.username !== "ada" || p.nonce !== nonce || p.qop !== "auth") return false;
  const ha1 = md5(`ada:${p.realm}:lovelace`);
  const ha2 = md5(`${method}:${p.uri}`);
  return p.response === md5(`${ha1}:${nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`);
}

export async function startGuideServer(): Promise<GuideServer> {
  const hits = new Map<string, number>();
  const nonce = randomBytes(12).toString("hex");
  const flaky = new Map<string, number>();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const body = await readBody(req);
    const cookie = req.headers.cookie ?? "";
    const user = /^\/users\/(\d+)$/.exec(path);
    if (path === "/users" && req.method === "GET") {
      json(res, 200, { page: Number(url.searchParams.get("page") ?? 1), users: USERS });
    } else if (path === "/users" && req.method === "POST") {
      let input: unknown;
      try {
        input = JSON.parse(body.toString("utf8"));
      } catch {
        json(res, 400, { error: "the body is not JSON" });
        return;
      }
      json(res, 201, { id: 3, ...(input as object) }, { location: "/users/3" });
    } else if (user) {
      const found = USERS.find((u) => u.id === Number(user[1]));
      if (found) json(res, 200, found);
      else json(res, 404, { error: `no user ${user[1]}` });
    } else if (path === "/echo") {
      // What the request carried: method, query, headers and body.
      json(res, 200, {
        method: req.method,
        path,
        query: url.search,
        args: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: body.toString("utf8"),
      });
    } else if (path === "/basic-auth") {
      if (req.headers.authorization === BASIC) json(res, 200, { user: "ada" });
      else json(res, 401, { error: "who are you?" }, { "www-authenticate": 'Basic realm="guide"' });
    } else if (path === "/bearer") {
      if (req.headers.authorization === TOKEN) json(res, 200, { token: "accepted" });
      else json(res, 401, { error: "bad token" }, { "www-authenticate": "Bearer" });
    } else if (path === "/digest-auth") {
      if (digestOk(req.headers.authorization, req.method ?? "GET", nonce)) json(res, 200, { user: "ada" });
      else
        json(
          res,
          401,
          { error: "digest needed" },
          { "www-authenticate": `Digest realm="guide", nonce="${nonce}", qop="auth", algorithm=MD5` },
        );
    } else if (path === "/slow") {
      // Answers after ?ms= milliseconds (default 2000); the body comes in one piece.
      const timer = setTimeout(
        () => json(res, 200, { slow: true }),
        Number(url.searchParams.get("ms") ?? 2000),
      );
      res.on("close", () => clearTimeout(timer));
    } else if (path === "/download") {
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": DOWNLOAD.length,
        "content-disposition": 'attachment; filename="data.bin"',
      });
      // In pieces, as a real download arrives.
      for (let at = 0; at < DOWNLOAD.length; at += 64 * 1024) {
        if (!res.write(DOWNLOAD.subarray(at, at + 64 * 1024)))
          await new Promise((resolve) => res.once("drain", resolve));
      }
      res.end();
    } else if (path === "/lines") {
      // Three lines cut in places that are not line ends: chunks are not lines.
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      for (const piece of ["first li", "ne\nsecond line\nthi", "rd line\n"]) {
        res.write(piece);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      res.end();
    } else if (path === "/login" && req.method === "POST") {
      json(res, 200, { loggedIn: true }, { "set-cookie": `${SESSION_COOKIE}; Path=/; HttpOnly` });
    } else if (path === "/me") {
      if (cookie.split(/;\s*/).includes(SESSION_COOKIE)) json(res, 200, { user: "ada" });
      else json(res, 401, { error: "not logged in" });
    } else if (path === "/cookies") {
      json(res, 200, { cookie });
    } else if (path === "/redirect") {
      // Two hops: /redirect → /redirect/2 → /users.
      res.writeHead(302, { location: "/redirect/2", "content-length": 0 }).end();
    } else if (path === "/redirect/2") {
      res.writeHead(301, { location: "/users", "content-length": 0 }).end();
    } else if (/^\/status\/\d{3}$/.test(path)) {
      const status = Number(path.slice(8));
      json(res, status, { error: `you asked for ${status}` });
    } else if (path === "/flaky") {
      // 503 twice, then 200, then again: a client that retries twice gets through.
      const n = (flaky.get(url.search) ?? 0) + 1;
      flaky.set(url.search, n % 3);
      if (n % 3 === 0) json(res, 200, { attempt: n });
      else json(res, 503, { error: "try again" }, { "retry-after": "0" });
    } else if (path === "/html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end("<!doctype html><title>not JSON</title>");
    } else {
      json(res, 404, { error: `no route for ${path}` });
    }
  });
  // The websocket path: echoes text and binary messages; "close" makes the server close with 1000.
  const wss = new WebSocketServer({ server, path: "/ws/echo" });
  wss.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => {
      if (!isBinary && String(data) === "close") ws.close(1000, "bye");
      else ws.send(data, { binary: isBinary });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    hits,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
