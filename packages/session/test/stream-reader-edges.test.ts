import v8 from "node:v8";
import vm from "node:vm";
import { ClientResponseError, ClientStateError, InvalidArgumentError } from "@x/errors";
import { sleep, startRawServer, within } from "@x/fixtures";
import type { Dispatcher } from "undici";
import { describe, expect, it } from "vitest";
import { ClientSession, StreamReader } from "../src/index.js";
import { ScriptedDispatcher } from "./scripted-dispatcher.js";

/** Lets every pending callback and promise job run. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** `length` bytes (counting up) inside a larger Buffer of their own: a piece as a socket hands it over. */
function piece(length: number, spare = 16): Buffer {
  const whole = Buffer.alloc(length + spare);
  for (let i = 0; i < length; i += 4096) whole[i] = (i / 4096) % 256;
  whole[length - 1] = 0xee;
  return whole.subarray(0, length);
}

/** The body was handed out as it came: the very bytes fed, not a copy. */
function sameMemory(a: Buffer, b: Buffer): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.length === b.length;
}

/** read() collected the body into one Buffer of exactly its length. */
function ownBuffer(body: Buffer): boolean {
  return body.byteOffset === 0 && body.buffer.byteLength === body.length;
}

const MAX_COLLECT = 32 * 1024 * 1024;

describe("read() of a body whose length is known (expectLength)", () => {
  /** Starts read(), feeds `body` as one piece, ends the body, and returns what read() gave. */
  async function readWhole(expected: number, body: Buffer): Promise<Buffer> {
    const r = new StreamReader();
    r.expectLength(expected);
    const all = r.read();
    r.feed(body);
    r.feedEof();
    return all;
  }

  it("returns a body of one socket read (64 KiB) or less as it came, with no copy", async () => {
    for (const n of [1000, 64 * 1024]) {
      const body = piece(n);
      const got = await readWhole(n, body);
      expect(sameMemory(got, body), `${n} bytes`).toBe(true);
    }
  });

  it("fills one Buffer of exactly the body's length for a longer body, counting its bytes", async () => {
    const n = 64 * 1024 + 1;
    const body = piece(n);
    const r = new StreamReader();
    r.expectLength(n);
    const all = r.read();
    r.feed(body);
    expect(r.totalBytes).toBe(n);
    r.feedEof();
    const got = await all;
    expect(got.equals(body)).toBe(true);
    expect(sameMemory(got, body)).toBe(false);
    expect(ownBuffer(got)).toBe(true);
    expect(r.totalBytes).toBe(n);
    expect(r.atEof()).toBe(true);
  });

  it("the Buffer it filled is the body: nothing is allocated to join pieces at the end", async () => {
    const half = 4 * 1024 * 1024;
    const pieces = [Buffer.alloc(half, 1), Buffer.alloc(half, 2)];
    const r = new StreamReader();
    r.expectLength(2 * half);
    const all = r.read();
    for (const p of pieces) r.feed(p);
    const before = process.memoryUsage().arrayBuffers;
    r.feedEof();
    const body = await all;
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(body.length).toBe(2 * half);
    expect([body[0], body[half - 1], body[half], body[2 * half - 1]]).toEqual([1, 1, 2, 2]);
    // Joining (or copying) an 8 MiB body would allocate 8 MiB more.
    expect(grown).toBeLessThan(half);
  });

  it("collects up to 32 MiB; past that the body is kept in pieces as they came", async () => {
    const source = Buffer.alloc(MAX_COLLECT + 2);
    source[MAX_COLLECT] = 0xab;
    const atLimit = source.subarray(0, MAX_COLLECT);
    const collected = await readWhole(MAX_COLLECT, atLimit);
    expect(collected.length).toBe(MAX_COLLECT);
    expect(ownBuffer(collected)).toBe(true);
    const past = source.subarray(0, MAX_COLLECT + 1);
    const kept = await readWhole(MAX_COLLECT + 1, past);
    expect(sameMemory(kept, past)).toBe(true);
    expect(kept[MAX_COLLECT]).toBe(0xab);
  });

  it("ignores a length that is not a positive safe integer", async () => {
    for (const bad of [100_000.5, 0, -1, Number.NaN, 2 ** 53 + 2]) {
      const body = piece(100_000);
      expect(sameMemory(await readWhole(bad, body), body), String(bad)).toBe(true);
    }
  });

  it("after partial reads collects only when what is left is longer than 64 KiB", async () => {
    const r = new StreamReader();
    r.expectLength(100_000);
    r.feed(Buffer.alloc(50_000, 1));
    expect((await r.read(50_000)).length).toBe(50_000);
    // 50,000 bytes are left: short enough to come in one piece, so nothing is collected.
    const all = r.read();
    const rest = piece(50_000);
    r.feed(rest);
    r.feedEof();
    expect(sameMemory(await all, rest)).toBe(true);
  });

  it("collects a body that has all arrived but not yet ended, and returns one that has ended as it came", async () => {
    const body = piece(100_000);
    const r = new StreamReader();
    r.expectLength(100_000);
    r.feed(body);
    const all = r.read();
    r.feedEof();
    const got = await all;
    expect(got.equals(body)).toBe(true);
    expect(ownBuffer(got)).toBe(true);
    expect(sameMemory(got, body)).toBe(false);

    const ended = new StreamReader();
    ended.expectLength(100_000);
    ended.feed(body);
    ended.feedEof();
    expect(sameMemory(await ended.read(), body)).toBe(true);
  });

  it("keeps every byte of a source that sends past the length, before read() or in one piece during it", async () => {
    const over = Buffer.alloc(100_010, 1);
    over.fill(2, 100_000);
    // Already buffered when read() starts: more than announced, so nothing is collected.
    const before = new StreamReader();
    before.expectLength(100_000);
    before.feed(over);
    const all = before.read();
    before.feedEof();
    expect((await all).equals(over)).toBe(true);
    // While read() collects: the piece does not fit the Buffer, and is kept whole.
    const during = await readWhole(100_000, over);
    expect(during.equals(over)).toBe(true);
  });

  it("gives a body shorter than announced exactly as far as it came", async () => {
    const r = new StreamReader();
    r.expectLength(100_000);
    const all = r.read();
    r.feed(Buffer.alloc(40_000, 5));
    r.feed(Buffer.alloc(30_000, 6));
    r.feedEof();
    const got = await all;
    expect(got.length).toBe(70_000);
    expect([got[0], got[39_999], got[40_000], got[69_999]]).toEqual([5, 5, 6, 6]);
    expect(ownBuffer(got)).toBe(true);
  });
});

describe("pieces handed out as they came", () => {
  it("read(n) of part of a piece, a line within one piece and the whole of one are views of it, not copies", async () => {
    const r = new StreamReader();
    const p = piece(10);
    p.write("ab\ncdefghi");
    r.feed(p);
    const ab = await r.read(2);
    expect(String(ab)).toBe("ab");
    expect(ab.buffer).toBe(p.buffer);
    const line = await r.readline();
    expect(String(line)).toBe("\n");
    expect(line.buffer).toBe(p.buffer);
    const q = piece(5);
    q.write("vwxyz");
    r.feed(q);
    // What is left of the first piece, then the second whole.
    expect(String(await r.read(7))).toBe("cdefghi");
    const whole = await r.read(5);
    expect(sameMemory(whole, q)).toBe(true);
  });

  it("readexactly() across pieces leaves no empty piece behind", async () => {
    const r = new StreamReader();
    for (const s of ["ab", "cd", "ef"]) r.feed(Buffer.from(s));
    expect(String(await r.readexactly(4))).toBe("abcd");
    expect(String(await r.readany())).toBe("ef");
  });

  it("read(0) returns at once even with nothing buffered, and holds no waiting slot", async () => {
    const r = new StreamReader();
    expect(await within(r.read(0), 500)).toEqual(Buffer.alloc(0));
    const next = r.readany();
    r.feed(Buffer.from("x"));
    expect(String(await next)).toBe("x");
  });
});

describe("readuntil() and readline()", () => {
  it("separates on a newline by default, and on one at the very start", async () => {
    const r = new StreamReader();
    r.feed(Buffer.from("\nab\ncd"));
    r.feedEof();
    expect(String(await r.readuntil())).toBe("\n");
    expect(String(await r.readline())).toBe("ab\n");
    expect(String(await r.readline())).toBe("cd");
  });

  it("a default reader takes lines of up to 64 KiB and refuses longer ones", async () => {
    const r = new StreamReader();
    r.feed(Buffer.concat([Buffer.alloc(64 * 1024, 97), Buffer.from("\n")]));
    r.feed(Buffer.concat([Buffer.alloc(64 * 1024 + 1, 98), Buffer.from("\n")]));
    expect((await r.readline()).length).toBe(64 * 1024 + 1);
    await expect(r.readline()).rejects.toThrow("Line is too long: no separator within 65536 bytes");
  });

  it("a piece that arrives while readline() waits can be taken by readany() before the line is looked for", async () => {
    const r = new StreamReader();
    const line = r.readline();
    r.feed(Buffer.from("ab"));
    // The waiting readline() has been woken but has not run yet: readany() takes the piece.
    expect(String(await r.readany())).toBe("ab");
    r.feed(Buffer.from("c\n"));
    expect(String(await line)).toBe("c\n");
  });

  it("refuses an empty separator", async () => {
    const r = new StreamReader();
    await expect(r.readuntil("")).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe("readexactly() and iterChunked()", () => {
  it("readexactly(0) gives nothing, and negative or fractional sizes are refused", async () => {
    const r = new StreamReader();
    expect(await within(r.readexactly(0), 500)).toEqual(Buffer.alloc(0));
    await expect(r.readexactly(-1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(r.readexactly(1.5)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("readexactly(n) returns as soon as exactly n bytes are buffered, without waiting for the end", async () => {
    const r = new StreamReader();
    r.feed(Buffer.from("abcde"));
    expect(String(await within(r.readexactly(5), 500))).toBe("abcde");
    r.feed(Buffer.from("fgh"));
    expect(String(await within(r.readexactly(2), 500))).toBe("fg");
  });

  it("iterChunked(1) gives single bytes; iterChunked(0) is refused", async () => {
    const r = new StreamReader();
    r.feed(Buffer.from("abc"));
    r.feedEof();
    const bytes: string[] = [];
    for await (const b of r.iterChunked(1)) bytes.push(String(b));
    expect(bytes).toEqual(["a", "b", "c"]);
    await expect(r.iterChunked(0).next()).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe("flow control: pause past twice the high-water mark, resume at it", () => {
  it("resumes the source once, when the buffer is down to the high-water mark, and not while it is not paused", async () => {
    const r = new StreamReader(4, 4);
    let resumes = 0;
    r.setResume(() => resumes++);
    expect([r.feed(Buffer.from("abc")), r.feed(Buffer.from("def")), r.feed(Buffer.from("ghi"))]).toEqual([
      true,
      true,
      false,
    ]);
    // An empty piece changes nothing: still no pause asked for it, even now.
    expect(r.feed(Buffer.alloc(0))).toBe(true);
    expect(String(await r.read(1))).toBe("a");
    expect(String(await r.read(3))).toBe("bcd");
    expect(resumes).toBe(0);
    // 4 bytes left: at the mark.
    expect(String(await r.read(1))).toBe("e");
    expect(resumes).toBe(1);
    expect(String(await r.read(1))).toBe("f");
    expect(resumes).toBe(1);
    // A read waiting for more than is buffered does not resume a source that is not paused.
    const exact = r.readexactly(5);
    await tick();
    expect(resumes).toBe(1);
    r.feed(Buffer.from("jk"));
    expect(String(await exact)).toBe("ghijk");
    expect(resumes).toBe(1);
  });

  it("the default high-water mark is 64 KiB: a pause is asked past 128 KiB", () => {
    const r = new StreamReader();
    expect(r.feed(Buffer.alloc(128 * 1024))).toBe(true);
    expect(r.feed(Buffer.alloc(1))).toBe(false);
  });

  it("while readexactly(n) waits the source is not paused short of n bytes; once n are there it is, and after the read the mark is the usual one", async () => {
    const r = new StreamReader(4, 4);
    const exact = r.readexactly(20);
    expect(r.feed(Buffer.alloc(10, 1))).toBe(true);
    expect(r.feed(Buffer.alloc(10, 2))).toBe(false);
    expect((await exact).length).toBe(20);
    expect(r.feed(Buffer.alloc(10, 3))).toBe(false);
  });

  it("a readexactly() that resumed a paused source still holds the waiting slot", async () => {
    const r = new StreamReader(4, 4);
    let resumes = 0;
    r.setResume(() => resumes++);
    expect(r.feed(Buffer.alloc(10, 1))).toBe(false);
    const exact = r.readexactly(20);
    expect(resumes).toBe(1);
    expect(
      await within(
        r.read().catch((e: unknown) => e),
        500,
      ),
    ).toBeInstanceOf(ClientStateError);
    r.feed(Buffer.alloc(10, 2));
    const got = await exact;
    expect([got.length, got[9], got[10]]).toEqual([20, 1, 2]);
  });

  it("a read() refused while it waited gives the flow control back: the next pause comes as usual", async () => {
    const r = new StreamReader(4, 4);
    const all = r.read();
    r.feed(Buffer.from("ab"));
    // read() was woken but has not looked yet: readexactly() takes the waiting slot first.
    const exact = r.readexactly(10);
    await expect(all).rejects.toBeInstanceOf(ClientStateError);
    expect(r.feed(Buffer.from("cdefghijkl"))).toBe(false);
    expect(String(await exact)).toBe("abcdefghij");
    expect(String(await r.read(5))).toBe("kl");
  });
});

describe("as a stream", () => {
  it("toReadableStream() reads nothing until the stream is read", async () => {
    const r = new StreamReader();
    r.feed(Buffer.from("abc"));
    const stream = r.toReadableStream();
    await tick();
    r.feed(Buffer.from("def"));
    r.feedEof();
    expect(String(await r.readany())).toBe("abc");
    const reader = stream.getReader();
    expect(Buffer.from((await reader.read()).value!).toString()).toBe("def");
    expect((await reader.read()).done).toBe(true);
  });

  it("toReadableStream() errors with the body's error", async () => {
    const r = new StreamReader();
    r.feed(Buffer.from("abc"));
    const reader = r.toReadableStream().getReader();
    expect(Buffer.from((await reader.read()).value!).toString()).toBe("abc");
    const boom = new Error("cut off");
    r.setException(boom);
    expect(
      await within(
        reader.read().catch((e: unknown) => e),
        500,
      ),
    ).toBe(boom);
  });

  it("toNodeReadable() takes no more than the stream's high-water mark: destroyed, the rest is still there to read", async () => {
    const r = new StreamReader(1024 * 1024);
    for (let i = 1; i <= 4; i++) r.feed(Buffer.alloc(70_000, i));
    r.feedEof();
    const stream = r.toNodeReadable();
    stream.read(0);
    expect(stream.readableLength).toBe(70_000);
    stream.destroy();
    const rest = await r.read();
    expect(rest.length).toBe(210_000);
    expect([rest[0], rest[209_999]]).toEqual([2, 4]);
  });

  it("toNodeReadable() destroyed while it waits leaves the next piece unread", async () => {
    const r = new StreamReader();
    const stream = r.toNodeReadable();
    stream.read(0);
    stream.destroy();
    r.feed(Buffer.from("abc"));
    r.feedEof();
    await tick();
    expect(String(await r.readany())).toBe("abc");
  });
});

describe("peek: the start of a body an error carries", () => {
  let pieces: string[] = [];
  const dispatcher = new ScriptedDispatcher(
    (handler: Dispatcher.DispatchHandler, controller: Dispatcher.DispatchController) => {
      handler.onResponseStart?.(controller, 404, { "content-type": "text/plain" }, "Not Found");
      for (const p of pieces) handler.onResponseData?.(controller, Buffer.from(p));
      handler.onResponseEnd?.(controller, {});
    },
  );

  async function errorBody(session: ClientSession, parts: string[]): Promise<unknown> {
    pieces = parts;
    const resp = await session.get("http://peek.test/");
    try {
      resp.raiseForStatus();
    } catch (err) {
      expect(err).toBeInstanceOf(ClientResponseError);
      return (err as ClientResponseError).body;
    }
    throw new Error("raiseForStatus() did not throw");
  }

  it("is the first 8 KiB of what has arrived, across pieces", async () => {
    await using session = new ClientSession({ connector: dispatcher });
    const a = "a".repeat(5000);
    const b = "b".repeat(5000);
    expect(await errorBody(session, [a, b, "c".repeat(100)])).toBe(a + "b".repeat(3192));
    expect(await errorBody(session, ["d".repeat(10_000)])).toBe("d".repeat(8192));
    expect(await errorBody(session, ["e".repeat(8192), "f".repeat(10)])).toBe("e".repeat(8192));
    expect(await errorBody(session, ["x".repeat(100), "y".repeat(100)])).toBe(
      "x".repeat(100) + "y".repeat(100),
    );
    expect(await errorBody(session, [])).toBeUndefined();
  });
});

describe("a read waiting on a body that backed up", () => {
  it("keeps the body alive through garbage collection until its bytes come", {
    timeout: 10_000,
  }, async () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write(
        Buffer.concat([
          Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 400000\r\n\r\n"),
          Buffer.alloc(300_000, 1),
        ]),
      );
      await released;
      await conn.end(Buffer.alloc(100_000, 2));
    });
    await using session = new ClientSession({ readBufsize: 16 * 1024 });
    // Nothing but the pending read refers to the response or its reader; the body backs up
    // (the reader is then held weakly by the connection) before the read starts.
    const length = (async () => {
      const resp = await session.get(srv.url());
      await sleep(50);
      return (await resp.content.readexactly(400_000)).length;
    })();
    await sleep(200);
    gc();
    await sleep(20);
    gc();
    release();
    expect(await within(length, 3000)).toBe(400_000);
  });
});
