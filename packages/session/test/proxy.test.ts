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
    // As urllib reads them for aiohttp: a lower-case name that is set wins, even empty.
    expect(proxyFromEnv(new URL("http://a.test/"), { http_proxy: "low", HTTP_PROXY: "up" })).toBe("low");
    expect(proxyFromEnv(new URL("http://a.test/"), { http_proxy: "", HTTP_PROXY: "up" })).toBeUndefined();
    expect(proxyFromEnv(new URL("https://a.test/"), { HTTPS_PROXY: "up" })).toBe("up");
    // httpoxy: in a CGI program HTTP_PROXY may come from a request's Proxy: header; only it is ignored.
    const cgi = { REQUEST_METHOD: "GET", HTTP_PROXY: "evil", HTTPS_PROXY: "s" };
    expect(proxyFromEnv(new URL("http://a.test/"), cgi)).toBeUndefined();
    expect(proxyFromEnv(new URL("http://a.test/"), { ...cgi, http_proxy: "mine" })).toBe("mine");
    expect(proxyFromEnv(new URL("https://a.test/"), cgi)).toBe("s");
    expect(proxyFromEnv(new URL("http://a.test/"), { https_proxy: "s" })).toBeUndefined();
    expect(
      proxyFromEnv(new URL("http://a.test/"), { http_proxy: "h", no_proxy: "", NO_PROXY: "a.test" }),
    ).toBe("h");
    expect(proxyFromEnv(new URL("http://a.test/"), { http_proxy: "h", no_proxy: "a.test" })).toBeUndefined();
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
    ["a.test \t b.test", "http://b.test/", true],
    ["", "http://a.test/", false],
    // Case, a trailing dot, and suffixes only at a dot.
    ["EXAMPLE.com.", "http://Example.COM./", true],
    [".example.com", "http://notexample.com/", false],
    ["api.example.com", "http://example.com/", false],
    // Ports: the URL's default port counts as given.
    ["example.com:80", "http://example.com/", true],
    ["example.com:443", "https://example.com/", true],
    ["example.com:443", "http://example.com/", false],
    ["example.com:443", "wss://example.com/", true],
    ["[::1]:5001", "http://[::1]:5000/", false],
    // Addresses match exactly, never a name, never the other family.
    ["127.0.0.1", "http://127.0.0.2/", false],
    ["127.0.0.1", "http://localhost/", false],
    ["::1", "http://[::2]/", false],
    ["1::8", "http://[1:0:0:0:0:0:0:8]/", true],
    ["1:2:3:4:5:6:7:8", "http://[1:2:3:4:5:6:7:8]/", true],
    ["::ffff:1.2.3.4", "http://1.2.3.4/", true],
    ["::ffff:1.2.3.4", "http://1.2.3.5/", false],
    // Networks: IPv4-mapped ones are IPv4; lengths out of range or unparsable match nothing.
    ["0.0.0.0/0", "http://203.0.113.9/", true],
    ["10.0.0.0/8", "http://[::ffff:10.1.2.3]/", true],
    ["::ffff:10.0.0.0/104", "http://10.1.2.3/", true],
    ["::ffff:10.0.0.0/104", "http://11.1.2.3/", false],
    ["[::ffff:10.0.0.0]/104", "http://10.1.2.3/", true],
    ["::/0", "http://10.1.2.3/", false],
    ["fd00::/8", "http://10.1.2.3/", false],
    ["10.0.0.0/32", "http://10.0.0.0/", true],
    ["10.0.0.0/32", "http://10.0.0.1/", false],
    ["10.0.0.0/31", "http://10.0.0.1/", true],
    ["10.0.0.0/33", "http://10.0.0.0/", false],
    ["10.0.0.0/-1", "http://10.0.0.0/", false],
    ["10.0.0.0/x", "http://10.0.0.0/", false],
    ["bad/8", "http://10.0.0.0/", false],
    ["10.0.0.0/8", "http://ten.test/", false],
    ["fd00::/7", "http://[fdff::1]/", true],
    ["fd00::/8", "http://[fe00::1]/", false],
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
