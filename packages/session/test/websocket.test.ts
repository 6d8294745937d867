import { BasicAuth } from "@x/auth";
import { TCPConnector } from "@x/connector";
import { CookieJar } from "@x/cookies";
import { ClientStateError, WSServerHandshakeError } from "@x/errors";
import { startWsServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession, WSMsgType } from "../src/index.js";

describe("session.wsConnect", () => {
  it("sends the session's headers, cookies and auth, and stores cookies the handshake sets", async () => {
    await using srv = await startWsServer({
      onConnection: (ws) => ws.send("welcome"),
    });
    srv.wss.on("headers", (headers) => headers.push("Set-Cookie: wsid=42; Path=/"));
    await using session = new ClientSession({
      baseUrl: srv.url("/").replace("ws:", "http:"),
      headers: { "X-Session": "s", "X-Both": "session" },
      auth: new BasicAuth("ada", "pw"),
      cookieJar: new CookieJar({ unsafe: true }),
      cookies: { pref: "1" },
    });
    await using ws = await session.wsConnect("chat", { headers: { "X-Both": "request" } });
    expect(await ws.receiveStr()).toBe("welcome");
    const req = srv.upgrades[0]!;
    expect(req.url).toBe("/chat");
    expect(req.headers["x-session"]).toBe("s");
    expect(req.headers["x-both"]).toBe("request");
    expect(req.headers.cookie).toBe("pref=1");
    expect(req.headers.authorization).toBe(new BasicAuth("ada", "pw").encode());
    expect(session.cookieJar.filterCookies(srv.url("/").replace("ws:", "http:")).get("wsid")?.value).toBe(
      "42",
    );
  });

  it("counts the websocket against the session connector's limit", async () => {
    await using srv = await startWsServer();
    await using session = new ClientSession({ connector: new TCPConnector({ limit: 2 }) });
    const a = await session.wsConnect(srv.url("/"));
    const b = await session.wsConnect(srv.url("/"));
    expect((session.connector as TCPConnector).stats.acquired).toBe(2);
    await a.close();
    await b.close();
    expect((session.connector as TCPConnector).stats.acquired).toBe(0);
  });

  it("is refused on a closed session and reports handshake failures", async () => {
    await using srv = await startWsServer();
    const session = new ClientSession();
    const http = await (await import("@x/fixtures")).startHttpServer((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    await expect(session.wsConnect(http.url("/"))).rejects.toBeInstanceOf(WSServerHandshakeError);
    await http.close();
    await session.close();
    await expect(session.wsConnect(srv.url("/"))).rejects.toBeInstanceOf(ClientStateError);
  });

  it("round-trips messages and closes cleanly", async () => {
    await using srv = await startWsServer();
    await using session = new ClientSession();
    await using ws = await session.wsConnect(srv.url("/echo"), { heartbeat: 1000 });
    await ws.sendJson({ n: 1 });
    expect(await ws.receiveJson()).toEqual({ n: 1 });
    await ws.close();
    expect((await ws.receive()).type).toBe(WSMsgType.CLOSED);
  });
});
