import { describe, expect, it } from "vitest";
import { CookieJar, quoteCookieValue } from "../src/index.js";

// Python's http.cookies (and so aiohttp's quote_cookie=True) writes a value in double quotes when
// it holds a character outside its legal set; `"` and `\` get a backslash, and `,`, `;`, controls
// and bytes 0x7f–0xff a three-digit octal escape. These are the strings Python 3 gives.
describe("quoteCookieValue, as Python's http.cookies writes values", () => {
  it.each([
    ["", ""],
    ["plain", "plain"],
    ["!#$%&'*+-.^_`|~:", "!#$%&'*+-.^_`|~:"],
    ["AZaz09", "AZaz09"],
    ["a b", '"a b"'],
    ["(x)/<y>=?@[z]{}", '"(x)/<y>=?@[z]{}"'],
    ["a,b", '"a\\054b"'],
    ["a;b", '"a\\073b"'],
    ["tab\there", '"tab\\011here"'],
    ["\x00", '"\\000"'],
    ["\x01\x1f", '"\\001\\037"'],
    ["\x7f", '"\\177"'],
    ["\x80", '"\\200"'],
    ["é", '"\\351"'],
    ["\xff", '"\\377"'],
    ["Ā", '"Ā"'],
    ["€ 1", '"€ 1"'],
    ["😀", '"😀"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["back\\slash", '"back\\\\slash"'],
  ])("%j → %s", (value, quoted) => {
    expect(quoteCookieValue(value)).toBe(quoted);
  });

  it("leaves a value already in double quotes alone, but not a lone or one-sided quote", () => {
    expect(quoteCookieValue('""')).toBe('""');
    expect(quoteCookieValue('"a b"')).toBe('"a b"');
    expect(quoteCookieValue('"')).toBe('"\\""');
    expect(quoteCookieValue('"open')).toBe('"\\"open"');
    expect(quoteCookieValue('close"')).toBe('"close\\""');
  });

  it("is what a jar sends, unless quoteCookie is false", () => {
    const url = "http://example.com/";
    for (const quote of [true, false]) {
      const jar = new CookieJar({ quoteCookie: quote });
      // A value that arrives already quoted is sent back as it came.
      jar.updateCookiesFromHeaders(['q="\\001 x"'], url);
      expect(jar.filterCookies(url).get("q")?.value).toBe('"\\001 x"');
      jar.updateCookiesFromHeaders(["r=a b"], url);
      expect(jar.filterCookies(url).get("r")?.value).toBe(quote ? '"a b"' : "a b");
      expect([...jar].find((c) => c.name === "r")?.value).toBe(quote ? '"a b"' : "a b");
      expect(jar.quoteCookie).toBe(quote);
    }
  });
});
