import type { IncomingMessage } from "node:http";
import { ClientPayloadError, InvalidArgumentError } from "@x/errors";
import {
  closedPort,
  type EchoReply,
  echo,
  echoHeader,
  readBody,
  redirector,
  startHttpServer,
} from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession, type Progress } from "../src/index.js";

// What a server receives for the odder kinds of `data`, the refusals that stop a body before
// anything is sent (with their messages), and how bodies that are cut, chunked or watched go out.

const DATA_MUST =
  "data must be a string, bytes, URLSearchParams, FormData, a Blob, a form record, a Readable, a ReadableStream or an async iterable";
const ONE_SHOT =
  "Cannot send the request body again: it was a one-shot stream and has been consumed. Use bytes, a string, a Blob or FormData to allow redirects and retries to resend it.";

async function echoJson(resp: { json(o: { contentType: null }): Promise<unknown> }): Promise<EchoReply> {
  return (await resp.json({ contentType: null })) as EchoReply;
}

/** A server that records what it got (head and body) and answers 200 "ok". */
async function recorder() {
  const got: Array<{ headers: IncomingMessage["headers"]; body: Buffer }> = [];
  const srv = await startHttpServer(async (req, res) => {
    got.push({ headers: req.headers, body: await readBody(req) });
    res.end("ok");
  });
  return Object.assign(srv, { got });
}

describe("data that is not what it looks like", () => {
  it("refuses functions dressed as FormData, async iterables or plain records, before any I/O", async () => {
    const port = await closedPort();
    await using session = new ClientSession();
    const formLike = Object.assign(() => {}, {
      [Symbol.toStringTag]: "FormData",
      entries: () => [["a", "1"]][Symbol.iterator](),
    });
    const iterableLike = Object.assign(() => {}, {
      async *[Symbol.asyncIterator]() {
        yield "x";
      },
    });
    const recordLike = Object.setPrototypeOf(
      Object.assign(() => {}, { a: "1" }),
      Object.prototype,
    );
    for (const data of [formLike, iterableLike, recordLike]) {
      const err = await session
        .post(`http://127.0.0.1:${port}/`, { data: data as never })
        .catch((e: unknown) => e);
      expect(err).toEqual(new InvalidArgumentError(DATA_MUST));
    }
  });

  it("sends a plain record that only claims to be FormData as a URL-encoded form", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const data = { [Symbol.toStringTag]: "FormData", a: "1" };
    const reply = await echoJson(await session.post(srv.url(), { data: data as never }));
    expect(echoHeader(reply, "content-type")).toBe("application/x-www-form-urlencoded");
    expect(reply.body).toBe("a=1");
  });

  it("sends a FormData-like object's entries as multipart, and refuses an entry that is neither text nor a Blob", async () => {
    await using srv = await recorder();
    await using session = new ClientSession();
    const like = (entries: Array<[string, unknown]>) => ({
      [Symbol.toStringTag]: "FormData",
      entries: () => entries[Symbol.iterator](),
    });
    const file = new File(["file body"], "a.txt", { type: "text/plain" });
    await (
      await session.post(srv.url(), {
        data: like([
          ["field", "value"],
          ["up", file],
        ]) as never,
      })
    ).text();
    expect(srv.got).toHaveLength(1);
    const type = String(srv.got[0]!.headers["content-type"]);
    expect(type).toMatch(/^multipart\/form-data; boundary=/);
    const body = srv.got[0]!.body.toString();
    expect(body).toContain('name="field"\r\n\r\nvalue\r\n');
    expect(body).toContain('name="up"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n');

    const err = await session.post(srv.url(), { data: like([["n", 42]]) as never }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(srv.got).toHaveLength(1);
  });

  it("names the multipart field or file name that carries a line break", async () => {
    const port = await closedPort();
    await using session = new ClientSession();
    const field = new FormData();
    field.append("a\r\nb", "v");
    expect(await session.post(`http://127.0.0.1:${port}/`, { data: field }).catch((e: unknown) => e)).toEqual(
      new InvalidArgumentError('multipart field name "a\\r\\nb" must not contain CR, LF or NUL'),
    );
    const file = new FormData();
    file.append("f", new Blob(["x"]), "a\nb.txt");
    expect(await session.post(`http://127.0.0.1:${port}/`, { data: file }).catch((e: unknown) => e)).toEqual(
      new InvalidArgumentError('multipart file name "a\\nb.txt" must not contain CR, LF or NUL'),
    );
  });

  it("names the form field whose value cannot be URL-encoded", async () => {
    const port = await closedPort();
    await using session = new ClientSession();
    const err = await session
      .post(`http://127.0.0.1:${port}/`, { data: { ok: "1", bad: {} } as never })
      .catch((e: unknown) => e);
    expect(err).toEqual(new InvalidArgumentError('form field "bad" must be a string, number or boolean'));
  });

  it("takes data: null as no data, alone and beside json", async () => {
    await using srv = await recorder();
    await using session = new ClientSession();
    await (await session.post(srv.url(), { data: null })).text();
    await (await session.post(srv.url(), { data: null, json: { a: 1 } })).text();
    expect(
      srv.got.map((g) => [g.headers["content-type"], g.headers["content-length"], String(g.body)]),
    ).toEqual([
      ["application/octet-stream", "0", ""],
      ["application/json", "7", '{"a":1}'],
    ]);
  });
});

describe("a web ReadableStream", () => {
  it("that yields something other than text or bytes is refused as the other streams are", async () => {
    await using srv = await recorder();
    await using session = new ClientSession();
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("a"));
        controller.enqueue(42 as never);
        controller.close();
      },
    });
    const err = await session.post(srv.url(), { data: stream }).catch((e: unknown) => e);
    expect(err).toEqual(new InvalidArgumentError("a streamed body must yield strings or bytes"));
  });
  it("cut by a Content-Length header is cancelled once the cut is reached, with an AbortError", async () => {
    await using srv = await recorder();
    await using session = new ClientSession();
    let pulls = 0;
    let cancelled: unknown = "not cancelled";
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulls++;
          controller.enqueue(new TextEncoder().encode(`${pulls}`.padStart(2, "0")));
        },
        cancel(reason) {
          cancelled = reason;
        },
      },
      { highWaterMark: 0 },
    );
    await (await session.post(srv.url(), { data: stream, headers: { "Content-Length": "4" } })).text();
    expect(String(srv.got[0]!.body)).toBe("0102");
    expect(cancelled).toBeInstanceOf(Error);
    expect((cancelled as Error).name).toBe("AbortError");
  });
});

describe("one-shot and re-sendable bodies on a 307", () => {
  it("a web ReadableStream or an async iterable cannot follow a 307", async () => {
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession();
    const stream = () => new Blob(["once"]).stream();
    const iterable = () =>
      (async function* () {
        yield "once";
      })();
    for (const data of [stream(), iterable()]) {
      const err = await session.post(srv.url("/r/307?to=/end"), { data }).catch((e: unknown) => e);
      expect(err).toEqual(new ClientPayloadError(ONE_SHOT));
    }
  });

  it("a FormData sent chunked is encoded once and sent again, same bytes, after a 307", async () => {
    const bodies: Array<[string | undefined, string | undefined, string]> = [];
    await using srv = await startHttpServer(async (req, res) => {
      const body = await readBody(req);
      bodies.push([req.url, req.headers["transfer-encoding"], body.toString()]);
      if (req.url === "/start") res.writeHead(307, { location: "/end", "content-length": "0" }).end();
      else res.end("done");
    });
    await using session = new ClientSession();
    const form = new FormData();
    form.append("f", "v");
    const resp = await session.post(srv.url("/start"), { data: form, chunked: true });
    expect(await resp.text()).toBe("done");
    expect(bodies.map(([url, te]) => [url, te])).toEqual([
      ["/start", "chunked"],
      ["/end", "chunked"],
    ]);
    expect(bodies[0]![2]).toContain('name="f"\r\n\r\nv\r\n');
    expect(bodies[1]![2]).toBe(bodies[0]![2]);
  });
});

describe("bodies as they go out", () => {
  it("a chunked body of known length reports that length as its upload total", async () => {
    await using srv = await recorder();
    await using session = new ClientSession();
    const up: Progress[] = [];
    await (
      await session.post(srv.url(), { data: "chunky", chunked: true, onUploadProgress: (p) => up.push(p) })
    ).text();
    expect(srv.got[0]!.headers["transfer-encoding"]).toBe("chunked");
    expect(String(srv.got[0]!.body)).toBe("chunky");
    expect(up).toEqual([{ loaded: 6, total: 6 }]);
  });

  it("an empty body, chunked or not, reports no upload progress (no empty chunk goes out)", async () => {
    await using srv = await recorder();
    await using session = new ClientSession();
    const up: Progress[] = [];
    const onUploadProgress = (p: Progress) => up.push(p);
    await (await session.post(srv.url(), { data: "", onUploadProgress })).text();
    await (await session.post(srv.url(), { data: "", chunked: true, onUploadProgress })).text();
    // (undici frames a stream that yields nothing with `Content-Length: 0`.)
    expect(srv.got.map((g) => [g.headers["content-length"], g.body.length])).toEqual([
      ["0", 0],
      ["0", 0],
    ]);
    expect(up).toEqual([]);
  });

  it("a body of exactly 64 KiB is watched as one 64 KiB piece", async () => {
    await using srv = await recorder();
    await using session = new ClientSession();
    const up: Progress[] = [];
    const size = 64 * 1024;
    await (
      await session.post(srv.url(), { data: Buffer.alloc(size, 7), onUploadProgress: (p) => up.push(p) })
    ).text();
    expect(srv.got[0]!.headers["content-length"]).toBe(String(size));
    expect(srv.got[0]!.body.equals(Buffer.alloc(size, 7))).toBe(true);
    expect(up).toEqual([{ loaded: size, total: size }]);
  });

  it("a stream cut by a Content-Length header is read no further than needed", async () => {
    await using srv = await recorder();
    await using session = new ClientSession();
    let pulled = 0;
    let finished = false;
    const source = async function* () {
      try {
        for (const piece of ["ab", "cd", "ef", "gh", "ij"]) {
          pulled++;
          yield piece;
        }
      } finally {
        finished = true;
      }
    };
    await (await session.post(srv.url(), { data: source(), headers: { "Content-Length": "4" } })).text();
    expect(srv.got[0]!.headers["content-length"]).toBe("4");
    expect(String(srv.got[0]!.body)).toBe("abcd");
    // The third piece shows the cut was reached; the rest stays unread, the iterable is closed.
    expect(pulled).toBe(3);
    expect(finished).toBe(true);
  });
});
