import { startDigestServer } from "@x/fixtures";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { type Auth, DigestAuth, parseChallenges } from "../src/index.js";

/** Sends a request the way @x/session does: preemptive header, then one retry on a 401. */
async function send(auth: Auth, url: string, init: { method?: string; body?: string } = {}) {
  const method = init.method ?? "GET";
  const target = new URL(url);
  const info = { method, url: target, body: init.body ?? null };
  const first = auth.encode(info);
  let res = await request(url, { method, body: init.body, headers: first ? { authorization: first } : {} });
  if (res.statusCode === 401 && auth.challenge) {
    const headers = new Headers();
    for (const [k, v] of Object.entries(res.headers))
      for (const x of [v].flat()) if (x !== undefined) headers.append(k, x);
    const retry = await auth.challenge(info, { status: 401, url: target, headers });
    if (retry) {
      await res.body.dump();
      res = await request(url, { method, body: init.body, headers: { ...retry.headers } });
    }
  }
  return {
    status: res.statusCode,
    body: res.statusCode === 200 ? await res.body.json() : await res.body.text(),
  };
}

describe("DigestAuth against a server that checks the arithmetic", () => {
  it.each(["MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess"])(
    "answers %s with qop=auth",
    async (algorithm) => {
      await using srv = await startDigestServer({ users: { ada: "secret" }, algorithms: [algorithm] });
      const res = await send(new DigestAuth("ada", "secret"), srv.url("/data?x=1"));
      expect(res).toEqual({
        status: 200,
        body: { authenticated: true, user: "ada", qop: "auth", algorithm, nc: "00000001" },
      });
    },
  );

  it("answers qop=auth-int, hashing the body", async () => {
    await using srv = await startDigestServer({
      users: { ada: "secret" },
      algorithms: ["SHA-256"],
      qop: "auth-int",
    });
    const res = await send(new DigestAuth("ada", "secret"), srv.url("/upload"), {
      method: "POST",
      body: "payload",
    });
    expect(res.body).toMatchObject({ authenticated: true, qop: "auth-int" });
  });

  it("cannot answer auth-int without a readable body", async () => {
    await using srv = await startDigestServer({ users: { ada: "secret" }, qop: "auth-int" });
    const auth = new DigestAuth("ada", "secret");
    const retry = auth.challenge(
      { method: "POST", url: new URL(srv.url("/")), body: undefined },
      {
        status: 401,
        url: new URL(srv.url("/")),
        headers: new Headers({ "www-authenticate": 'Digest realm="r", nonce="n", qop="auth-int"' }),
      },
    );
    expect(retry).toBeUndefined();
  });

  it("answers RFC 2069 challenges without qop", async () => {
    await using srv = await startDigestServer({ users: { ada: "secret" }, qop: "" });
    expect((await send(new DigestAuth("ada", "secret"), srv.url("/"))).status).toBe(200);
  });

  it("picks the strongest algorithm offered", async () => {
    await using srv = await startDigestServer({
      users: { ada: "secret" },
      algorithms: ["MD5", "SHA-256", "SHA-512-256"],
    });
    expect((await send(new DigestAuth("ada", "secret"), srv.url("/"))).body).toMatchObject({
      algorithm: "SHA-512-256",
    });
  });

  it("sends opaque back, hashes the user name with userhash, and encodes UTF-8 names", async () => {
    await using srv = await startDigestServer({
      users: { jürgen: "pw" },
      opaque: "op4que",
      userhash: true,
      utf8: true,
    });
    expect((await send(new DigestAuth("jürgen", "pw"), srv.url("/"))).body).toMatchObject({ user: "jürgen" });
    await using plain = await startDigestServer({ users: { jürgen: "pw" }, utf8: true });
    expect((await send(new DigestAuth("jürgen", "pw"), plain.url("/"))).body).toMatchObject({
      user: "jürgen",
    });
    expect(plain.authorizations[1]).toContain("username*=UTF-8''j%C3%BCrgen");
  });

  it("gives up on a wrong password after one retry", async () => {
    await using srv = await startDigestServer({ users: { ada: "secret" } });
    const res = await send(new DigestAuth("ada", "wrong"), srv.url("/"));
    expect(res.status).toBe(401);
    expect(srv.authorizations).toHaveLength(2);
  });

  it("counts the nonce up on preemptive requests to the same origin", async () => {
    await using srv = await startDigestServer({ users: { ada: "secret" }, algorithms: ["SHA-256"] });
    const auth = new DigestAuth("ada", "secret");
    await send(auth, srv.url("/1"));
    const second = await send(auth, srv.url("/2"));
    const third = await send(auth, srv.url("/3"));
    expect([second.body, third.body]).toMatchObject([{ nc: "00000002" }, { nc: "00000003" }]);
    // One challenge in all: requests 2 and 3 went out with credentials already.
    expect(srv.authorizations.filter((a) => a === undefined)).toHaveLength(1);
  });

  it("takes a fresh nonce when the server says stale", async () => {
    await using srv = await startDigestServer({ users: { ada: "secret" }, nonceUses: 1 });
    const auth = new DigestAuth("ada", "secret");
    expect((await send(auth, srv.url("/1"))).status).toBe(200);
    const again = await send(auth, srv.url("/2"));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ nc: "00000001" });
  });

  it("without preemptive, waits for a challenge every time", async () => {
    await using srv = await startDigestServer({ users: { ada: "secret" } });
    const auth = new DigestAuth("ada", "secret", { preemptive: false });
    await send(auth, srv.url("/1"));
    await send(auth, srv.url("/2"));
    expect(srv.authorizations.filter((a) => a === undefined)).toHaveLength(2);
  });

  it("never answers a challenge from another origin, nor sends credentials there", async () => {
    await using home = await startDigestServer({ users: { ada: "secret" } });
    await using other = await startDigestServer({ users: { ada: "secret" } });
    const auth = new DigestAuth("ada", "secret");
    expect((await send(auth, home.url("/"))).status).toBe(200);
    expect(auth.origin).toBe(home.origin);
    const res = await send(auth, other.url("/"));
    expect(res.status).toBe(401);
    expect(other.authorizations).toEqual([undefined]);
  });

  it("does not answer a challenge that came from another origin than the request's", () => {
    const auth = new DigestAuth("ada", "secret");
    const retry = auth.challenge(
      { method: "GET", url: new URL("http://a.test/") },
      {
        status: 401,
        url: new URL("http://b.test/"),
        headers: new Headers({ "www-authenticate": 'Digest realm="r", nonce="n"' }),
      },
    );
    expect(retry).toBeUndefined();
    expect(auth.encode({ method: "GET", url: new URL("http://a.test/") })).toBeUndefined();
  });

  it("refuses CR, LF and NUL in credentials", () => {
    expect(() => new DigestAuth("a\r\n", "b")).toThrow();
    expect(() => new DigestAuth("a", "b\0")).toThrow();
  });
});

describe("parseChallenges", () => {
  it("reads several challenges, quoted strings with escapes and commas, and token68", () => {
    const parsed = parseChallenges([
      'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
      'Digest realm="a, b", nonce=abc, qop="auth,auth-int"',
      "Bearer dG9rZW4=",
    ]);
    expect(parsed).toEqual(
      [
        { scheme: "newauth", params: { realm: "apps", type: "1", title: 'Login to "apps"' } },
        { scheme: "basic", params: { realm: "simple" } },
        { scheme: "digest", params: { realm: "a, b", nonce: "abc", qop: "auth,auth-int" } },
        { scheme: "bearer", params: {} },
      ].map((c) => ({ ...c, params: expect.objectContaining(c.params) })),
    );
  });

  it("keeps what parsed before garbage", () => {
    const parsed = parseChallenges(['Digest realm="r", nonce="unterminated']);
    expect(parsed[0]?.params.realm).toBe("r");
  });
});
