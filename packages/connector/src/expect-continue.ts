import type { Socket } from "node:net";
import { Duplex } from "node:stream";

const CRLF2 = Buffer.from("\r\n\r\n");
const EXPECT = Buffer.from("\r\nExpect: 100-continue\r\n\r\n", "latin1");
/** A response head this long without an end is not a response head. */
const MAX_HEAD = 64 * 1024;

interface Held {
  chunk: Buffer;
  callback: (err?: Error | null) => void;
}

/**
 * `Expect: 100-continue` for undici's HTTP/1.1 client, which has no such mode (it refuses an
 * `Expect` header and treats a `100 Continue` answer as a broken response). The undici `Client`
 * of a connection that sends such a request speaks through this stream instead of the socket:
 * - on the way out, `Expect: 100-continue` joins the request head, and the body is held back
 *   (the client sees back-pressure) until the server answers `100 Continue`;
 * - on the way in, that `100 Continue` (and any repeat of it) is taken out, so the client sees
 *   only the real response and any other interim (1xx) answers.
 * A server that answers with a final status instead never gets the body; the connection closes
 * after that response. Everything else passes through unchanged: undici still writes the
 * request and parses the response.
 */
export class ExpectContinueSocket extends Duplex {
  readonly #socket: Socket;
  /** Writing the head, waiting for 100 (refused: until the connection ends), or sending the body. */
  #state: "head" | "waiting" | "continue" = "head";
  #outHead: Buffer[] = [];
  #held: Held[] = [];
  #inHead: Buffer = Buffer.alloc(0);
  /** Response heads are read here until the final answer's head; after it, bytes pass through. */
  #readingHeads = true;

  constructor(socket: Socket) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#incoming(chunk));
    socket.on("end", () => this.push(null));
    socket.on("error", (err) => this.destroy(err));
    socket.on("close", () => this.destroy());
  }

  // What undici reads off its socket.
  get alpnProtocol(): string | false | undefined {
    return (this.#socket as { alpnProtocol?: string | false }).alpnProtocol;
  }
  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.#socket.remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.#socket.remoteFamily;
  }
  get localAddress(): string | undefined {
    return this.#socket.localAddress;
  }
  get localPort(): number | undefined {
    return this.#socket.localPort;
  }
  get bytesWritten(): number {
    return this.#socket.bytesWritten;
  }
  get bytesRead(): number {
    return this.#socket.bytesRead;
  }
  get timeout(): number | undefined {
    return this.#socket.timeout;
  }
  ref(): this {
    this.#socket.ref();
    return this;
  }
  unref(): this {
    this.#socket.unref();
    return this;
  }
  setNoDelay(noDelay?: boolean): this {
    this.#socket.setNoDelay(noDelay);
    return this;
  }
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.#socket.setKeepAlive(enable, delay);
    return this;
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    switch (this.#state) {
      case "continue":
        this.#socket.write(chunk, callback);
        return;
      case "waiting":
        // The body waits for 100 Continue (or, refused, for the connection to close).
        this.#held.push({ chunk, callback });
        return;
      case "head": {
        this.#outHead.push(chunk);
        const all = Buffer.concat(this.#outHead);
        const end = all.indexOf(CRLF2);
        if (end === -1) {
          this.#outHead = [all];
          callback();
          return;
        }
        this.#outHead = [];
        this.#state = "waiting";
        this.#socket.write(Buffer.concat([all.subarray(0, end), EXPECT]));
        const body = all.subarray(end + CRLF2.length);
        if (body.length > 0) this.#held.push({ chunk: body, callback });
        else callback();
      }
    }
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#socket.end(callback);
  }

  override _destroy(err: Error | null, callback: (err: Error | null) => void): void {
    const held = this.#held;
    this.#held = [];
    const reason = err ?? new Error("the connection closed before the request body was sent");
    for (const h of held) h.callback(reason);
    this.#socket.destroy(err ?? undefined);
    callback(err);
  }

  #incoming(chunk: Buffer): void {
    if (!this.#readingHeads) {
      if (!this.push(chunk)) this.#socket.pause();
      return;
    }
    // Until the final answer, read whole response heads: the server says 100 (perhaps more than
    // once: any 1xx may come before the final answer) or gives its answer.
    let data: Buffer = this.#inHead.length > 0 ? Buffer.concat([this.#inHead, chunk]) : chunk;
    for (;;) {
      const end = data.indexOf(CRLF2);
      if (end < 0) {
        this.#inHead = data;
        if (data.length > MAX_HEAD) this.#finalAnswer(data);
        return;
      }
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(data.subarray(0, 16).toString("latin1"))?.[1];
      if (status === "100") {
        // undici takes any 100 for a broken response: every 100 stays here.
        data = data.subarray(end + CRLF2.length);
        this.#continue();
        continue;
      }
      if (status?.startsWith("1")) {
        // Another interim answer (102, 103): undici handles those.
        const interim = data.subarray(0, end + CRLF2.length);
        this.push(interim);
        data = data.subarray(end + CRLF2.length);
        continue;
      }
      this.#finalAnswer(data);
      return;
    }
  }

  /** 100 Continue: the body goes out. */
  #continue(): void {
    this.#state = "continue";
    const held = this.#held;
    this.#held = [];
    for (const h of held) this.#socket.write(h.chunk, h.callback);
  }

  /**
   * The final answer's head: it and everything after it go to undici. Before 100 it refuses the
   * body, which is then never sent; after 100 the body goes on.
   */
  #finalAnswer(data: Buffer): void {
    this.#readingHeads = false;
    this.#incoming(data);
  }
}
