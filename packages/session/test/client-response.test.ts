import { ClientConnectionError, ClientPayloadError, ClientResponseError, ContentTypeError } from "@x/errors";
import { type RawConnection, sleep, startHttpServer, startRawServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession, type ClientSessionOptions } from "../src/index.js";
import { ScriptedDispatcher } from "./scripted-dispatcher.js";

// ClientResponse as a user sees it: its fields from odd headers, text decoding, the status
// checks and their error bodies, and what release()/close()/`await using` leave readable.

const URL_ = "http://scripted.test/";
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** A session whose dispatcher answers every request with this status, these headers and this body, whole. */
function answering(
  status: number,
  headers: Record<string, string | string[]>,
  body: string | Buffer = "",
  options: ClientSessionOptions = {},
) {
  const connector = new ScriptedDispatcher((handler, controller) => {
    handler.onResponseStart?.(controller, status, headers, "");
    if (body.length > 0) handler.onResponseData?.(controller, Buffer.from(body));
    handler.onResponseEnd?.(controller, {});
  });
  return new ClientSession({ ...options, connector });
}

/** What `run` threw (or rejected with). */
async function thrown(run: () => unknown): Promise<Error> {
  try {
    await run();
  } catch (err) {
    return err as Error;
  }
  throw new Error("nothing was thrown");
}

/** A raw server answering `head` then `body` and keeping the connection open (the body never ends). */
function holding(head: string, body: string) {
  return startRawServer(async (conn: RawConnection) => {
    await conn.readHead();
    await conn.write(head + body);
  });
}

describe("ClientResponse fields", () => {
  it("headers is one Headers object: what a caller does to it stays", async () => {
    await using session = answering(200, { "x-a": "1" });
    const resp = await session.get(URL_);
    resp.headers.append("x-note", "mine");
    expect(resp.headers.get("x-note")).toBe("mine");
    expect(resp.headers.get("x-a")).toBe("1");
  });

  it.each<[string, string | undefined, number | null]>([
    ["two digits", "12", 12],
    ["zero", "0", 0],
    ["leading zeros", "007", 7],
    ["digits then letters", "12abc", null],
    ["letters then digits", "abc12", null],
    ["digits with a space between", "1 2", null],
    ["empty", "", null],
    ["absent", undefined, null],
  ])("contentLength of a Content-Length that is %s is %s", async (_what, value, expected) => {
    await using session = answering(200, value === undefined ? {} : { "content-length": value });
    const resp = await session.get(URL_);
    expect(resp.contentLength).toBe(expected);
  });

  it("links come from Link fields only, not from other fields that look like one", async () => {
    await using session = answering(200, {
      "x-link": '</elsewhere>; rel="prev"',
      link: '</next>; rel="next"',
      "x-more": '</more>; rel="more"',
    });
    const resp = await session.get(URL_);
    expect([...resp.links.keys()]).toEqual(["next"]);
    expect(resp.links.get("next")?.url.href).toBe("http://scripted.test/next");
  });
});

describe("text encodings", () => {
  const cp1252 = { fallbackCharsetResolver: () => "windows-1252" };

  it("a JSON type without charset is UTF-8 whatever the fallback resolver says", async () => {
    await using session = answering(200, { "content-type": "application/json" }, '"caf\u00e9"', cp1252);
    const resp = await session.get(URL_);
    expect(resp.getEncoding()).toBe("utf-8");
    expect(await resp.text()).toBe('"caf\u00e9"');
    expect(await resp.json()).toBe("caf\u00e9");
    // The resolver is in force: a text type without charset goes by it.
    await using plain = answering(200, { "content-type": "text/plain" }, Buffer.from([0x63, 0xe9]), cp1252);
    expect(await (await plain.get(URL_)).text()).toBe("c\u00e9");
  });

  it("a charset Node does not know falls back to the resolver", async () => {
    const type = { "content-type": "text/plain; charset=x-no-such-charset" };
    await using session = answering(200, type, Buffer.from([0x63, 0xe9]), cp1252);
    const resp = await session.get(URL_);
    expect(resp.charset).toBe("x-no-such-charset");
    expect(resp.getEncoding()).toBe("windows-1252");
    expect(await resp.text()).toBe("c\u00e9");
    // With the default resolver that is UTF-8.
    await using utf8 = answering(200, type, "caf\u00e9");
    expect(await (await utf8.get(URL_)).text()).toBe("caf\u00e9");
  });

  it("UTF-8 is decoded as Python does: a byte-order mark stays, however the encoding is spelled", async () => {
    const body = Buffer.concat([BOM, Buffer.from("hi")]);
    await using session = answering(200, { "content-type": "text/plain; charset=utf-8" }, body);
    const resp = await session.get(URL_);
    expect(await resp.text()).toBe("\ufeffhi");
    expect(await resp.text("utf8")).toBe("\ufeffhi");
    expect(await resp.text("UTF-8")).toBe("\ufeffhi");
    expect(await resp.text("UTF8")).toBe("\ufeffhi");
  });

  it("an encoding Node does not know is a ClientPayloadError naming it, with the cause", async () => {
    await using session = answering(200, { "content-type": "text/plain" }, "abc");
    const resp = await session.get(URL_);
    const err = await thrown(() => resp.text("x-klingon"));
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect(err.message).toBe('Unknown text encoding "x-klingon"');
    expect(err.cause).toBeInstanceOf(RangeError);
  });

  it("bytes invalid in the chosen encoding are a ClientPayloadError with the decoder's error as cause", async () => {
    await using session = answering(200, { "content-type": "text/plain" }, Buffer.from([0x41]));
    const resp = await session.get(URL_);
    const err = await thrown(() => resp.text("utf-16le"));
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect(err.message).toBe("The response body is not valid utf-16le");
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it("a fallback resolver naming an unknown encoding: text() refuses, a status error keeps bytes", async () => {
    await using session = answering(404, { "content-type": "text/plain" }, "missing", {
      fallbackCharsetResolver: () => "x-unknown",
    });
    const resp = await session.get(URL_);
    const refused = await thrown(() => resp.text());
    expect(refused).toBeInstanceOf(ClientPayloadError);
    expect(refused.message).toBe('Unknown text encoding "x-unknown"');
    const err = (await thrown(() => resp.raiseForStatus())) as ClientResponseError;
    expect(err).toBeInstanceOf(ClientResponseError);
    expect(Buffer.isBuffer(err.body)).toBe(true);
    expect((err.body as Buffer).toString()).toBe("missing");
  });
});

describe("json()", () => {
  it("an explicit contentType must match (case-insensitively); a JSON type does not pass for another", async () => {
    await using json = answering(200, { "content-type": "application/json" }, '{"a":1}');
    const resp = await json.get(URL_);
    const err = (await thrown(() => resp.json({ contentType: "text/plain" }))) as ContentTypeError;
    expect(err).toBeInstanceOf(ContentTypeError);
    expect(err.message).toContain(
      "Attempt to decode JSON with unexpected mimetype: application/json (expected text/plain",
    );
    await using plain = answering(200, { "content-type": "text/plain" }, '{"a":2}');
    expect(await (await plain.get(URL_)).json({ contentType: "Text/Plain" })).toEqual({ a: 2 });
  });
});

describe("status checks", () => {
  it("raiseForStatus() throws from 400 on, not below", async () => {
    await using at400 = answering(400, {}, "bad");
    const resp = await at400.get(URL_);
    const err = (await thrown(() => resp.raiseForStatus())) as ClientResponseError;
    expect(err).toBeInstanceOf(ClientResponseError);
    expect(err.status).toBe(400);
    await using at399 = answering(399, {}, "fine");
    const fine = await at399.get(URL_);
    expect(() => fine.raiseForStatus()).not.toThrow();
    expect(await fine.text()).toBe("fine");
  });

  it("a session with raiseForStatus: true fails from 400 on, and passes 399 and 200", async () => {
    const on = { raiseForStatus: true };
    await using at400 = answering(400, { "content-type": "text/plain" }, "bad request", on);
    const err = (await thrown(() => at400.get(URL_))) as ClientResponseError;
    expect(err).toBeInstanceOf(ClientResponseError);
    expect(err.status).toBe(400);
    expect(err.body).toBe("bad request");
    await using at399 = answering(399, {}, "fine", on);
    expect(await (await at399.get(URL_)).text()).toBe("fine");
    await using at200 = answering(200, {}, "fine", on);
    expect(await (await at200.get(URL_)).text()).toBe("fine");
  });

  it.each<[string, boolean]>([
    ["application/octet-stream", false],
    ["image/png", false],
    ["application/xml-dtd", false],
    ["application/vnd.thing+xml", true],
    ["text/csv", true],
  ])("a status error keeps a %s body as text: %s", async (type, asText) => {
    const body = Buffer.from("a,b");
    await using session = answering(500, { "content-type": type }, body, { raiseForStatus: true });
    const err = (await thrown(() => session.get(URL_))) as ClientResponseError;
    expect(err).toBeInstanceOf(ClientResponseError);
    if (asText) expect(err.body).toBe("a,b");
    else {
      expect(Buffer.isBuffer(err.body)).toBe(true);
      expect(err.body).toEqual(body);
    }
  });

  it("raiseForStatus: true keeps the first 8 KiB of an error body that comes in pieces", async () => {
    const rest = "b".repeat(10_000);
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write(
        `HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: ${100 + rest.length}\r\n\r\n${"a".repeat(100)}`,
      );
      await sleep(30);
      await conn.end(rest);
    });
    await using session = new ClientSession({ raiseForStatus: true });
    const err = (await thrown(() => session.get(srv.url("/")))) as ClientResponseError;
    expect(err.status).toBe(500);
    expect(err.body).toBe("a".repeat(100) + "b".repeat(8192 - 100));
  });

  it("raiseForStatus: true keeps what arrived of a body that then failed", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nupstream f",
      );
      // The connection ends 90 bytes short.
      await conn.end();
    });
    await using session = new ClientSession({ raiseForStatus: true });
    const err = (await thrown(() => session.get(srv.url("/")))) as ClientResponseError;
    expect(err).toBeInstanceOf(ClientResponseError);
    expect(err.status).toBe(502);
    expect(err.body).toBe("upstream f");
  });
});

describe("release(), close() and await using", () => {
  it("a body that had fully arrived stays readable after release()", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("all here"));
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/"));
    await resp.waitForClose();
    resp.release();
    expect(resp.closed).toBe(true);
    expect(await resp.text()).toBe("all here");
  });

  it("a body that failed, then was released, reads as ClientConnectionError('Connection closed')", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart");
      await conn.end();
    });
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/"));
    await resp.waitForClose();
    resp.release();
    const err = await thrown(() => resp.read());
    expect(err).toBeInstanceOf(ClientConnectionError);
    expect(err.message).toBe("Connection closed");
  });

  it("release() during a read ends it with ClientConnectionError('Connection closed')", async () => {
    await using srv = await holding("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "part");
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/"));
    const reading = resp.read().catch((e: unknown) => e as Error);
    await new Promise((resolve) => setImmediate(resolve));
    resp.release();
    const err = await reading;
    expect(err).toBeInstanceOf(ClientConnectionError);
    expect((err as Error).message).toBe("Connection closed");
    const later = await thrown(() => resp.content.read());
    expect(later).toBeInstanceOf(ClientConnectionError);
    expect(later.message).toBe("Connection closed");
  });

  it("close() releases an unread body", async () => {
    await using srv = await holding("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "part");
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/"));
    expect(resp.closed).toBe(false);
    resp.close();
    expect(resp.closed).toBe(true);
    expect(resp.connection).toBeNull();
    const err = await thrown(() => resp.read());
    expect(err).toBeInstanceOf(ClientConnectionError);
    await srv.stats.idle();
  });

  it("await using releases an unread body at the end of the block", async () => {
    await using srv = await holding("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "part");
    await using session = new ClientSession();
    let kept: Awaited<ReturnType<ClientSession["get"]>> | undefined;
    {
      await using resp = await session.get(srv.url("/"));
      kept = resp;
      expect(resp.closed).toBe(false);
    }
    expect(kept.closed).toBe(true);
    const err = await thrown(() => kept?.read());
    expect(err).toBeInstanceOf(ClientConnectionError);
    await srv.stats.idle();
  });
});
