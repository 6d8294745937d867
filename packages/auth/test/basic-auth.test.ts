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

  it("fromUrl() reads percent-decoded userinfo, or gives null", () => {
    const auth = BasicAuth.fromUrl("https://ad%40a:p%3Ass@example.com/x");
    expect([auth?.login, auth?.password]).toEqual(["ad@a", "p:ss"]);
    expect(BasicAuth.fromUrl(new URL("https://example.com/"))).toBeNull();
    expect(BasicAuth.fromUrl("https://only-user@example.com/")?.password).toBe("");
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
    for (const bad of ["", "a b", "a\r\nb", "a\0", "tab\t"])
      expect(() => new BearerAuth(bad)).toThrow(InvalidArgumentError);
  });
});
