import { deflateSync } from "node:zlib";
import { BasicAuth } from "@x/auth";
import { ClientConnectionError, ClientPayloadError, ClientStateError, InvalidArgumentError } from "@x/errors";
import { startHttpServer, startRawServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession, retryMiddleware, StreamReader } from "../src/index.js";

// Bad input is refused where it entered, with an @x/errors class and a message that says what
// is wrong. Requests go to a port nothing listens on: they must fail before any I/O.
const NOWHERE = "http://127.0.0.1:9/";

async function refusal(run: () => unknown): Promise<Error> {
  try {
    await run();
  } catch (err) {
    return err as Error;
  }
  throw new Error("nothing was refused");
}

describe("session options", () => {
  it.each<[string, unknown, string]>([
    ["not an object", "fast", "options must be an object"],
    ["auth without encode()", { auth: { user: "a" } }, "auth must have an encode() method"],
    ["proxyAuth without encode()", { proxyAuth: "a:b" }, "proxyAuth must have an encode() method"],
    ["raiseForStatus", { raiseForStatus: "yes" }, "raiseForStatus must be a boolean or a function"],
    [
      "fallbackCharsetResolver",
      { fallbackCharsetResolver: "latin1" },
      "fallbackCharsetResolver must be a function",
    ],
    ["jsonSerialize", { jsonSerialize: {} }, "jsonSerialize must be a function"],
    ["connector", { connector: {} }, "connector must be an undici Dispatcher (with a dispatch method)"],
    ["headers", { headers: 42 }, "headers must be an object"],
    ["header pairs in text", { headers: "X-A: 1" }, "headers must be [name, value] pairs"],
    [
      "timeout with the seed's readTimeout",
      { timeout: { total: 1 }, readTimeout: 1 },
      "timeout cannot be combined with the seed's readTimeout/connTimeout; use timeout only",
    ],
    [
      "timeout with the seed's connTimeout",
      { timeout: 5, connTimeout: 1 },
      "timeout cannot be combined with the seed's readTimeout/connTimeout; use timeout only",
    ],
    ["version", { version: "2.0" }, 'version must be "1.0" or "1.1"'],
    ["version object", { version: { major: 2, minor: 0 } }, 'version must be "1.0" or "1.1"'],
    ["middlewares", { middlewares: [() => {}, "x"] }, "middlewares must be an array of functions"],
    ["middlewares not a list", { middlewares: () => {} }, "middlewares must be an array of functions"],
    ["readBufsize", { readBufsize: 0 }, "readBufsize must be a positive integer"],
    ["maxLineSize", { maxLineSize: 1.5 }, "maxLineSize must be a positive integer"],
    ["maxFieldSize", { maxFieldSize: -1 }, "maxFieldSize must be a positive integer"],
    ["maxHeaders", { maxHeaders: 0 }, "maxHeaders must be a positive integer"],
    ["maxDecompressedSize", { maxDecompressedSize: 0 }, "maxDecompressedSize must be a positive integer"],
    ["maxContentCodings", { maxContentCodings: 0.5 }, "maxContentCodings must be a positive integer"],
    ["header pairs", { headers: [["X-A", "1", "2"]] }, "headers must be [name, value] pairs"],
  ])("%s", async (_what, options, message) => {
    const err = await refusal(() => new ClientSession(options as never));
    expect(err).toEqual(new InvalidArgumentError(message));
  });

  it("takes both HTTP versions, as text or as aiohttp's {major, minor}", async () => {
    await using srv = await startHttpServer((req, res) => res.end(req.headers.connection ?? "-"));
    const sent: string[] = [];
    for (const version of ["1.0", "1.1", { major: 1, minor: 0 }, { major: 1, minor: 1 }]) {
      await using session = new ClientSession({ version } as never);
      sent.push(await (await session.get(srv.url("/"))).text());
    }
    // HTTP/1.0 semantics: every request asks the server to close.
    expect(sent).toEqual(["close", "keep-alive", "close", "keep-alive"]);
  });

  it("retryMiddleware's attempts", () => {
    for (const attempts of [0, -1, 1.5]) {
      expect(() => retryMiddleware({ attempts })).toThrow(
        new InvalidArgumentError("attempts must be a positive integer"),
      );
    }
  });
});

describe("request options", () => {
  it.each<[string, () => (s: ClientSession) => Promise<unknown>, string]>([
    ["options not an object", () => (s) => s.get(NOWHERE, "x" as never), "options must be an object"],
    ["a method that is not a token", () => (s) => s.request("GE T", NOWHERE), 'invalid HTTP method "GE T"'],
    [
      "data and json",
      () => (s) => s.post(NOWHERE, { data: "a", json: {} }),
      "data and json cannot be used together",
    ],
    [
      "form pairs",
      () => (s) => s.post(NOWHERE, { data: [["a"]] as never }),
      "form data must be [name, value] pairs",
    ],
    [
      "chunked with Content-Length",
      () => (s) => s.post(NOWHERE, { data: "x", chunked: true, headers: { "Content-Length": "1" } }),
      "chunked cannot be combined with a Content-Length header",
    ],
    [
      "compress with Content-Encoding",
      () => (s) => s.post(NOWHERE, { data: "x", compress: true, headers: { "Content-Encoding": "br" } }),
      "compress cannot be combined with a Content-Encoding header",
    ],
    [
      "a Content-Length that is not a length",
      () => (s) => s.post(NOWHERE, { data: "x", headers: { "Content-Length": "-1" } }),
      "Content-Length must be a non-negative integer",
    ],
    [
      "maxRedirects",
      () => (s) => s.get(NOWHERE, { maxRedirects: -1 }),
      "maxRedirects must be a non-negative integer",
    ],
    [
      "maxRedirects not whole",
      () => (s) => s.get(NOWHERE, { maxRedirects: 1.5 }),
      "maxRedirects must be a non-negative integer",
    ],
    [
      "readBufsize per request",
      () => (s) => s.get(NOWHERE, { readBufsize: 0 }),
      "readBufsize must be a positive integer",
    ],
    [
      "maxLineSize per request",
      () => (s) => s.get(NOWHERE, { maxLineSize: 1.5 }),
      "maxLineSize must be a positive integer",
    ],
    [
      "maxFieldSize per request",
      () => (s) => s.get(NOWHERE, { maxFieldSize: -1 }),
      "maxFieldSize must be a positive integer",
    ],
    [
      "maxHeaders per request",
      () => (s) => s.get(NOWHERE, { maxHeaders: 0 }),
      "maxHeaders must be a positive integer",
    ],
    [
      "timeout with the seed's connTimeout",
      () => (s) => s.get(NOWHERE, { timeout: 5, connTimeout: 5 } as never),
      "timeout cannot be combined with the seed's readTimeout/connTimeout",
    ],
    [
      "a header value that is not text",
      () => (s) => s.get(NOWHERE, { headers: { "X-A": {} as never } }),
      "header X-A must be a string, number or boolean, got object",
    ],
    [
      "a header pair that is not a pair",
      () => (s) => s.get(NOWHERE, { headers: [["X-A"]] as never }),
      "headers must be [name, value] pairs",
    ],
    [
      "URL credentials with auth",
      () => (s) => s.get("http://u:p@127.0.0.1:9/", { auth: new BasicAuth("a", "b") }),
      "credentials in the URL cannot be combined with auth",
    ],
    [
      "timeout with the seed's readTimeout",
      () => (s) => s.get(NOWHERE, { timeout: 5, readTimeout: 5 } as never),
      "timeout cannot be combined with the seed's readTimeout/connTimeout",
    ],
  ])("%s", async (_what, make, message) => {
    await using session = new ClientSession();
    const err = await refusal(() => make()(session));
    expect(err).toEqual(new InvalidArgumentError(message));
  });

  it("a jsonSerialize that does not return text", async () => {
    await using session = new ClientSession({ jsonSerialize: () => 42 as never });
    const err = await refusal(() => session.post(NOWHERE, { json: { a: 1 } }));
    expect(err).toEqual(new InvalidArgumentError("jsonSerialize must return a string"));
  });

  it("a streamed body that yields something other than text or bytes, and nothing is sent whole", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readToEnd();
    });
    await using session = new ClientSession();
    async function* numbers() {
      yield "a";
      yield 5;
    }
    const err = await refusal(() => session.post(srv.url("/"), { data: numbers() as never }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toContain("a streamed body must yield strings or bytes");
  });
});

describe("reading a response", () => {
  it("text() names a body that is not in its charset, and a charset nobody knows", async () => {
    await using srv = await startHttpServer((req, res) => {
      if (req.url === "/utf8") res.setHeader("content-type", "text/plain; charset=utf-8");
      if (req.url === "/sjis") res.setHeader("content-type", "text/plain; charset=shift_jis");
      res.end(Buffer.from([0x61, 0xff, 0xfe, 0x80]));
    });
    await using session = new ClientSession();
    const text = async (path: string, encoding?: string) =>
      refusal(async () => (await session.get(srv.url(path))).text(encoding));
    expect(await text("/utf8")).toEqual(new ClientPayloadError("The response body is not valid utf-8"));
    expect(await text("/sjis")).toEqual(new ClientPayloadError("The response body is not valid shift_jis"));
    expect(await text("/any", "no-such-charset")).toEqual(
      new ClientPayloadError('Unknown text encoding "no-such-charset"'),
    );
  });

  it("a body read after release() is ClientConnectionError('Connection closed')", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
      await conn.readToEnd();
    });
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/"));
    await resp.release();
    expect(await refusal(() => resp.read())).toEqual(new ClientConnectionError("Connection closed"));
  });

  it("an unknown or truncated content encoding is a ClientPayloadError naming it", async () => {
    await using srv = await startHttpServer((req, res) => {
      if (req.url === "/br2") {
        res.setHeader("content-encoding", "br2");
        res.end("x");
        return;
      }
      res.setHeader("content-encoding", "deflate");
      res.end(deflateSync(Buffer.alloc(1000, 1)).subarray(0, 1));
    });
    await using session = new ClientSession();
    const unknown = await refusal(async () => (await session.get(srv.url("/br2"))).read());
    expect(unknown).toEqual(new ClientPayloadError('Cannot decode content encoding "br2"'));
    const truncated = await refusal(async () => (await session.get(srv.url("/deflate"))).read());
    expect(truncated).toEqual(new ClientPayloadError("Can not decode content-encoding: deflate"));
    expect((truncated.cause as Error).message).toBe("truncated deflate stream");
  });

  it("StreamReader refuses reads it cannot do", async () => {
    const reader = new StreamReader();
    expect(await refusal(() => reader.readuntil(""))).toEqual(
      new InvalidArgumentError("separator must not be empty"),
    );
    for (const n of [-1, 1.5]) {
      expect(await refusal(() => reader.readexactly(n))).toEqual(
        new InvalidArgumentError("readexactly needs a non-negative integer"),
      );
    }
    for (const n of [0, 2.5]) {
      expect(await refusal(() => reader.iterChunked(n).next())).toEqual(
        new InvalidArgumentError("iterChunked needs a positive integer"),
      );
    }
    const waiting = reader.read(1);
    expect(await refusal(() => reader.read(1))).toEqual(
      new ClientStateError("another read is already waiting for data on this body"),
    );
    reader.feed(Buffer.from("x"));
    expect(String(await waiting)).toBe("x");
  });

  it("readline() past maxLineSize names the limit", async () => {
    const reader = new StreamReader(1024, 16);
    reader.feed(Buffer.alloc(40, 0x61));
    expect(await refusal(() => reader.readline())).toEqual(
      new ClientPayloadError("Line is too long: no separator within 16 bytes"),
    );
  });
});
