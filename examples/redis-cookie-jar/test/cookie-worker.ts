// One worker process of the shared-login test: its own Redis client and a ClientSession whose
// cookie jar is a RedisCookieJar on the shared prefix. Commands come from the parent over IPC:
//   { id, path }  → answers { id, status, body, sent } (sent: the Cookie header the server saw)
//   { exit: true } → closes the session and the client, and exits.
import { ClientSession } from "@x/session";
import { createClient } from "redis";
import { RedisCookieJar } from "../src/index.js";

const [redisUrl = "", prefix = "", origin = ""] = process.argv.slice(2);
const client = createClient({ url: redisUrl, disableOfflineQueue: true });
client.on("error", () => {
  // Reported by the operation that failed.
});
await client.connect();
const session = new ClientSession({
  baseUrl: `${origin}/`,
  cookieJar: new RedisCookieJar({ client, prefix, unsafe: true }),
});

async function get(path: string) {
  const resp = await session.get(path.replace(/^\//, ""));
  return { status: resp.status, body: await resp.text(), sent: resp.requestInfo.headers.get("cookie") ?? "" };
}

process.on("message", (msg: { id?: number; path?: string; exit?: boolean }) => {
  if (msg.exit) {
    void session
      .close()
      .then(() => client.close())
      .finally(() => process.disconnect());
    return;
  }
  get(msg.path ?? "/").then(
    (reply) => process.send?.({ id: msg.id, ...reply }),
    (err: Error) => process.send?.({ id: msg.id, error: `${err.name}: ${err.message}` }),
  );
});
process.send?.({ ready: true });
