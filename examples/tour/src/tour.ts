// The tour of @x: `pnpm start` from the workspace root. It starts a server on 127.0.0.1 and walks
// through the library the way a newcomer would. Nothing here reaches the internet.
import { BasicAuth } from "@x/auth";
import { TCPConnector } from "@x/connector";
import { CookieJar } from "@x/cookies";
import { ClientConnectorError, ClientError, ClientResponseError } from "@x/errors";
import { ClientSession, WSMsgType } from "@x/session";
import { startTourServer } from "./server.js";

function section(title: string): void {
  console.log(`\n── ${title} ${"─".repeat(Math.max(0, 64 - title.length))}`);
}

const server = await startTourServer();
console.log(`embedded server at ${server.origin}`);

// One session for the whole program: it owns a connection pool and a cookie jar.
// The jar is `unsafe` because this server is an IP address, 127.0.0.1: the default CookieJar, like
// aiohttp's, drops cookies from IP-address hosts (the tour says so where cookies come in).
await using session = new ClientSession({
  baseUrl: `${server.origin}/`,
  cookieJar: new CookieJar({ unsafe: true }),
  connector: new TCPConnector({ limit: 10 }),
  timeout: { total: 10_000 },
});

section("GET with params");
{
  await using resp = await session.get("search", { params: { q: "aiohttp for node", page: 2 } });
  console.log(resp.status, resp.reason, resp.contentType);
  console.log(await resp.json());
}

section("POST json");
{
  await using resp = await session.post("echo", { json: { name: "ada", languages: ["en", "fr"] } });
  console.log(await resp.json());
}

section("cookies: set by the server, sent back automatically");
{
  console.log("(the jar is CookieJar({ unsafe: true }): the default jar, like aiohttp's, drops cookies");
  console.log(" from IP-address hosts such as 127.0.0.1, so a login to this server would not stick)");
  await using login = await session.post("login");
  console.log("Set-Cookie:", [...login.cookies.keys()].join(", "));
  await using who = await session.get("whoami");
  console.log("the server now sees:", await who.json());
  console.log("the jar holds", session.cookieJar.size, "cookies");
}

section("a redirect chain, with history");
{
  await using resp = await session.get("old");
  console.log(
    "landed on",
    resp.url.pathname,
    "after",
    resp.history.map((r) => `${r.status} ${r.url.pathname}`).join(" → "),
  );
}

section("basic auth");
{
  await using denied = await session.get("private");
  console.log("without credentials:", denied.status, await denied.text());
  await using allowed = await session.get("private", { auth: new BasicAuth("ada", "lovelace") });
  console.log("with BasicAuth:", allowed.status, await allowed.json());
}

section("a streamed download with progress");
{
  await using resp = await session.get("download");
  const total = resp.contentLength ?? 0;
  let done = 0;
  let shown = 0;
  for await (const chunk of resp.content) {
    done += chunk.length;
    const pct = Math.floor((done / total) * 100);
    if (pct >= shown + 25) {
      shown = pct;
      console.log(`  ${String(pct).padStart(3)} %  ${(done / 1024).toFixed(0)} KiB`);
    }
  }
}

section("errors, caught by class");
try {
  await session.get("broken", { raiseForStatus: true });
} catch (err) {
  if (err instanceof ClientResponseError)
    console.log(`ClientResponseError: status ${err.status} (${err.code})`);
}
try {
  await session.get("http://127.0.0.1:9/", { timeout: { total: 2000 } });
} catch (err) {
  if (err instanceof ClientConnectorError)
    console.log(`ClientConnectorError: ${err.host}:${err.port} ${err.osCode}`);
  console.log("…and every one of them is a ClientError:", err instanceof ClientError);
}

section("a websocket, through the same session");
{
  await using ws = await session.wsConnect("chat", { heartbeat: 5_000 });
  console.log("server:", await ws.receiveStr());
  for (const line of ["hello", "how are you?"]) {
    await ws.sendStr(line);
    console.log(`sent ${JSON.stringify(line)}, got ${JSON.stringify(await ws.receiveStr())}`);
  }
  await ws.sendStr("bye");
  const closing = await ws.receive();
  if (closing.type === WSMsgType.CLOSE) console.log(`server closed with ${closing.data} (${closing.extra})`);
}

section("the pool: connections are reused");
{
  const before = server.connections();
  for (let i = 0; i < 20; i++) {
    await using resp = await session.get("search", { params: { i } });
    await resp.read();
  }
  console.log(
    `20 more requests opened ${server.connections() - before} new connection(s);`,
    "pool:",
    (session.connector as TCPConnector).stats,
  );
}

await session.close();
await server.close();
console.log("\ndone.");
