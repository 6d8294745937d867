import { ClientHttpProxyError } from "@x/errors";
import { startHttpServer, startHttpsServer, startSquid } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { type ProxySettings, TCPConnector } from "../src/index.js";
import { send } from "./helpers.js";

// Squid, Debian's caching proxy, as the proxy: an interop test, left out of mutation runs with the
// other daemon tests (it starts squid, about two seconds).
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;
const get = (connector: TCPConnector, url: string, proxy: ProxySettings) =>
  send(connector, url, { connectorOptions: { proxy } });

describe("through squid (Debian's caching proxy)", () => {
  it("http, https via CONNECT, and basic auth right and wrong", async () => {
    await using squid = await startSquid({ ada: "lovelace" });
    await using plain = await startHttpServer((_req, res) => res.end("plain through squid"));
    await using secure = await startHttpsServer((_req, res) => res.end("tls through squid"));
    await using connector = new TCPConnector({ ssl: { ca: secure.ca } });
    const good = { url: new URL(squid.origin), authorization: basic("ada", "lovelace") };
    const bad = { url: new URL(squid.origin), authorization: basic("ada", "nope") };
    expect(await get(connector, plain.url("/"), good)).toEqual({ status: 200, body: "plain through squid" });
    expect(await get(connector, secure.url("/"), good)).toEqual({ status: 200, body: "tls through squid" });
    expect((await get(connector, plain.url("/"), bad)).status).toBe(407);
    const err = await get(connector, secure.url("/"), bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientHttpProxyError);
    expect((err as ClientHttpProxyError).status).toBe(407);
  }, 30_000);
});
