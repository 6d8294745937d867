import { BasicAuth } from "@x/auth";
import { InvalidArgumentError, NonHttpUrlClientError } from "@x/errors";
import {
  type EchoReply,
  echo,
  echoHeader,
  startHttpServer,
  startHttpsServer,
  startProxyServer,
  startWsServer,
} from "@x/fixtures";
import { Agent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";
import { bypassesProxy, proxyFromEnv } from "../src/proxy-env.js";

const json = async (r: { json(): Promise<unknown> }) => (await r.json()) as EchoReply;
const basic = (u: string, p: string) => new BasicAuth(u, p).encode();
const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

describe("proxy options", () => {
  it("sends every request of the session through its proxy, with proxy auth and headers the target never sees", async () => {
    await using target = await startHttpServer(echo);
    await using proxy = await startProxyServer({ auth: { user: "u", password: "p" } });
    await using session = new ClientSession({
      proxy: proxy.origin,
      proxyAuth: new BasicAuth("u", "p"),
      proxyHeaders: { "X-Proxy-Tag": "t" },
    });
    const reply = await json(await session.get(target.url("/through")));
    expect(reply.url).toBe("/through");
    expect(echoHeader(reply, "proxy-authorization")).toBeUndefined();
    expect(proxy.requests[0]?.headers["proxy-authorization"]).toBe(basic("u", "p"));
    expect(proxy.requests[0]?.headers["x-proxy-tag"]).toBe("t");
  });

  it("takes a proxy per request, and proxy: null goes direct", async () => {
    await using target = await startHttpServer(echo);
    await using proxy = await startProxyServer();
    await using session = new ClientSession({ proxy: proxy.origin });
    await (await session.get(target.url("/a"), { proxy: null })).read();
    expect(proxy.requests).toHaveLength(0);
    await using plain = new ClientSession();
    await (await plain.get(target.url("/b"), { proxy: `${proxy.origin}/` })).read();
    expect(proxy.requests.map((r) => r.target)).toEqual([target.url("/b")]);
  });

  it("tunnels https and keeps the session's Authorization out of CONNECT", async () => {
    await using target = await startHttpsServer(echo);
    await using proxy = await startProxyServer();
    await using session = new ClientSession({
      proxy: proxy.origin,
      auth: new BasicAuth("target", "secret"),
      headers: { "X-Session": "1" },
    });
    const reply = await json(await session.get(target.url("/s"), { ssl: { ca: target.ca } }));
    expect(echoHeader(reply, "authorization")).toBe(basic("target", "secret"));
    const connect = proxy.requests[0]!;
    expect(connect.method).toBe("CONNECT");
    expect(connect.headers.authorization).toBeUndefined();
    expect(connect.headers["proxy-authorization"]).toBeUndefined();
    expect(connect.headers["x-session"]).toBeUndefined();
  });

  it("credentials in the proxy URL become proxy auth, never target auth", async () => {
    await using target = await startHttpServer(echo);
    await using proxy = await startProxyServer({ auth: { user: "pu", password: "pp" } });
    await using session = new ClientSession();
    const reply = await json(
      await session.get(target.url(), { proxy: proxy.origin.replace("http://", "http://pu:pp@") }),
    );
    expect(echoHeader(reply, "authorization")).toBeUndefined();
    expect(echoHeader(reply, "proxy-authorization")).toBeUndefined();
    await expect(
      session.get(target.url(), {
        proxy: proxy.origin.replace("http://", "http://pu:pp@"),
        proxyAuth: new BasicAuth("x"),
      }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("refuses a proxy with a dispatcher that cannot use one, and socks", async () => {
    await using session = new ClientSession({ connector: new Agent() });
    await expect(session.get("http://127.0.0.1:9/", { proxy: "http://127.0.0.1:1" })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(() => new ClientSession({ proxy: "socks5://127.0.0.1:1" })).toThrow(NonHttpUrlClientError);
  });
});

describe("trustEnv", () => {
  it("uses HTTP_PROXY and HTTPS_PROXY (lower case first), credentials included", async () => {
    await using target = await startHttpServer(echo);
    await using proxy = await startProxyServer({ auth: { user: "env", password: "pw" } });
    process.env.HTTP_PROXY = "http://127.0.0.1:1";
    process.env.http_proxy = proxy.origin.replace("http://", "http://env:pw@");
    await using session = new ClientSession({ trustEnv: true });
    const reply = await json(await session.get(target.url("/env")));
    expect(reply.url).toBe("/env");
    expect(proxy.requests[0]?.headers["proxy-authorization"]).toBe(basic("env", "pw"));
    await using untrusting = new ClientSession();
    await (await untrusting.get(target.url("/direct"))).read();
    expect(proxy.requests).toHaveLength(1);
  });

  it("chooses the proxy again on every redirect hop, and NO_PROXY wins", async () => {
    await using direct = await startHttpServer(echo);
    await using start = await startHttpServer((_req, res) => {
      res.statusCode = 302;
      res.setHeader("location", direct.url("/landed").replace("127.0.0.1", "localhost"));
      res.end();
    });
    await using proxy = await startProxyServer({ auth: { user: "env", password: "pw" } });
    process.env.http_proxy = proxy.origin.replace("http://", "http://env:pw@");
    process.env.no_proxy = "localhost";
    await using session = new ClientSession({ trustEnv: true });
    const resp = await session.get(start.url("/go"));
    const reply = await json(resp);
    expect(reply.url).toBe("/landed");
    expect(echoHeader(reply, "proxy-authorization")).toBeUndefined();
    expect(proxy.requests.map((r) => r.target)).toEqual([start.url("/go")]);
    expect(resp.history).toHaveLength(1);
  });

  it("proxyFromEnv picks by scheme: http, https, ws, wss", () => {
    const env = { http_proxy: "h", HTTPS_PROXY: "s", WS_PROXY: "w", wss_proxy: "ws" };
    expect(proxyFromEnv(new URL("http://a.test/"), env)).toBe("h");
    expect(proxyFromEnv(new URL("https://a.test/"), env)).toBe("s");
    expect(proxyFromEnv(new URL("ws://a.test/"), env)).toBe("w");
    expect(proxyFromEnv(new URL("wss://a.test/"), env)).toBe("ws");
    expect(proxyFromEnv(new URL("http://a.test/"), { ...env, NO_PROXY: "a.test" })).toBeUndefined();
  });

  it.each([
    ["*", "http://anything.test/", true],
    ["example.com", "http://example.com/", true],
    ["example.com", "http://api.example.com/", true],
    ["example.com", "http://notexample.com/", false],
    [".example.com", "http://api.example.com/", true],
    [".example.com", "http://example.com/", true],
    ["example.com:8080", "http://example.com:8080/", true],
    ["example.com:8080", "http://example.com/", false],
    ["10.0.0.0/8", "http://10.1.2.3/", true],
    ["10.0.0.0/8", "http://11.1.2.3/", false],
    ["127.0.0.1", "http://127.0.0.1:5000/", true],
    ["::1", "http://[::1]:5000/", true],
    ["[::1]:5000", "http://[::1]:5000/", true],
    ["fd00::/8", "http://[fd12::1]/", true],
    ["a.test, b.test", "http://b.test/", true],
    ["", "http://a.test/", false],
  ])("NO_PROXY=%j for %s → %s", (noProxy, url, expected) => {
    expect(bypassesProxy(new URL(url), noProxy)).toBe(expected);
  });
});

describe("websockets through a proxy", () => {
  it("tunnels ws with CONNECT, from options or WS_PROXY", async () => {
    await using srv = await startWsServer();
    await using proxy = await startProxyServer({ auth: { user: "u", password: "p" } });
    await using session = new ClientSession();
    await using ws = await session.wsConnect(srv.url("/"), {
      proxy: proxy.origin,
      proxyAuth: new BasicAuth("u", "p"),
    });
    await ws.sendStr("through");
    expect(await ws.receiveStr()).toBe("through");
    expect(proxy.requests[0]).toMatchObject({ method: "CONNECT", target: `127.0.0.1:${srv.port}` });
    expect(srv.upgrades[0]?.headers["proxy-authorization"]).toBeUndefined();
    process.env.WS_PROXY = proxy.origin.replace("http://", "http://u:p@");
    await using envSession = new ClientSession({ trustEnv: true });
    await using ws2 = await envSession.wsConnect(srv.url("/"));
    expect(ws2.closed).toBe(false);
    expect(proxy.requests).toHaveLength(2);
  });
});
