import { startHttpServer } from "@x/fixtures";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { parseChallenges } from "../src/index.js";

describe("parseChallenges", () => {
  it("reads the WWW-Authenticate headers a real server sends, each header on its own", async () => {
    await using srv = await startHttpServer((_req, res) => {
      res.statusCode = 401;
      res.setHeader("www-authenticate", [
        'Basic realm="files", charset="UTF-8"',
        'Digest realm="api", nonce="n0", qop="auth", algorithm=SHA-256',
      ]);
      res.end();
    });
    const res = await request(srv.url());
    await res.body.dump();
    const header = res.headers["www-authenticate"];
    expect(parseChallenges([header].flat().filter((v) => v !== undefined))).toEqual([
      { scheme: "basic", params: { realm: "files", charset: "UTF-8" } },
      { scheme: "digest", params: { realm: "api", nonce: "n0", qop: "auth", algorithm: "SHA-256" } },
    ]);
  });

  it("lower-cases scheme and parameter names, never values", () => {
    expect(parseChallenges(['DIGEST Realm="MixedCase", NONCE=AbC'])).toEqual([
      { scheme: "digest", params: { realm: "MixedCase", nonce: "AbC" } },
    ]);
  });

  it("allows spaces and tabs around '=' and between parameters", () => {
    expect(
      parseChallenges(['Digest realm \t= "r" \t,\t nonce=\t"n"  ,  qop = auth\t, algorithm=MD5']),
    ).toEqual([{ scheme: "digest", params: { realm: "r", nonce: "n", qop: "auth", algorithm: "MD5" } }]);
  });

  it("skips empty list elements between parameters", () => {
    expect(parseChallenges(['Digest realm="r",, ,\t,nonce="n" ,,, qop=auth'])).toEqual([
      { scheme: "digest", params: { realm: "r", nonce: "n", qop: "auth" } },
    ]);
  });

  it("skips empty list elements before, between and after challenges", () => {
    expect(parseChallenges([', ,\tBasic realm="a",, , Bearer ,,Digest nonce=x, ,'])).toEqual([
      { scheme: "basic", params: { realm: "a" } },
      { scheme: "bearer", params: {} },
      { scheme: "digest", params: { nonce: "x" } },
    ]);
  });

  it("reads a scheme with no parameters followed by another challenge", () => {
    expect(parseChallenges(["Negotiate, Basic realm=x", "NTLM"])).toEqual([
      { scheme: "negotiate", params: {} },
      { scheme: "basic", params: { realm: "x" } },
      { scheme: "ntlm", params: {} },
    ]);
  });

  it("unescapes quoted-pairs and keeps commas and '=' inside quotes", () => {
    const [c] = parseChallenges(['Digest realm="a\\"b\\\\c, d=e", nonce="\\x"']);
    expect(c?.params).toEqual({ realm: 'a"b\\c, d=e', nonce: "x" });
    expect(parseChallenges(['Digest realm=""'])[0]?.params).toEqual({ realm: "" });
  });

  it("stops at a malformed part and keeps what came before it", () => {
    // An unterminated quote: the rest of the header is lost, earlier parameters stay.
    expect(parseChallenges(['Digest realm="r", nonce="open, Basic realm=x'])).toEqual([
      { scheme: "digest", params: { realm: "r" } },
    ]);
    // A trailing backslash inside an unterminated quote.
    expect(parseChallenges(['Digest realm="r", nonce="ab\\'])).toEqual([
      { scheme: "digest", params: { realm: "r" } },
    ]);
    // A parameter with no value.
    expect(parseChallenges(["Digest realm=r, nonce=", "Basic realm=b"])).toEqual([
      { scheme: "digest", params: { realm: "r" } },
      { scheme: "basic", params: { realm: "b" } },
    ]);
    // Something that is not a token where a scheme should be.
    expect(parseChallenges(['Basic realm="a", "junk" Digest nonce=1'])).toEqual([
      { scheme: "basic", params: { realm: "a" } },
    ]);
  });

  it("treats token68 as no parameters and goes on with the next challenge", () => {
    expect(parseChallenges(["Bearer dG9rZW4=, Basic realm=x"])).toEqual([{ scheme: "bearer", params: {} }]);
    expect(parseChallenges(["Negotiate YII=", "Basic realm=x"])).toEqual([
      { scheme: "negotiate", params: {} },
      { scheme: "basic", params: { realm: "x" } },
    ]);
  });

  it("gives parameters that cannot be confused with object members", () => {
    const [c] = parseChallenges(["Custom constructor=1, __proto__=2, tostring=3"]);
    expect(c?.params.constructor).toBe("1");
    expect(Object.entries(c?.params ?? {})).toEqual([
      ["constructor", "1"],
      ["__proto__", "2"],
      ["tostring", "3"],
    ]);
    expect(parseChallenges(["Basic realm=x"])[0]?.params.constructor).toBeUndefined();
  });

  it("gives nothing for empty or blank values", () => {
    expect(parseChallenges([])).toEqual([]);
    expect(parseChallenges(["", " \t, "])).toEqual([]);
  });
});
