// Use (b): an app on @x/session — a login with basic auth that sets a cookie and redirects, a
// page that needs the cookie, and a websocket through the same session.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { BasicAuth } from "@x/auth";
import { CookieJar } from "@x/cookies";
import { ClientSession } from "@x/session";
import { WebSocketServer } from "ws";

const server = createServer((req, res) => {
  if (req.method === "POST" && req.url === "/login") {
    const ok = req.headers.authorization === `Basic ${Buffer.from("ada:lovelace").toString("base64")}`;
    res.writeHead(ok ? 303 : 401, ok ? { "set-cookie": "sid=s1; Path=/; HttpOnly", location: "/me" } : {});
    res.end();
  } else if (req.url === "/me") {
    const user = req.headers.cookie === "sid=s1" ? "ada" : null;
    res.writeHead(user ? 200 : 403, { "content-type": "application/json" });
    res.end(JSON.stringify({ user }));
  } else {
    res.writeHead(404).end();
  }
});
const wss = new WebSocketServer({ server, path: "/ws" });
wss.on("connection", (ws, req) => {
  ws.on("message", (data) => ws.send(`${req.headers.cookie ?? "no cookie"}: ${data}`));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const session = new ClientSession({ baseUrl: `${origin}/`, cookieJar: new CookieJar({ unsafe: true }) });
try {
  const me = await session.post("login", { auth: new BasicAuth("ada", "lovelace") });
  assert.equal(me.status, 200);
  assert.deepEqual(
    me.history.map((r) => r.status),
    [303],
  );
  assert.deepEqual(await me.json(), { user: "ada" });
  const ws = await session.wsConnect(`${origin.replace("http", "ws")}/ws`);
  await ws.sendStr("hello");
  assert.equal(await ws.receiveStr(), "sid=s1: hello");
  await ws.close();
  const denied = await session.post("login", { auth: new BasicAuth("ada", "wrong") });
  assert.equal(denied.status, 401);
  console.log("session-app: login, cookie, redirect and websocket all worked");
} finally {
  await session.close();
  wss.close();
  server.close();
}
