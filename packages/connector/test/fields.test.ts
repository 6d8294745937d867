import { InvalidArgumentError } from "@x/errors";
import { describe, expect, it } from "vitest";
import { checkHeaderName, checkHeaderValue, isSocketSource, isToken, TCPConnector } from "../src/index.js";

// The field checks the connector exports for every layer above it, and the SocketSource test.
describe("isToken, checkHeaderName, checkHeaderValue", () => {
  it("takes RFC 9110 tokens only, whole", () => {
    for (const ok of ["GET", "X-Custom_1", "!#$%&'*+-.^_`|~", "a"]) expect(isToken(ok), ok).toBe(true);
    for (const bad of [
      "",
      "X A",
      "X:A",
      "(x)",
      "é",
      " GET",
      "GET ",
      "a\n",
      42 as never,
      undefined as never,
    ]) {
      expect(isToken(bad), String(bad)).toBe(false);
    }
  });

  it("names the field and what is wrong with it", () => {
    const refusal = (run: () => void) => {
      try {
        run();
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(refusal(() => checkHeaderName("X A"))).toEqual(
      new InvalidArgumentError('invalid header name "X A"'),
    );
    expect(refusal(() => checkHeaderName("X A", "proxy header"))).toEqual(
      new InvalidArgumentError('invalid proxy header name "X A"'),
    );
    expect(refusal(() => checkHeaderName("X-A"))).toBeUndefined();
    expect(refusal(() => checkHeaderValue("X-A", 5 as never))).toEqual(
      new InvalidArgumentError("header X-A must be a string"),
    );
    for (const broken of ["a\r\nb", "a\nb", "a\0b", "\r"]) {
      expect(refusal(() => checkHeaderValue("X-A", broken, "proxy"))).toEqual(
        new InvalidArgumentError("proxy X-A must not contain CR, LF or NUL"),
      );
    }
    for (const odd of ["a\x01b", "a\x7fb", "\u010a", "\u4e2d"]) {
      expect(refusal(() => checkHeaderValue("X-A", odd))).toEqual(
        new InvalidArgumentError(
          "header X-A has a control character or a character above U+00FF; encode such text (e.g. with encodeURIComponent) first",
        ),
      );
    }
    for (const fine of ["", "plain", "tab\there", "caf\u00e9 \u00ff", "~!@#"]) {
      expect(
        refusal(() => checkHeaderValue("X-A", fine)),
        fine,
      ).toBeUndefined();
    }
  });
});

describe("isSocketSource", () => {
  it("is true for a connector and anything with connectSocket(), false for the rest", async () => {
    await using connector = new TCPConnector();
    expect(isSocketSource(connector)).toBe(true);
    expect(isSocketSource({ connectSocket: () => Promise.resolve() })).toBe(true);
    for (const not of [null, undefined, {}, { connectSocket: "no" }, () => {}, "connectSocket"]) {
      expect(isSocketSource(not), String(not)).toBe(false);
    }
  });
});
