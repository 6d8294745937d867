import {
  ClientConnectorCertificateError,
  ClientHttpProxyError,
  ClientProxyConnectionError,
  InvalidArgumentError,
} from "@x/errors";
import { closedPort, readBody, startHttpServer, startHttpsServer, startProxyServer } from "@x/fixtures";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { type ProxySettings, TCPConnector, UnixConnector } from "../src/index.js";
import { send } from "./helpers.js";

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;

async function get(
  connector: TCPConnector,
  url: string,
  proxy: ProxySettings,
  extra: Record<string, unknown> = {},
) {
  return send(connector, url, { connectorOptions: { proxy, ...extra } });
}

describe("through a proxy", () => {
  it("sends plain-http requests in absolute form with the proxy's headers, which the target never sees", async () => {
    const seen: Array<Record<string, unknown>> = [];
    await using target = await startHttpServer((req, res) => {
      seen.push({ url: req.url, headers: req.headers });
      res.end("hello via proxy");
    });
    await using proxy = await startProxyServer({ auth: { user: "u", password: "p" } });
    await using connector = new TCPConnector();
    const settings = {
      url: new URL(proxy.origin),
      authorization: basic("u", "p"),
      headers: [["X-Proxy-Only", "1"]] as [string, string][],
    };
    expect(await get(connector, target.url("/a?b=1"), settings)).toEqual({
      status: 200,
      body: "hello via proxy",
    });
    expect(await get(connector, target.url("/again"), settings)).toMatchObject({ status: 200 });
    expect(proxy.requests[0]).toMatchObject({ method: "GET", target: target.url("/a?b=1") });
    expect(proxy.requests[0]?.headers["proxy-authorization"]).toBe(basic("u", "p"));
    expect(proxy.requests[0]?.headers["x-proxy-only"]).toBe("1");
    expect(proxy.requests[0]?.headers.host).toBe(`127.0.0.1:${target.port}`);
    expect(seen[0]?.url).toBe("/a?b=1");
    expect((seen[0]!.headers as Record<string, unknown>)["proxy-authorization"]).toBeUndefined();
    expect(proxy.stats.accepted).toBe(1);
  });

  it("tunnels https with CONNECT and verifies the target's certificate through it", async () => {
    await using target = await startHttpsServer(async (req, res) => {
      await readBody(req);
      res.end(`secure ${req.headers["proxy-authorization"] ?? "no proxy auth"}`);
    });
    await using proxy = await startProxyServer({ auth: { user: "u", password: "p" } });
    await using connector = new TCPConnector({ ssl: { ca: target.ca } });
    const settings = { url: new URL(proxy.origin), authorization: basic("u", "p") };
    expect(await get(connector, target.url("/s"), settings)).toEqual({
      status: 200,
      body: "secure no proxy auth",
    });
    expect(proxy.requests[0]).toMatchObject({ method: "CONNECT", target: `127.0.0.1:${target.port}` });
    expect(proxy.requests[0]?.headers["proxy-authorization"]).toBe(basic("u", "p"));
    await using strict = new TCPConnector();
    await expect(get(strict, target.url("/s"), settings)).rejects.toBeInstanceOf(
      ClientConnectorCertificateError,
    );
  });

  it("reports a refused CONNECT as ClientHttpProxyError with the status, and redacts credentials", async () => {
    await using proxy = await startProxyServer({ auth: { user: "u", password: "p" } });
    await using connector = new TCPConnector({ ssl: false });
    const err = await get(connector, "https://127.0.0.1:9/", {
      url: new URL(proxy.origin),
      authorization: basic("u", "wrong"),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientHttpProxyError);
    expect((err as ClientHttpProxyError).status).toBe(407);
    expect((err as ClientHttpProxyError).requestInfo.method).toBe("CONNECT");
    expect((err as ClientHttpProxyError).requestInfo.headers.get("proxy-authorization")).toBe("<redacted>");
    await using refusing = await startProxyServer({ connectStatus: 403 });
    const err2 = await get(connector, "https://127.0.0.1:9/", { url: new URL(refusing.origin) }).catch(
      (e: unknown) => e,
    );
    expect((err2 as ClientHttpProxyError).status).toBe(403);
  });

  it("reports an unreachable proxy as ClientProxyConnectionError naming the proxy", async () => {
    const port = await closedPort();
    await using connector = new TCPConnector();
    const err = await get(connector, "http://127.0.0.1:9/", {
      url: new URL(`http://127.0.0.1:${port}`),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientProxyConnectionError);
    expect((err as ClientProxyConnectionError).port).toBe(port);
    expect((err as ClientProxyConnectionError).osCode).toBe("ECONNREFUSED");
  });

  it("never shares a connection across proxies, proxy credentials, or with direct requests", async () => {
    await using target = await startHttpServer((_req, res) => res.end("x"));
    await using p1 = await startProxyServer();
    await using p2 = await startProxyServer();
    await using connector = new TCPConnector();
    await get(connector, target.url(), { url: new URL(p1.origin) });
    await get(connector, target.url(), { url: new URL(p2.origin) });
    await get(connector, target.url(), { url: new URL(p1.origin), authorization: basic("a", "b") });
    await (await request(target.url(), { dispatcher: connector })).body.text();
    expect([p1.stats.accepted, p2.stats.accepted]).toEqual([2, 1]);
    expect(connector.stats.idle).toBe(4);
  });

  it("gives a raw tunnel from connect(), even for plain http (what websockets need)", async () => {
    await using target = await startHttpServer((req, res) => res.end(`raw ${req.url}`));
    await using proxy = await startProxyServer();
    await using connector = new TCPConnector();
    const conn = await connector.connect({ url: target.url("/"), proxy: { url: new URL(proxy.origin) } });
    const socket = conn.transport!;
    const reply = new Promise<string>((r) => socket.once("data", (d: Buffer) => r(d.toString())));
    socket.write(`GET /tunnelled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(await reply).toContain("raw /tunnelled");
    expect(proxy.requests[0]?.method).toBe("CONNECT");
    conn.close();
  });

  it("refuses proxies it cannot use", async () => {
    await using connector = new TCPConnector();
    await expect(
      get(connector, "http://127.0.0.1:9/", { url: new URL("socks5://127.0.0.1:1080") }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      get(connector, "http://127.0.0.1:9/", {
        url: new URL("http://127.0.0.1:1"),
        authorization: "Basic x\r\nX-Evil: 1",
      }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await using unix = new UnixConnector("/tmp/nothing.sock");
    const viaUnix = { connectorOptions: { proxy: { url: new URL("http://127.0.0.1:1") } } };
    // undici's own class and code reach undici's callers; the session reports @x's.
    await expect(request("http://x/", { dispatcher: unix, ...viaUnix } as never)).rejects.toMatchObject({
      code: "UND_ERR_INVALID_ARG",
    });
    await expect(send(unix, "http://x/", viaUnix)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
