import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { gzipSync } from "node:zlib";
import { ClientPayloadError, ClientStateError } from "@x/errors";
import { sleep, startHttpServer, startRawServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession, StreamReader } from "../src/index.js";
import { ScriptedDispatcher } from "./scripted-dispatcher.js";

/** Writes `parts` as separate chunks of a chunked response, `gap` ms apart. */
async function dripServer(parts: string[], gap = 5) {
  return startRawServer(async (conn) => {
    await conn.readHead();
    await conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (const p of parts) {
      await conn.write(`${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`);
      await sleep(gap);
    }
    await conn.end("0\r\n\r\n");
  });
}

describe("StreamReader", () => {
  it("fed directly: state, pieces as they came, separators across pieces, the line limit's edge", async () => {
    const r = new StreamReader(4, 4);
    expect([r.isEof(), r.atEof(), r.exception(), r.totalBytes]).toEqual([false, false, null, 0]);
    expect(r.feed(Buffer.from("ab"))).toBe(true);
    expect(r.feed(Buffer.alloc(0))).toBe(true);
    expect(r.feed(Buffer.from("c\r"))).toBe(true);
    // At twice the high-water mark (8 bytes) it still takes more; past it, it asks the source to pause.
    expect(r.feed(Buffer.from("\nd"))).toBe(true);
    expect(r.feed(Buffer.from("ef"))).toBe(true);
    expect(r.feed(Buffer.from("g"))).toBe(false);
    expect(r.feed(Buffer.from("h"))).toBe(false);
    expect(r.totalBytes).toBe(10);
    expect(String(await r.readany())).toBe("ab");
    expect(String(await r.readuntil(new Uint8Array([0x0d, 0x0a])))).toBe("c\r\n");
    expect((await r.read(0)).length).toBe(0);
    expect(String(await r.read(2))).toBe("de");
    // readuntil() joined what was buffered: the rest is one piece now.
    expect(await r.readchunk()).toEqual([Buffer.from("fgh"), true]);
    r.feed(Buffer.from("ijkl"));
    r.feedEof();
    expect([r.isEof(), r.atEof()]).toEqual([true, false]);
    // The last line, with no separator, is at the limit (4 bytes): it is read whole.
    expect(String(await r.readline())).toBe("ijkl");
    expect([r.isEof(), r.atEof()]).toEqual([true, true]);
    expect((await r.readany()).length).toBe(0);
    expect(await r.readchunk()).toEqual([Buffer.alloc(0), false]);
    expect(r.feed(Buffer.from("late"))).toBe(true);
    expect(r.totalBytes).toBe(14);

    // A 5-byte line over a 4-byte limit is refused whether its newline is already there or not.
    const whole = new StreamReader(1024, 4);
    whole.feed(Buffer.from("abcd\nabcde\n"));
    expect(String(await whole.readline())).toBe("abcd\n");
    await expect(whole.readline()).rejects.toThrow("Line is too long: no separator within 4 bytes");
    const pieces = new StreamReader(1024, 4);
    pieces.feed(Buffer.from("abcde"));
    const waiting = pieces.readline();
    pieces.feed(Buffer.from("\n"));
    await expect(waiting).rejects.toThrow("Line is too long: no separator within 4 bytes");

    const failing = new StreamReader();
    failing.feed(Buffer.from("dropped"));
    const boom = new ClientPayloadError("boom");
    failing.setException(boom);
    failing.setException(new ClientPayloadError("second"));
    expect(failing.exception()).toBe(boom);
    await expect(failing.read()).rejects.toBe(boom);
    await expect(failing.readany()).rejects.toBe(boom);
    expect(failing.feed(Buffer.from("more"))).toBe(true);
  });

  it("read(n) returns up to n bytes as soon as some are there; read() the rest", async () => {
    await using srv = await dripServer(["hello ", "wide ", "world"]);
    await using session = new ClientSession();
    const { content } = await session.get(srv.url());
    const first = await content.read(3);
    expect(first.toString()).toBe("hel");
    expect((await content.read(100)).toString()).toMatch(/^lo /);
    const rest = await content.read();
    expect(first.toString().length + rest.length).toBeLessThanOrEqual(16);
    expect(content.atEof()).toBe(true);
    expect((await content.read()).length).toBe(0);
    expect(content.totalBytes).toBe(16);
  });

  it("readline() and iterLines() split on newlines; the last line may have none", async () => {
    await using srv = await dripServer(["one\ntw", "o\nthr", "ee"]);
    await using session = new ClientSession();
    const lines: string[] = [];
    for await (const line of (await session.get(srv.url())).content.iterLines()) lines.push(line.toString());
    expect(lines).toEqual(["one\n", "two\n", "three"]);
    const r = (await session.get(srv.url())).content;
    expect((await r.readline()).toString()).toBe("one\n");
    expect((await r.readuntil("thr")).toString()).toBe("two\nthr");
  });

  it("readline() refuses a line longer than its limit", async () => {
    await using srv = await dripServer(["x".repeat(40_000), "y".repeat(40_000)]);
    await using session = new ClientSession({ readBufsize: 16_384 });
    const { content } = await session.get(srv.url());
    await expect(content.readline()).rejects.toBeInstanceOf(ClientPayloadError);
  });

  it("readexactly(n) waits for n bytes, and fails if the body ends first", async () => {
    await using srv = await dripServer(["ab", "cd", "ef"]);
    await using session = new ClientSession();
    const { content } = await session.get(srv.url());
    expect((await content.readexactly(5)).toString()).toBe("abcde");
    const err = await content.readexactly(5).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect((err as Error).message).toBe("1 bytes read on a total of 5 expected bytes");
  });

  it("iterChunked(n), iterAny(), readchunk() and for await", async () => {
    await using srv = await dripServer(["abc", "defg", "h"]);
    await using session = new ClientSession();
    const sized: string[] = [];
    for await (const c of (await session.get(srv.url())).content.iterChunked(3)) sized.push(c.toString());
    expect(sized).toEqual(["abc", "def", "gh"]);
    let any = "";
    for await (const c of (await session.get(srv.url())).content) any += c.toString();
    expect(any).toBe("abcdefgh");
    const r = (await session.get(srv.url())).content;
    const [data, end] = await r.readchunk();
    expect(data.length).toBeGreaterThan(0);
    expect(end).toBe(true);
    let rest = "";
    for await (const c of r.iterAny()) rest += c.toString();
    expect(data.toString() + rest).toBe("abcdefgh");
    const pairs: Array<[string, boolean]> = [];
    for await (const [d, e] of (await session.get(srv.url())).content.iterChunks())
      pairs.push([d.toString(), e]);
    expect(pairs.map(([d]) => d).join("")).toBe("abcdefgh");
  });

  it("converts to a web ReadableStream and to a Node Readable", async () => {
    await using srv = await dripServer(["web ", "and ", "node"]);
    await using session = new ClientSession();
    const web = (await session.get(srv.url())).content.toReadableStream();
    expect(await new Response(web).text()).toBe("web and node");
    const chunks: Buffer[] = [];
    await pipeline(
      (await session.get(srv.url())).content.toNodeReadable(),
      new Writable({
        write(c, _e, cb) {
          chunks.push(c);
          cb();
        },
      }),
    );
    expect(Buffer.concat(chunks).toString()).toBe("web and node");
  });

  it("toNodeReadable() carries a large body whole to a slow writer, and fails with the body's error", async () => {
    const body = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 256;
    await using srv = await startHttpServer((_req, res) => res.end(body));
    await using session = new ClientSession({ readBufsize: 16 * 1024 });
    const chunks: Buffer[] = [];
    await pipeline(
      (await session.get(srv.url())).content.toNodeReadable(),
      new Writable({
        highWaterMark: 1024,
        write(c, _e, cb) {
          chunks.push(c);
          setImmediate(cb);
        },
      }),
    );
    expect(Buffer.concat(chunks).equals(body)).toBe(true);

    // The server promises 100 bytes and sends 10: the stream errors with ClientPayloadError.
    await using cut = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    });
    const failed = await pipeline(
      (await session.get(cut.url())).content.toNodeReadable(),
      new Writable({ write: (_c, _e, cb) => cb() }),
    ).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ClientPayloadError);
  });

  it("a second read while one waits is a ClientStateError", async () => {
    await using srv = await dripServer(["late"], 50);
    await using session = new ClientSession();
    const { content } = await session.get(srv.url());
    await content.read(4);
    const waiting = content.read(1);
    await expect(content.read(1)).rejects.toBeInstanceOf(ClientStateError);
    expect((await waiting).length).toBe(0);
  });

  it("an unread body does not buffer without bound: the socket stops being read", async () => {
    let written = 0;
    let blocked = false;
    await using srv = await startHttpServer((_req, res) => {
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = () => {
        while (written < 64 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) {
            blocked = true;
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    await using session = new ClientSession({ readBufsize: 64 * 1024 });
    const resp = await session.get(srv.url());
    await sleep(300);
    expect(blocked).toBe(true);
    // Kernel buffers on both sides take a few MiB at most; the 64 MiB were not all sent.
    expect(written).toBeLessThan(16 * 1024 * 1024);
    expect(resp.content.totalBytes).toBeLessThan(1024 * 1024);
    resp.release();
  });

  // Known open bug: under CI load this read sometimes never finishes (1–2 lanes of 4; never alone).
  // Until it is found, a hung attempt is cut at 8 s and retried, so the bug stays visible in the log.
  it("readexactly(n) and iterChunked(n) for n far past twice readBufsize: the socket keeps reading until n bytes are there", async () => {
    const body = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    const gz = gzipSync(body);
    await using srv = await startHttpServer((req, res) => {
      if (req.url === "/gz") res.setHeader("content-encoding", "gzip");
      res.end(req.url === "/gz" ? gz : body);
    });
    await using session = new ClientSession({ readBufsize: 16 * 1024 });
    for (const path of ["/plain", "/gz"]) {
      // Let the body back up to the pause mark before asking for more than it holds.
      const resp = await session.get(srv.url(path));
      await sleep(20);
      const first = await resp.content.readexactly(300_000);
      expect(first.equals(body.subarray(0, 300_000))).toBe(true);
      const second = await resp.content.readexactly(700_000);
      expect(second.equals(body.subarray(300_000, 1_000_000))).toBe(true);
      expect((await resp.read()).length).toBe(body.length - 1_000_000);

      const pieces: Buffer[] = [];
      const again = await session.get(srv.url(path));
      await sleep(20);
      for await (const piece of again.content.iterChunked(200_000)) pieces.push(piece);
      expect(pieces.map((p) => p.length)).toEqual([200_000, 200_000, 200_000, 200_000, 200_000, 48_576]);
      expect(Buffer.concat(pieces).equals(body)).toBe(true);
    }
  });

  // A paused body resumed by a read that needs more than is buffered: undici parses what it had
  // held back before resume() returns, and that can be enough to pause the body again. The read
  // must see it, not wait for bytes that will come only after a read.
  describe.each([
    ["readexactly", (r: StreamReader) => r.readexactly(15_000), 0, 15_000],
    [
      "iterChunked",
      async (r: StreamReader) => (await r.iterChunked(15_000).next()).value as Buffer,
      0,
      15_000,
    ],
    // The second line: 5,500 + 999 bytes and its newline.
    [
      "readline",
      async (r: StreamReader) => {
        await r.readline();
        return r.readline();
      },
      3_000,
      6_500,
    ],
  ] as const)("%s when resuming hands over the bytes at once", (_name, readPart, start, length) => {
    it("returns them", { timeout: 5_000 }, async () => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      // A 3,000-byte line, then 5,500 bytes without a newline: past the pause mark (8 KiB with a
      // 4 KiB readBufsize) and, once the line is read, still above readBufsize, so still paused.
      const head = Buffer.concat([Buffer.alloc(2_999, 97), Buffer.from("\n"), Buffer.alloc(5_500, 98)]);
      const tail = Buffer.concat([Buffer.alloc(999, 99), Buffer.from("\n"), Buffer.alloc(199_000, 100)]);
      await using srv = await startRawServer(async (conn) => {
        await conn.readHead();
        const length = head.length + tail.length;
        await conn.write(
          Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${length}\r\n\r\n`), head]),
        );
        await released;
        await conn.write(tail);
      });
      await using session = new ClientSession({ readBufsize: 4096 });
      const resp = await session.get(srv.url());
      await sleep(30);
      // The rest arrives while the body is paused: it waits in the socket, not in the reader.
      release();
      await sleep(50);
      const part = await readPart(resp.content);
      expect(part.length).toBe(length);
      expect(part.equals(Buffer.concat([head, tail]).subarray(start, start + length))).toBe(true);
    });
  });

  it("read() after partial reads collects only what is left of a known-length body", async () => {
    const body = Buffer.alloc(1024 * 1024, 7);
    await using srv = await startHttpServer((_req, res) => res.end(body));
    await using session = new ClientSession({ readBufsize: 16 * 1024 });
    const resp = await session.get(srv.url());
    await sleep(20);
    expect((await resp.content.readexactly(100_000)).length).toBe(100_000);
    const rest = await resp.read();
    expect(rest.length).toBe(body.length - 100_000);
    // One Buffer of the rest's size, not one the whole body's size kept alive behind a view.
    expect(rest.buffer.byteLength).toBeLessThan(body.length);
    expect(rest.every((b) => b === 7)).toBe(true);
  });

  describe("a second read while one waits", () => {
    /** Headers and the first 100,000 bytes of 300,000 (all 1s); the rest (2s) once released. */
    async function halfServer() {
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const srv = await startRawServer(async (conn) => {
        await conn.readHead();
        await conn.write(
          Buffer.concat([
            Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n"),
            Buffer.alloc(100_000, 1),
          ]),
        );
        await released;
        await conn.write(Buffer.alloc(200_000, 2));
      });
      return { srv, release };
    }

    it("is refused, and the waiting readexactly keeps the bytes already buffered", async () => {
      const { srv, release } = await halfServer();
      await using _srv = srv;
      await using session = new ClientSession();
      const resp = await session.get(srv.url());
      await sleep(20);
      const waiting = resp.content.readexactly(150_000);
      await sleep(10);
      await expect(resp.content.read()).rejects.toBeInstanceOf(ClientStateError);
      await expect(resp.content.readexactly(10)).rejects.toBeInstanceOf(ClientStateError);
      release();
      const got = await waiting;
      expect(got.subarray(0, 100_000).every((b) => b === 1)).toBe(true);
      expect(got.subarray(100_000).every((b) => b === 2)).toBe(true);
      expect((await resp.content.read()).length).toBe(150_000);
    });

    it("is refused, and the waiting read() still gets the whole body", async () => {
      const { srv, release } = await halfServer();
      await using _srv = srv;
      await using session = new ClientSession({ readBufsize: 16 * 1024 });
      const resp = await session.get(srv.url());
      await sleep(20);
      const whole = resp.content.read();
      await expect(resp.content.read()).rejects.toBeInstanceOf(ClientStateError);
      release();
      const body = await whole;
      expect(body.length).toBe(300_000);
      expect(body[99_999]).toBe(1);
      expect(body[100_000]).toBe(2);
    });
  });

  it("toNodeReadable() fails when resuming the source fails the body", async () => {
    // undici's Agent can fail a body inside resume(): it parses held-back bytes there, and a
    // throwing progress callback aborts the request on the spot. The reader is driven here as
    // the response handler drives it, so the failure lands exactly inside the stream's read.
    const reader = new StreamReader(1024, 2048);
    reader.setResume(() => reader.setException(new ClientPayloadError("failed while resuming")));
    for (let i = 0; i < 3; i++) reader.feed(Buffer.alloc(1000, i));
    const sink = new Writable({ write: (_chunk, _enc, done) => done() });
    await expect(pipeline(reader.toNodeReadable(), sink)).rejects.toThrow("failed while resuming");
  });

  it("a 304's Content-Length is not collected for: read() gives an empty body of its own", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 200000000\r\nETag: "x"\r\n\r\n');
      await sleep(100);
    });
    await using session = new ClientSession();
    const resp = await session.get(srv.url());
    expect(resp.status).toBe(304);
    const before = process.memoryUsage().arrayBuffers;
    const body = await resp.read();
    expect(body.length).toBe(0);
    expect(body.buffer.byteLength).toBeLessThan(1024 * 1024);
    // Nothing was allocated for the 200 MB the header announced.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  it("a dispatcher that sends past Content-Length: read() keeps the bytes in order", async () => {
    // A user's own dispatcher need not hold a body to its Content-Length as undici's do.
    const overlong = new ScriptedDispatcher((handler, controller) => {
      handler.onResponseStart?.(controller, 200, { "content-length": "100000" }, "OK");
      setTimeout(() => {
        handler.onResponseData?.(controller, Buffer.alloc(99_990, 0));
        handler.onResponseData?.(controller, Buffer.alloc(20, 0xaa));
        handler.onResponseData?.(controller, Buffer.alloc(5, 0xbb));
        handler.onResponseEnd?.(controller, {});
      }, 30);
    });
    await using session = new ClientSession({ connector: overlong });
    const resp = await session.get("http://overlong.test/");
    const body = await resp.read();
    expect(body.length).toBe(100_015);
    expect([...body.subarray(99_989, 100_015)]).toEqual([0, ...Array(20).fill(0xaa), ...Array(5).fill(0xbb)]);
  });

  it("a fast reader gets a large body whole", async () => {
    await using srv = await startHttpServer((_req, res) => res.end(Buffer.alloc(8 * 1024 * 1024, 3)));
    await using session = new ClientSession();
    const body = await (await session.get(srv.url())).read();
    expect(body.length).toBe(8 * 1024 * 1024);
    expect(body.every((b) => b === 3)).toBe(true);
  });
});
