import { BasicAuth } from "@x/auth";
import { CookieJar } from "@x/cookies";
import { ClientHttpProxyError } from "@x/errors";
import { type EchoReply, echo, startHttpServer, startHttpsServer, startSquid } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

// Squid, Debian's caching proxy, as the session's proxy: an interop test, left out of mutation runs
// with the other daemon tests (it starts squid, about two seconds).
const json = async (r: { json(): Promise<unknown> }) => (await r.json()) as EchoReply;

describe("through squid", () => {
  it("http and https with basic auth; wrong credentials are 407 / ClientHttpProxyError", async () => {
    await using squid = await startSquid({ ada: "lovelace" });
    await using plain = await startHttpServer(echo);
    await using secure = await startHttpsServer(echo);
    await using session = new ClientSession({
      proxy: squid.origin,
      proxyAuth: new BasicAuth("ada", "lovelace"),
      cookieJar: new CookieJar({ unsafe: true }),
    });
    expect((await json(await session.get(plain.url("/p")))).url).toBe("/p");
    expect((await json(await session.get(secure.url("/s"), { ssl: { ca: secure.ca } }))).url).toBe("/s");
    await using wrong = new ClientSession({ proxy: squid.origin, proxyAuth: new BasicAuth("ada", "nope") });
    expect((await wrong.get(plain.url("/p"))).status).toBe(407);
    await expect(wrong.get(secure.url("/s"), { ssl: { ca: secure.ca } })).rejects.toBeInstanceOf(
      ClientHttpProxyError,
    );
  }, 30_000);
});
