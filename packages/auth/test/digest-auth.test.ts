import { createHash } from "node:crypto";
import { InvalidArgumentError } from "@x/errors";
import { startDigestServer, startHttpServer } from "@x/fixtures";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { type Auth, DigestAuth, parseChallenges } from "../src/index.js";

/** Sends a request the way @x/session does: preemptive header, then one retry on a 401. */
async function send(
  auth: Auth,
  url: string,
  init: { method?: string; body?: string; oneShot?: boolean } = {},
) {
  const method = init.method ?? "GET";
  const target = new URL(url);
  // A one-shot body (a stream) cannot be read twice: the session passes `undefined`.
  const info = { method, url: target, body: init.oneShot ? undefined : (init.body ?? null) };
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
  const text = await res.body.text();
  const json = String(res.headers["content-type"]).startsWith("application/json");
  return { status: res.statusCode, body: json && text ? JSON.parse(text) : text };
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
    // The server would also take the name in the clear: the wire shows it was hashed.
    const sent = srv.authorizations[1] ?? "";
    const hashed = createHash("md5").update("jürgen:x-test@example.com").digest("hex");
    expect(sent).toContain(`username="${hashed}"`);
    expect(sent).toContain("userhash=true");
    expect(sent).toContain('opaque="op4que"');
    expect(sent).not.toContain("username*");
    expect(sent).not.toContain("j%C3%BCrgen");
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
    expect(() => new DigestAuth("a\r\n", "b")).toThrow(/^login must not contain CR, LF or NUL$/);
    expect(() => new DigestAuth("a", "b\0")).toThrow(/^password must not contain CR, LF or NUL$/);
    expect(() => new DigestAuth("a", "b\0")).toThrow(InvalidArgumentError);
  });
});

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

/** Answers one hand-written 401 and gives the Authorization parameters sent back, parsed. */
function answer(
  auth: DigestAuth,
  wwwAuthenticate: string | string[],
  url = "http://h.test/p?q=1",
  method = "GET",
) {
  const headers = new Headers();
  for (const v of [wwwAuthenticate].flat()) headers.append("www-authenticate", v);
  const target = new URL(url);
  const retry = auth.challenge({ method, url: target, body: null }, { status: 401, url: target, headers });
  const value = retry?.headers.authorization;
  return value === undefined ? undefined : { value, params: parseChallenges([value])[0]?.params ?? {} };
}

describe("DigestAuth: which challenges it answers, and how", () => {
  it("defaults to MD5 and computes the RFC 2069 response when no qop is offered", () => {
    const sent = answer(new DigestAuth("ada", "secret"), 'Digest realm="r", nonce="n1"');
    expect(sent?.value.startsWith("Digest ")).toBe(true);
    expect(sent?.params).toEqual({
      username: "ada",
      realm: "r",
      nonce: "n1",
      uri: "/p?q=1",
      algorithm: "MD5",
      response: md5(`${md5("ada:r:secret")}:n1:${md5("GET:/p?q=1")}`),
    });
  });

  it("quotes realm, nonce, opaque and user name with escapes, and hashes the unescaped values", () => {
    const sent = answer(
      new DigestAuth('a"d\\a', "pw"),
      'Digest realm="r\\"1", nonce="n\\"x", opaque="o\\\\p"',
    );
    expect(sent?.value).toContain('username="a\\"d\\\\a"');
    expect(sent?.value).toContain('realm="r\\"1"');
    expect(sent?.value).toContain('opaque="o\\\\p"');
    expect(sent?.params).toMatchObject({ username: 'a"d\\a', realm: 'r"1', nonce: 'n"x', opaque: "o\\p" });
    expect(sent?.params.response).toBe(md5(`${md5('a"d\\a:r"1:pw')}:n"x:${md5("GET:/p?q=1")}`));
  });

  it("sends no opaque, qop, nc, cnonce or userhash the server did not ask for", () => {
    const sent = answer(new DigestAuth("ada", "pw"), 'Digest realm="r", nonce="n"');
    for (const name of ["opaque", "qop", "nc", "cnonce", "userhash"])
      expect(sent?.params).not.toHaveProperty(name);
  });

  it("answers an empty realm but never a challenge without a nonce or realm", () => {
    expect(answer(new DigestAuth("ada", "pw"), 'Digest realm="", nonce="n"')?.params.realm).toBe("");
    expect(answer(new DigestAuth("ada", "pw"), 'Digest realm="r"')).toBeUndefined();
    expect(answer(new DigestAuth("ada", "pw"), 'Digest realm="r", nonce=""')).toBeUndefined();
    expect(answer(new DigestAuth("ada", "pw"), 'Digest nonce="n"')).toBeUndefined();
    expect(answer(new DigestAuth("ada", "pw"), 'Basic realm="r", nonce="n"')).toBeUndefined();
  });

  it("skips algorithms it does not know and qops it cannot do, answering the next challenge", () => {
    const sent = answer(new DigestAuth("ada", "pw"), [
      'Digest realm="r", nonce="a", algorithm=SHA-1',
      'Digest realm="r", nonce="b", algorithm=SHA-512, qop="auth"',
      'Digest realm="r", nonce="c", algorithm=SHA-256, qop="auth-conf"',
      'Digest realm="r", nonce="d", algorithm=MD5, qop="auth"',
    ]);
    expect(sent?.params).toMatchObject({ nonce: "d", algorithm: "MD5", qop: "auth" });
    expect(
      answer(new DigestAuth("ada", "pw"), 'Digest realm="r", nonce="c", qop="auth-conf"'),
    ).toBeUndefined();
    for (const unknown of ["SHA-1", "MD-sess5", "MD5-sess-sess", "MD5-session", "-sess", "sha256"]) {
      const sent = answer(new DigestAuth("ada", "pw"), `Digest realm="r", nonce="a", algorithm=${unknown}`);
      expect(sent, unknown).toBeUndefined();
    }
  });

  it("reads a qop list in any case and spacing", () => {
    const sent = answer(new DigestAuth("ada", "pw"), 'Digest realm="r", nonce="n", qop=" AUTH-INT , Auth "');
    expect(sent?.params.qop).toBe("auth");
  });

  it("never reads a Digest challenge from Proxy-Authenticate or other headers", () => {
    const auth = new DigestAuth("ada", "pw");
    const url = new URL("http://h.test/");
    const headers = new Headers({
      "proxy-authenticate": 'Digest realm="proxy", nonce="p"',
      "x-www-authenticate": 'Digest realm="x", nonce="x"',
    });
    expect(auth.challenge({ method: "GET", url }, { status: 401, url, headers })).toBeUndefined();
    expect(auth.origin).toBeUndefined();
  });

  it("refuses a non-ASCII login unless the server announces UTF-8, in any case", () => {
    expect(() => answer(new DigestAuth("jürgen", "pw"), 'Digest realm="r", nonce="n"')).toThrow(
      InvalidArgumentError,
    );
    expect(() =>
      answer(new DigestAuth("jürgen", "pw"), 'Digest realm="r", nonce="n", charset=latin1'),
    ).toThrow(/charset=UTF-8/);
    const sent = answer(new DigestAuth("jürgen", "pw"), 'Digest realm="r", nonce="n", charset="utf-8"');
    expect(sent?.value).toContain("username*=UTF-8''j%C3%BCrgen");
    expect(sent?.value).not.toMatch(/username="/);
    // Printable ASCII, spaces included, goes as a plain quoted string even when UTF-8 is announced.
    expect(
      answer(new DigestAuth("ada l", "pw"), 'Digest realm="r", nonce="n", charset=UTF-8')?.params.username,
    ).toBe("ada l");
    expect(() => answer(new DigestAuth("ada\tl", "pw"), 'Digest realm="r", nonce="n"')).toThrow(
      InvalidArgumentError,
    );
  });

  it("hashes the user name when the server says userhash=TRUE in any case", () => {
    const sent = answer(new DigestAuth("ada", "pw"), 'Digest realm="r", nonce="n", userhash=TRUE');
    expect(sent?.params).toMatchObject({ username: md5("ada:r"), userhash: "true" });
    const plain = answer(new DigestAuth("ada", "pw"), 'Digest realm="r", nonce="n", userhash=false');
    expect(plain?.params.username).toBe("ada");
    expect(plain?.params).not.toHaveProperty("userhash");
  });

  it("echoes the algorithm as the server spelled it", async () => {
    await using srv = await startDigestServer({ users: { ada: "secret" }, algorithms: ["sha-256-SESS"] });
    const res = await send(new DigestAuth("ada", "secret"), srv.url("/"));
    expect(res).toMatchObject({ status: 200, body: { algorithm: "sha-256-SESS" } });
  });

  it("picks the strongest algorithm whatever the order of the challenges", async () => {
    for (const algorithms of [
      ["SHA-512-256", "SHA-256", "MD5"],
      ["SHA-256", "SHA-512-256-sess", "MD5-sess"],
      ["MD5-sess", "SHA-256"],
      ["SHA-256", "MD5"],
    ]) {
      await using srv = await startDigestServer({ users: { ada: "secret" }, algorithms });
      const expected =
        algorithms.find((a) => a.startsWith("SHA-512-256")) ??
        algorithms.find((a) => a.startsWith("SHA-256"));
      expect(
        (await send(new DigestAuth("ada", "secret"), srv.url("/"))).body,
        algorithms.join(),
      ).toMatchObject({
        algorithm: expected,
      });
    }
  });

  it("counts nc in hexadecimal", async () => {
    await using srv = await startDigestServer({ users: { ada: "secret" } });
    const auth = new DigestAuth("ada", "secret");
    const ncs: unknown[] = [];
    for (let i = 0; i < 17; i++) ncs.push(((await send(auth, srv.url(`/${i}`))).body as { nc: string }).nc);
    expect(ncs.slice(8, 11)).toEqual(["00000009", "0000000a", "0000000b"]);
    expect(ncs.at(-1)).toBe("00000011");
    // The client nonce changes with every request.
    const cnonces = srv.authorizations.slice(1).map((a) => parseChallenges([a ?? ""])[0]?.params.cnonce);
    expect(new Set(cnonces).size).toBe(cnonces.length);
    expect(cnonces.every((c) => /^[0-9a-f]{32}$/.test(c ?? ""))).toBe(true);
  });

  it("prefers qop=auth when both are offered, even with a body", async () => {
    await using srv = await startDigestServer({ users: { ada: "secret" }, qop: "auth-int,auth" });
    const res = await send(new DigestAuth("ada", "secret"), srv.url("/"), { method: "POST", body: "x" });
    expect(res.body).toMatchObject({ authenticated: true, qop: "auth" });
  });

  it("answers auth-int for a request without a body, and for a GET or HEAD whose body it cannot read", async () => {
    await using srv = await startDigestServer({ users: { ada: "secret" }, qop: "auth-int" });
    expect(
      (await send(new DigestAuth("ada", "secret"), srv.url("/"), { method: "POST" })).body,
    ).toMatchObject({
      qop: "auth-int",
    });
    expect((await send(new DigestAuth("ada", "secret"), srv.url("/"), { oneShot: true })).body).toMatchObject(
      {
        qop: "auth-int",
      },
    );
    const head = await send(new DigestAuth("ada", "secret"), srv.url("/"), { method: "HEAD", oneShot: true });
    expect(head.status).toBe(200);
    const post = await send(new DigestAuth("ada", "secret"), srv.url("/"), {
      method: "POST",
      body: "x",
      oneShot: true,
    });
    expect(post.status).toBe(401);
  });

  it("sends no preemptive header for a one-shot body when the server only does auth-int", async () => {
    await using srv = await startDigestServer({ users: { ada: "secret" }, qop: "auth-int" });
    const auth = new DigestAuth("ada", "secret");
    expect((await send(auth, srv.url("/1"), { method: "POST", body: "a" })).status).toBe(200);
    const url = new URL(srv.url("/2"));
    expect(auth.encode({ method: "PUT", url, body: undefined })).toBeUndefined();
    // Only a header that went out counts the nonce up: "b" was 2, so the next is 3.
    expect(auth.encode({ method: "PUT", url, body: "b" })).toMatch(/qop=auth-int, nc=00000002/);
    expect((await send(auth, srv.url("/3"), { method: "POST", body: "c" })).body).toMatchObject({
      nc: "00000003",
    });
  });

  it("has no origin and sends nothing before its first challenge, nor without a request", async () => {
    await using srv = await startDigestServer({ users: { ada: "secret" } });
    const auth = new DigestAuth("ada", "secret");
    expect(auth.origin).toBeUndefined();
    expect(auth.encode({ method: "GET", url: new URL(srv.url("/")) })).toBeUndefined();
    await send(auth, srv.url("/"));
    expect(auth.origin).toBe(srv.origin);
    expect(auth.encode()).toBeUndefined();
    expect(auth.encode({ method: "GET", url: new URL(srv.url("/again")) })).toMatch(/^Digest /);
    const elsewhere = new URL(srv.url("/"));
    elsewhere.hostname = "localhost";
    expect(auth.encode({ method: "GET", url: elsewhere })).toBeUndefined();
  });

  it("answers a fresh challenge from its own origin after a preemptive header was refused", async () => {
    let calls = 0;
    await using srv = await startHttpServer((req, res) => {
      calls++;
      // Every request is challenged with a new nonce; the retry carrying it is accepted.
      if (req.headers.authorization?.includes(`nonce="n${calls - 1}"`)) {
        res.end("ok");
        return;
      }
      res.statusCode = 401;
      res.setHeader("www-authenticate", `Digest realm="r", nonce="n${calls}", qop="auth"`);
      res.end();
    });
    const auth = new DigestAuth("ada", "pw");
    expect((await send(auth, srv.url("/a"))).status).toBe(200);
    expect((await send(auth, srv.url("/b"))).status).toBe(200);
    expect(calls).toBe(4);
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
