import { Readable } from "node:stream";
import { ClientPayloadError, ClientStateError, InvalidArgumentError } from "@x/errors";

const EMPTY = Buffer.alloc(0);
/**
 * Bodies up to this length are collected by `read()` in one Buffer sized from Content-Length;
 * longer ones are kept in pieces and joined at the end, as undici does. Past glibc's largest
 * mmap threshold (32 MiB) every such Buffer is a fresh mapping whose pages fault in one by one
 * between socket reads: a 64 MiB body cost 1.3x undici's CPU that way, against 0.7x at 4 MiB
 * (bench README, "Memory of a single large body").
 */
const MAX_COLLECT = 32 * 1024 * 1024;
/** ... and only bodies longer than one socket read (64 KiB): a shorter one usually arrives whole. */
const MIN_COLLECT = 64 * 1024;

/**
 * A response body as it arrives (aiohttp's `StreamReader`, `resp.content`): read it all, by
 * lines, by exact sizes or by whatever has arrived, or iterate over it. Only one read may wait at
 * a time. Memory is bounded: past twice `highWaterMark` buffered bytes (aiohttp's high water
 * mark for `read_bufsize`) the connection stops reading from the socket until the consumer
 * has caught up to `highWaterMark`.
 *
 * @example
 * for await (const chunk of resp.content) progress += chunk.length;
 */
export class StreamReader implements AsyncIterable<Buffer> {
  #chunks: Buffer[] = [];
  #size = 0;
  #eof = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #onWait: ((reader: StreamReader | undefined) => void) | undefined;
  #resume: (() => void) | undefined;
  #paused = false;
  #wantsAll = false;
  /** How many bytes a waiting `readexactly`/`iterChunked` needs buffered: the socket is not paused short of it. */
  #wants = 0;
  #total = 0;
  #raw = 0;
  /** The body's length when the response said it (and nothing decodes it): `read()` fills one Buffer. */
  #expected: number | undefined;
  /** While `read()` collects a body of known length: the Buffer it fills, and how far. */
  #collect: Buffer | undefined;
  #filled = 0;
  readonly #highWaterMark: number;
  readonly #maxLineSize: number;

  /** @internal Made by the session for each response. */
  constructor(highWaterMark = 64 * 1024, maxLineSize = 64 * 1024) {
    this.#highWaterMark = highWaterMark;
    this.#maxLineSize = maxLineSize;
  }

  // ── producer side (the response handler) ───────────────────────────

  /** @internal Adds received bytes; false asks the source to pause until `resume` is called. */
  feed(chunk: Buffer): boolean {
    // undici's parser may hand over an empty piece when it resumes: nothing changes, so no pause.
    if (this.#eof || this.#error || chunk.length === 0) return true;
    const collect = this.#collect;
    // Once a piece did not fit (a source sending past its Content-Length), the rest queues behind it.
    if (collect && this.#filled + chunk.length <= collect.length && this.#chunks.length === 0) {
      // read() is collecting a body of known length: straight into its Buffer, one copy.
      chunk.copy(collect, this.#filled);
      this.#filled += chunk.length;
      this.#total += chunk.length;
      return true;
    }
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    this.#total += chunk.length;
    this.#notify();
    // As aiohttp's flow control: pause past twice the limit, resume once under it — a consumer
    // that keeps up never pauses the socket for a piece or two read at once.
    if (this.#size > 2 * this.#highWaterMark && this.#size >= this.#wants && !this.#wantsAll) {
      this.#paused = true;
      return false;
    }
    return true;
  }

  /** @internal Up to `max` bytes of what is buffered, left in place. */
  peek(max: number): Buffer {
    return Buffer.concat(this.#chunks, Math.min(max, this.#size));
  }

  /**
   * @internal Reads until `max` bytes or the end of the body, whichever comes first; a body that
   * fails part way gives what had arrived (the failure stays for the next read).
   */
  async readStart(max: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let size = 0;
    try {
      for (;;) {
        // Once `max` bytes are in, read(0) gives nothing and ends the loop, as the end of the body does.
        const chunk = await this.read(max - size);
        if (chunk.length === 0) break;
        parts.push(chunk);
        size += chunk.length;
      }
    } catch {
      // What had arrived is the answer.
    }
    return Buffer.concat(parts);
  }

  /**
   * @internal The body will be `length` bytes (its Content-Length, nothing decoding it): a
   * `read()` of the whole body fills one Buffer of that size as the bytes arrive, instead of
   * holding every piece and joining them at the end (half the peak memory, less to collect).
   */
  expectLength(length: number): void {
    if (Number.isSafeInteger(length) && length <= MAX_COLLECT) this.#expected = length;
  }

  /** @internal Counts body bytes as they came off the wire, before any decoding. */
  countRaw(n: number): void {
    this.#raw += n;
  }

  /**
   * @internal Told `this` when a read starts waiting for data and `undefined` when it stops: the
   * source holds the reader only weakly otherwise, so an abandoned body can be collected.
   */
  setWaitHook(hook: (reader: StreamReader | undefined) => void): void {
    this.#onWait = hook;
  }

  /** @internal How to resume the source after `feed` returned false. */
  setResume(resume: () => void): void {
    this.#resume = resume;
  }

  /** @internal No more data will come. */
  feedEof(): void {
    this.#eof = true;
    this.#notify();
  }

  /** @internal Reading failed; every later read throws `err`. Buffered data is dropped. */
  setException(err: Error): void {
    if (this.#error) return;
    this.#error = err;
    this.#chunks = [];
    this.#size = 0;
    this.#notify();
  }

  // ── state ───────────────────────────────────────────────────────────

  /** True when the body has ended and everything was read. */
  atEof(): boolean {
    return this.#eof && this.#size === 0;
  }

  /** True when the body has ended (data may still be buffered). */
  isEof(): boolean {
    return this.#eof;
  }

  /** The error reading failed with, or `null`. */
  exception(): Error | null {
    return this.#error ?? null;
  }

  /** Bytes received so far (after decompression). */
  get totalBytes(): number {
    return this.#total;
  }

  /**
   * Body bytes received as they came off the wire, before decompression (aiohttp's
   * `total_raw_bytes`); the same as `totalBytes` for a body that was not encoded.
   */
  get totalRawBytes(): number {
    return this.#raw;
  }

  // ── reading ─────────────────────────────────────────────────────────

  /**
   * Reads up to `n` bytes as soon as some are available, or — with `n` omitted or negative —
   * everything up to the end. Returns an empty Buffer at the end.
   */
  async read(n = -1): Promise<Buffer> {
    if (n === 0) return EMPTY;
    if (n < 0) {
      // Refused before anything changes: the read already waiting keeps its buffer and its flow.
      this.#refuseSecondWaiter();
      this.#wantsAll = true;
      this.#startCollecting();
      this.#maybeResume();
      try {
        while (!this.#eof) {
          this.#check();
          await this.#wait();
        }
        this.#check();
        const collected = this.#collected();
        if (!collected) return this.#take(this.#size);
        return this.#size === 0 ? collected : Buffer.concat([collected, this.#take(this.#size)]);
      } finally {
        this.#wantsAll = false;
        this.#collect = undefined;
      }
    }
    while (this.#size === 0 && !this.#eof) {
      this.#check();
      await this.#wait();
    }
    this.#check();
    return this.#take(Math.min(n, this.#size));
  }

  /** Moves what is buffered into one Buffer of the expected length, which `feed` fills from now on. */
  #startCollecting(): void {
    if (this.#expected === undefined) return;
    // What is left of the body: earlier reads may have taken some of it.
    const expected = this.#expected - (this.#total - this.#size);
    // A body that has all arrived, or fits one socket read, is returned as it came: no copy at all.
    if (expected <= MIN_COLLECT || this.#eof || this.#collect) return;
    if (this.#size > expected) return;
    const collect = Buffer.allocUnsafe(expected);
    let filled = 0;
    for (const chunk of this.#chunks) filled += chunk.copy(collect, filled);
    this.#chunks = [];
    this.#size = 0;
    this.#collect = collect;
    this.#filled = filled;
  }

  /** What `read()` collected, or `undefined` when it did not collect. */
  #collected(): Buffer | undefined {
    const collect = this.#collect;
    if (!collect) return undefined;
    if (this.#filled === collect.length) return collect;
    // Shorter than announced: a copy, so the Buffer sized for the whole body is not kept alive.
    return Buffer.from(collect.subarray(0, this.#filled));
  }

  /** Reads whatever has arrived (waiting for something if nothing has); empty at the end. */
  async readany(): Promise<Buffer> {
    while (this.#size === 0 && !this.#eof) {
      this.#check();
      await this.#wait();
    }
    this.#check();
    if (this.#size === 0) return EMPTY;
    const first = this.#chunks.shift()!;
    this.#size -= first.length;
    this.#maybeResume();
    return first;
  }

  /** Reads one received piece and whether it ended a piece (aiohttp's `(data, end_of_http_chunk)`). */
  async readchunk(): Promise<[Buffer, boolean]> {
    const data = await this.readany();
    return [data, data.length > 0];
  }

  /**
   * Reads up to and including `separator` (default `"\n"`), or to the end.
   * @throws {ClientPayloadError} when no separator comes within `maxLineSize` bytes.
   */
  async readuntil(separator: string | Uint8Array = "\n"): Promise<Buffer> {
    const sep = Buffer.from(separator);
    if (sep.length === 0) throw new InvalidArgumentError("separator must not be empty");
    for (;;) {
      this.#check();
      const joined = this.#chunks.length > 1 ? this.#compact() : this.#chunks[0];
      // A line longer than the limit is refused however it arrived: whole, or in pieces.
      const at = joined ? joined.indexOf(sep) : -1;
      if (at >= 0 && at <= this.#maxLineSize) return this.#take(at + sep.length);
      // (A separator past the limit means more than the limit is held.)
      if (this.#size > this.#maxLineSize) {
        throw new ClientPayloadError(`Line is too long: no separator within ${this.#maxLineSize} bytes`);
      }
      if (this.#eof) return this.#take(this.#size);
      await this.#wait(true);
    }
  }

  /** Reads one line, `\n` included (the last line may have none). */
  readline(): Promise<Buffer> {
    return this.readuntil("\n");
  }

  /**
   * Reads exactly `n` bytes.
   * @throws {ClientPayloadError} when the body ends first (aiohttp's IncompleteReadError).
   */
  async readexactly(n: number): Promise<Buffer> {
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError("readexactly needs a non-negative integer");
    await this.#fill(n);
    if (this.#size < n) {
      const got = this.#size;
      throw new ClientPayloadError(`${got} bytes read on a total of ${n} expected bytes`);
    }
    return this.#take(n);
  }

  /** Iterates over pieces of exactly `n` bytes (the last may be shorter). */
  async *iterChunked(n: number): AsyncGenerator<Buffer> {
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("iterChunked needs a positive integer");
    for (;;) {
      await this.#fill(n);
      if (this.#size === 0) return;
      yield this.#take(Math.min(n, this.#size));
    }
  }

  /** Iterates over data as it arrives. */
  async *iterAny(): AsyncGenerator<Buffer> {
    for (;;) {
      const chunk = await this.readany();
      if (chunk.length === 0) return;
      yield chunk;
    }
  }

  /** Iterates over `[data, endOfChunk]` pairs (see `readchunk`). */
  async *iterChunks(): AsyncGenerator<[Buffer, boolean]> {
    for (;;) {
      const pair = await this.readchunk();
      if (pair[0].length === 0) return;
      yield pair;
    }
  }

  /** Iterates over lines, `\n` included — what aiohttp's `async for line in resp.content` does. */
  async *iterLines(): AsyncGenerator<Buffer> {
    for (;;) {
      const line = await this.readline();
      if (line.length === 0) return;
      yield line;
    }
  }

  /** Iterates over data as it arrives (like Node's streams; `iterLines()` iterates lines). */
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this.iterAny();
  }

  /** The rest of the body as a web `ReadableStream`. */
  toReadableStream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          try {
            const chunk = await this.readany();
            if (chunk.length === 0) controller.close();
            else controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
          } catch (err) {
            controller.error(err);
          }
        },
      },
      { highWaterMark: 0 },
    );
  }

  /**
   * The rest of the body as a Node `Readable`: each read hands over every piece already buffered
   * (no promise per piece), and waits only when nothing is. Destroying it leaves the body unread.
   */
  toNodeReadable(): Readable {
    let waiting = false;
    const pump = (stream: Readable): void => {
      if (waiting) return;
      try {
        this.#check();
        while (this.#size > 0) {
          if (!stream.push(this.#take(this.#chunks[0]!.length))) return;
        }
        // Taking may resume the source, which may fail the body before the loop looks again.
        this.#check();
        if (this.#eof) {
          stream.push(null);
          return;
        }
        waiting = true;
        this.#wait().then(() => {
          waiting = false;
          if (!stream.destroyed) pump(stream);
        });
      } catch (err) {
        stream.destroy(err as Error);
      }
    };
    return new Readable({
      read() {
        pump(this);
      },
    });
  }

  // ── internals ───────────────────────────────────────────────────────

  /** Waits until `n` bytes are buffered or the body ends; the socket keeps reading until then. */
  async #fill(n: number): Promise<void> {
    this.#refuseSecondWaiter();
    this.#wants = n;
    try {
      while (this.#size < n && !this.#eof) {
        this.#check();
        await this.#wait(true);
      }
    } finally {
      this.#wants = 0;
    }
    this.#check();
  }

  #check(): void {
    if (this.#error) throw this.#error;
  }

  #notify(): void {
    const wake = this.#wake;
    if (!wake) return;
    this.#wake = undefined;
    this.#onWait?.(undefined);
    wake();
  }

  #refuseSecondWaiter(): void {
    if (this.#wake) throw new ClientStateError("another read is already waiting for data on this body");
  }

  #wait(needMore = false): Promise<void> {
    this.#refuseSecondWaiter();
    if (needMore && this.#paused) {
      // Waiting for more than the buffer holds must not deadlock on backpressure. Resuming may
      // hand data over before it returns (undici parses what it held back at once), enough to
      // pause the body again: then no more comes until a read, so the caller looks first.
      const total = this.#total;
      this.#forceResume();
      if (this.#total !== total || this.#eof || this.#error) return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#onWait?.(this);
    });
  }

  #take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length === n) {
      this.#chunks.shift();
      out = first;
    } else if (first.length > n) {
      out = first.subarray(0, n);
      this.#chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.#chunks[0]!;
        const want = n - filled;
        if (c.length <= want) {
          c.copy(out, filled);
          filled += c.length;
          this.#chunks.shift();
        } else {
          c.copy(out, filled, 0, want);
          this.#chunks[0] = c.subarray(want);
          filled = n;
        }
      }
    }
    this.#size -= n;
    this.#maybeResume();
    return out;
  }

  #compact(): Buffer {
    const joined = Buffer.concat(this.#chunks, this.#size);
    this.#chunks = [joined];
    return joined;
  }

  #maybeResume(): void {
    if (this.#paused && (this.#size <= this.#highWaterMark || this.#wantsAll)) this.#forceResume();
  }

  #forceResume(): void {
    this.#paused = false;
    this.#resume?.();
  }
}
