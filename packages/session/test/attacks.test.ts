import { BasicAuth } from "@x/auth";
import { Fingerprint } from "@x/connector";
import { CookieJar } from "@x/cookies";
import {
  ClientConnectorCertificateError,
  InvalidArgumentError,
  ServerFingerprintMismatch,
  TooManyRedirects,
} from "@x/errors";
import {
  type EchoReply,
  echo,
  echoHeader,
  redirector,
  startHttpServer,
  startHttpsServer,
  startProxyServer,
} from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

// What a redirect-following client has leaked in the past (CVE-2018-1000007 curl, CVE-2022-0155
// follow-redirects, CVE-2023-32681 requests, CVE-2022-23806/undici cookie and auth leaks on
// cross-origin redirects): each case below sends secrets one way and looks for them the other.

const json = async (r: { json(): Promise<unknown> }) => (await r.json()) as EchoReply;
const hop = (from: { url(p: string): string }, to: string, status = 302) =>
  from.url(`/r/${status}?to=${encodeURIComponent(to)}`);

/** Every secret a request can carry, in every spelling. */
const secrets = {
  headers: [
    ["Authorization", "Bearer s3cr3t-a"],
    ["authorization", "Bearer s3cr3t-b"],
    ["COOKIE", "sid=s3cr3t-c"],
    ["Proxy-Authorization", "Basic s3cr3t-d"],
    ["pRoXy-AuThOrIzAtIoN", "Basic s3cr3t-e"],
  ] as Array<[string, string]>,
  cookies: { percall: "s3cr3t-f" },
};

/** No header at all mentions a secret, nor is any credential header present. */
function expectClean(reply: EchoReply, ...extra: string[]) {
  for (const [name, value] of reply.headers) {
    expect(["authorization", "cookie", "proxy-authorization", "referer"]).not.toContain(name.toLowerCase());
    expect(value).not.toMatch(/s3cr3t/);
    for (const e of extra) expect(value).not.toContain(e);
  }
}

describe("credentials never cross an origin on redirect", () => {
  it("https → http drops every credential header, per-request cookies and request auth", async () => {
    await using home = await startHttpsServer(redirector);
    await using other = await startHttpServer(echo);
    await using session = new ClientSession();
    const headers = await json(
      await session.get(hop(home, other.url("/downgraded"), 307), { ...secrets, ssl: { ca: home.ca } }),
    );
    expect(headers.url).toBe("/downgraded");
    expectClean(headers);
    const auth = await json(
      await session.get(hop(home, other.url("/downgraded"), 307), {
        auth: new BasicAuth("user", "s3cr3t-g"),
        ssl: { ca: home.ca },
      }),
    );
    expectClean(auth, new BasicAuth("user", "s3cr3t-g").encode());
  });

  it("jar cookies set by https with Secure never go to http", async () => {
    await using home = await startHttpsServer(redirector);
    await using other = await startHttpServer(echo);
    await using session = new ClientSession({ cookieJar: new CookieJar({ unsafe: true }) });
    const first = home.url(
      `/r/302?to=${encodeURIComponent(other.url("/"))}&cookie=${encodeURIComponent("sid=s3cr3t-h; Secure; Path=/")}`,
    );
    const reply = await json(await session.get(first, { ssl: { ca: home.ca } }));
    expectClean(reply);
    expect(session.cookieJar.filterCookies(home.url("/")).get("sid")?.value).toBe("s3cr3t-h");
  });

  it("URL userinfo becomes auth for its own origin only, and never a Referer", async () => {
    await using home = await startHttpServer(redirector);
    await using other = await startHttpServer(echo);
    await using session = new ClientSession();
    const start = hop(home, other.url("/x").replace("127.0.0.1", "localhost")).replace(
      "http://",
      "http://alice:s3cr3t-i@",
    );
    const reply = await json(await session.get(start));
    expectClean(reply, "alice", new BasicAuth("alice", "s3cr3t-i").encode());
    // And on a same-origin hop the userinfo is auth, still with no Referer.
    const same = await json(
      await session.get(hop(home, "/same").replace("http://", "http://alice:s3cr3t-i@")),
    );
    expect(echoHeader(same, "authorization")).toBe(new BasicAuth("alice", "s3cr3t-i").encode());
    expect(echoHeader(same, "referer")).toBeUndefined();
  });

  it("through a forwarding proxy: the target's credentials stop, the proxy's own stay with the proxy", async () => {
    await using home = await startHttpServer(redirector);
    await using other = await startHttpServer(echo);
    await using proxy = await startProxyServer({ auth: { user: "p", password: "pw" } });
    await using session = new ClientSession({ proxy: proxy.origin, proxyAuth: new BasicAuth("p", "pw") });
    const to = other.url("/via-proxy").replace("127.0.0.1", "localhost");
    const reply = await json(
      await session.get(hop(home, to), { headers: secrets.headers.slice(0, 3), cookies: secrets.cookies }),
    );
    expect(reply.url).toBe("/via-proxy");
    expectClean(reply);
    expect(proxy.requests.map((r) => r.target)).toEqual([hop(home, to), to]);
    const second = proxy.requests[1]!.headers;
    expect(second.authorization).toBeUndefined();
    expect(second.cookie).toBeUndefined();
    expect(second["proxy-authorization"]).toBe(new BasicAuth("p", "pw").encode());
  });

  it("through a CONNECT tunnel, https → https on another port", async () => {
    await using home = await startHttpsServer(redirector);
    await using other = await startHttpsServer(echo);
    await using proxy = await startProxyServer();
    await using session = new ClientSession({ proxy: proxy.origin });
    const reply = await json(
      await session.get(hop(home, other.url("/tunnelled")), { ...secrets, ssl: { ca: home.ca } }),
    );
    expect(reply.url).toBe("/tunnelled");
    expectClean(reply);
    expect(proxy.requests.map((r) => `${r.method} ${r.target}`)).toEqual([
      `CONNECT 127.0.0.1:${home.port}`,
      `CONNECT 127.0.0.1:${other.port}`,
    ]);
    for (const r of proxy.requests) expect(JSON.stringify(r.headers)).not.toMatch(/s3cr3t/);
  });

  it("maxRedirects: 0 contacts no second host, even through a proxy", async () => {
    await using home = await startHttpServer(redirector);
    await using other = await startHttpServer(echo);
    await using proxy = await startProxyServer();
    await using session = new ClientSession({ proxy: proxy.origin });
    await expect(session.get(hop(home, other.url("/")), { maxRedirects: 0 })).rejects.toBeInstanceOf(
      TooManyRedirects,
    );
    expect(other.stats.accepted).toBe(0);
    expect(proxy.requests).toHaveLength(1);
  });
});

describe("TLS verification on every path", () => {
  it("an untrusted certificate fails directly, through a CONNECT tunnel, and after a redirect", async () => {
    await using untrusted = await startHttpsServer(echo, { certificate: "selfSigned" });
    await using proxy = await startProxyServer();
    await using home = await startHttpServer(redirector);
    await using session = new ClientSession();
    await expect(session.get(untrusted.url("/"))).rejects.toBeInstanceOf(ClientConnectorCertificateError);
    await expect(session.get(untrusted.url("/"), { proxy: proxy.origin })).rejects.toBeInstanceOf(
      ClientConnectorCertificateError,
    );
    await expect(session.get(hop(home, untrusted.url("/")))).rejects.toBeInstanceOf(
      ClientConnectorCertificateError,
    );
    // A CA given for the first hop does not vouch for a self-signed second hop either.
    await using trusted = await startHttpsServer(redirector);
    await expect(
      session.get(hop(trusted, untrusted.url("/")), { ssl: { ca: trusted.ca } }),
    ).rejects.toBeInstanceOf(ClientConnectorCertificateError);
    await untrusted.stats.idle();
  });

  it("a fingerprint pin applies to the tunnelled connection and to every redirect hop", async () => {
    await using pinned = await startHttpsServer(redirector, { certificate: "selfSigned" });
    let served = 0;
    await using other = await startHttpsServer((req, res) => {
      served++;
      echo(req, res);
    });
    await using proxy = await startProxyServer();
    await using session = new ClientSession();
    const pin = new Fingerprint(pinned.certificate.sha256);
    expect((await session.get(pinned.url("/ok"), { ssl: pin, proxy: proxy.origin })).status).toBe(200);
    const err = await session.get(other.url("/"), { ssl: pin, proxy: proxy.origin }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerFingerprintMismatch);
    // other's certificate is trusted by CA, but it is not the pinned one.
    await expect(session.get(hop(pinned, other.url("/")), { ssl: pin })).rejects.toBeInstanceOf(
      ServerFingerprintMismatch,
    );
    expect(served).toBe(0);
  });

  it("a pin with an http:// URL, or a redirect down to http://, is an error and nothing is sent", async () => {
    await using plain = await startHttpServer(echo);
    await using pinned = await startHttpsServer(redirector, { certificate: "selfSigned" });
    await using session = new ClientSession();
    const pin = new Fingerprint(pinned.certificate.sha256);
    await expect(session.get(plain.url("/"), { ssl: pin })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(session.get(hop(pinned, plain.url("/")), { ssl: pin })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(plain.stats.accepted).toBe(0);
  });
});
