import { InvalidArgumentError, ValueError } from "@x/errors";
import { startHttpServer } from "@x/fixtures";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { BasicAuth, BearerAuth } from "../src/index.js";

describe("BasicAuth", () => {
  it("encodes login:password in base64, latin1 by default", () => {
    expect(new BasicAuth("ada", "lovelace").encode()).toBe(
      `Basic ${Buffer.from("ada:lovelace").toString("base64")}`,
    );
    expect(new BasicAuth("ada").encode()).toBe(`Basic ${Buffer.from("ada:").toString("base64")}`);
    expect(new BasicAuth("jürgen", "pä").encode()).toBe(
      `Basic ${Buffer.from("jürgen:pä", "latin1").toString("base64")}`,
    );
    const a = new BasicAuth("u", "p");
    expect([a.login, a.password, a.encoding]).toEqual(["u", "p", "latin1"]);
  });

  it("encodes utf-8 when asked", () => {
    const auth = new BasicAuth("用户", "пароль", "utf-8");
    expect(auth.encode()).toBe(`Basic ${Buffer.from("用户:пароль", "utf8").toString("base64")}`);
    expect(BasicAuth.decode(auth.encode(), "utf-8")).toMatchObject({ login: "用户", password: "пароль" });
  });

  it("refuses what latin1 cannot hold, naming the fix", () => {
    expect(() => new BasicAuth("用户", "x")).toThrow(/utf-8/);
  });

  it("refuses a ':' in the login, CR/LF/NUL anywhere, and unknown encodings", () => {
    expect(() => new BasicAuth("a:b", "c")).toThrow(InvalidArgumentError);
    expect(() => new BasicAuth("a\r\nX-Evil: 1", "c")).toThrow(InvalidArgumentError);
    expect(() => new BasicAuth("a", "b\n")).toThrow(InvalidArgumentError);
    expect(() => new BasicAuth("a", "b\0")).toThrow(InvalidArgumentError);
    expect(() => new BasicAuth("a", "b", "utf-16")).toThrow(InvalidArgumentError);
    const err = (() => {
      try {
        new BasicAuth("a:b", "c");
      } catch (e) {
        return e;
      }
    })();
    expect(err instanceof ValueError).toBe(true);
  });

  it("decode() reverses encode(), and refuses malformed headers", () => {
    const decoded = BasicAuth.decode(new BasicAuth("ada", "pass:with:colons").encode());
    expect([decoded.login, decoded.password]).toEqual(["ada", "pass:with:colons"]);
    expect(BasicAuth.decode("  basic   YWRhOg==  ").login).toBe("ada");
    for (const bad of ["Basic", "Bearer abc", "Basic !!!", "Basic YWRh", "Basic a b", ""]) {
      expect(() => BasicAuth.decode(bad), bad).toThrow(InvalidArgumentError);
    }
  });

  it("decode() takes the scheme in any case, unpadded base64, and an empty password", () => {
    expect(BasicAuth.decode("BASIC YWRhOnB3")).toMatchObject({ login: "ada", password: "pw" });
    expect(BasicAuth.decode("Basic YWRhOg")).toMatchObject({ login: "ada", password: "" });
    expect(BasicAuth.decode("Basic Og==")).toMatchObject({ login: "", password: "" });
    expect(BasicAuth.decode("\tBasic\tYWRhOnB3\r\n")).toMatchObject({ login: "ada", password: "pw" });
  });

  it("decode() refuses every other scheme, even with well-formed credentials", () => {
    const token = Buffer.from("ada:pw").toString("base64");
    for (const scheme of ["Bearer", "Digest", "Basicx", "xBasic", "Negotiate"]) {
      expect(() => BasicAuth.decode(`${scheme} ${token}`), scheme).toThrow(
        new InvalidArgumentError(`unknown authorization method ${scheme}`),
      );
    }
  });

  it("decode() says what was wrong with a malformed header", () => {
    expect(() => BasicAuth.decode("Basic")).toThrow(/could not parse/);
    expect(() => BasicAuth.decode("Basic YWRh OnB3")).toThrow(/could not parse/);
    expect(() => BasicAuth.decode(42 as unknown as string)).toThrow(InvalidArgumentError);
    expect(() => BasicAuth.decode(42 as unknown as string)).toThrow(/must be a string/);
    // Five characters of base64 cannot encode anything; "=" only at the end; no URL-safe alphabet.
    for (const bad of [
      "Basic YWRhO",
      "Basic YW=Rh",
      "Basic YWRh===",
      "Basic YW-h",
      "Basic YW_h",
      "Basic YWRh!",
    ]) {
      expect(() => BasicAuth.decode(bad), bad).toThrow(/invalid base64/);
    }
    expect(() => BasicAuth.decode(`Basic ${Buffer.from("nocolon").toString("base64")}`)).toThrow(
      /no ":" between login and password/,
    );
  });

  it("decode() reads latin1 unless told utf-8, and refuses an unknown encoding", () => {
    const utf8 = `Basic ${Buffer.from("jürgen:pä", "utf8").toString("base64")}`;
    expect(BasicAuth.decode(utf8, "utf-8")).toMatchObject({
      login: "jürgen",
      password: "pä",
      encoding: "utf-8",
    });
    expect(BasicAuth.decode(utf8).login).toBe("jÃ¼rgen");
    const latin1 = `Basic ${Buffer.from("jürgen:pä", "latin1").toString("base64")}`;
    expect(BasicAuth.decode(latin1)).toMatchObject({ login: "jürgen", password: "pä", encoding: "latin1" });
    expect(() => BasicAuth.decode(latin1, "ascii")).toThrow(InvalidArgumentError);
  });

  it("accepts the usual spellings of both encodings", () => {
    for (const name of ["latin1", "LATIN1", "latin-1", "latin_1", "ISO-8859-1", "iso_8859_1"]) {
      expect(new BasicAuth("a", "b", name).encoding, name).toBe("latin1");
    }
    for (const name of ["utf-8", "UTF-8", "utf8", "UTF_8"]) {
      expect(new BasicAuth("a", "b", name).encoding, name).toBe("utf-8");
    }
    for (const name of ["", "utf-16", "latin2", "iso-8859-15", "utf--8"]) {
      expect(() => new BasicAuth("a", "b", name), name).toThrow(/unsupported encoding/);
    }
  });

  it("latin1 holds every code point up to U+00FF and nothing above", () => {
    expect(new BasicAuth("\u00ff", "\u0001").encode()).toBe(
      `Basic ${Buffer.from([0xff, 0x3a, 0x01]).toString("base64")}`,
    );
    expect(() => new BasicAuth("a", "\u0100")).toThrow(
      new InvalidArgumentError('the credentials have characters latin1 cannot encode; use encoding "utf-8"'),
    );
    expect(() => new BasicAuth("a", "€")).toThrow(InvalidArgumentError);
    expect(new BasicAuth("a", "€", "utf-8").encode()).toBe(`Basic ${Buffer.from("a:€").toString("base64")}`);
  });

  it("refuses credentials that are not strings, naming which", () => {
    expect(() => new BasicAuth(undefined as unknown as string)).toThrow(/login must be a string/);
    expect(() => new BasicAuth("a", 1 as unknown as string)).toThrow(/password must be a string/);
    expect(() => new BasicAuth("a\rb")).toThrow(/login must not contain CR, LF or NUL/);
    expect(() => new BasicAuth("a:b")).toThrow(/":" is not allowed/);
  });

  it("fromUrl() reads percent-decoded userinfo, or gives null", () => {
    const auth = BasicAuth.fromUrl("https://ad%40a:p%3Ass@example.com/x");
    expect([auth?.login, auth?.password]).toEqual(["ad@a", "p:ss"]);
    expect(BasicAuth.fromUrl(new URL("https://example.com/"))).toBeNull();
    expect(BasicAuth.fromUrl("https://only-user@example.com/")?.password).toBe("");
    const passwordOnly = BasicAuth.fromUrl("https://:s3cret@example.com/");
    expect([passwordOnly?.login, passwordOnly?.password]).toEqual(["", "s3cret"]);
    expect(BasicAuth.fromUrl("https://j%C3%BCrgen:pw@example.com/", "utf-8")?.encode()).toBe(
      `Basic ${Buffer.from("jürgen:pw").toString("base64")}`,
    );
  });

  it("is accepted by a real server checking the header", async () => {
    await using srv = await startHttpServer((req, res) => {
      const ok = req.headers.authorization === new BasicAuth("ada", "secret").encode();
      res.statusCode = ok ? 200 : 401;
      res.end(ok ? "welcome" : "no");
    });
    const res = await request(srv.url(), {
      headers: { authorization: new BasicAuth("ada", "secret").encode() },
    });
    expect([res.statusCode, await res.body.text()]).toEqual([200, "welcome"]);
  });
});

describe("BearerAuth", () => {
  it("encodes a token", () => {
    expect(new BearerAuth("abc.def-ghi_jkl~mno+/=").encode()).toBe("Bearer abc.def-ghi_jkl~mno+/=");
  });

  it("refuses empty tokens, whitespace and control characters", () => {
    for (const bad of ["", "a b", "a\r\nb", "a\0", "tab\t", "a\x01b", "a\x1f", "del\x7f", "nb\u00a0sp"])
      expect(() => new BearerAuth(bad), JSON.stringify(bad)).toThrow(InvalidArgumentError);
    expect(() => new BearerAuth("a b")).toThrow(/non-empty and hold no whitespace/);
    expect(() => new BearerAuth(7 as unknown as string)).toThrow(/token must be a string/);
  });

  it("sends the token as is to a real server", async () => {
    await using srv = await startHttpServer((req, res) => res.end(req.headers.authorization));
    const res = await request(srv.url(), { headers: { authorization: new BearerAuth("t0k~en").encode() } });
    expect(await res.body.text()).toBe("Bearer t0k~en");
  });
});
