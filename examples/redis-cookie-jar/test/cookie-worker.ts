// One worker process of the shared-login test: its own Redis client and RedisCookieJar on the
// shared prefix, and a session-less HTTP flow on undici.request — ask the jar for the Cookie
// header, send, store the Set-Cookie values. Commands come from the parent over IPC:
//   { id, path }  → answers { id, status, body, sent } (sent: the Cookie header it sent, or "")
//   { exit: true } → closes the client and exits.
import { cookieHeader } from "@x/cookies";
import { createClient } from "redis";
import { request } from "undici";
import { RedisCookieJar } from "../src/index.js";

const [redisUrl = "", prefix = "", origin = ""] = process.argv.slice(2);
const client = createClient({ url: redisUrl, disableOfflineQueue: true });
client.on("error", () => {
  // Reported by the operation that failed.
});
await client.connect();
const jar = new RedisCookieJar({ client, prefix, unsafe: true });

async function get(path: string) {
  const url = new URL(path, origin);
  const sent = cookieHeader(await jar.filterCookies(url));
  const res = await request(url, { headers: sent ? { cookie: sent } : {} });
  const setCookie = res.headers["set-cookie"];
  const values = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  await jar.updateCookiesFromHeaders(values, url);
  return { status: res.statusCode, body: await res.body.text(), sent };
}

process.on("message", (msg: { id?: number; path?: string; exit?: boolean }) => {
  if (msg.exit) {
    void client.close().finally(() => process.disconnect());
    return;
  }
  get(msg.path ?? "/").then(
    (reply) => process.send?.({ id: msg.id, ...reply }),
    (err: Error) => process.send?.({ id: msg.id, error: `${err.name}: ${err.message}` }),
  );
});
process.send?.({ ready: true });
