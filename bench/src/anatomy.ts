// Where a 1 MiB body goes, from the socket to the Buffer `read()` returns: socket reads and their
// size, pieces handed to the session's handler, pauses and resumes, for `read()` and for
// `for await` of `resp.content` — counted, not timed, so the numbers are the same on any machine.
//   pnpm --filter @x/bench anatomy
import type { Socket } from "node:net";
import { type ConnectAttempt, type PoolKey, TCPConnector } from "@x/connector";
import { startNginx } from "@x/fixtures";
import { ClientSession } from "@x/session";
import type { Dispatcher } from "undici";

const SIZE = 1024 * 1024;

interface Counts {
  reads: number;
  readBytes: number;
  pieces: number;
  pauses: number;
  resumes: number;
}

const counts: Counts = { reads: 0, readBytes: 0, pieces: 0, pauses: 0, resumes: 0 };

/** A TCPConnector whose sockets count what undici reads off them. */
class CountingConnector extends TCPConnector {
  protected override async openSocket(key: PoolKey, attempt: ConnectAttempt): Promise<Socket> {
    const socket = await super.openSocket(key, attempt);
    const read = socket.read.bind(socket);
    socket.read = ((n?: number) => {
      const chunk = read(n) as Buffer | null;
      if (chunk !== null) {
        counts.reads++;
        counts.readBytes += chunk.length;
      }
      return chunk;
    }) as typeof socket.read;
    return socket;
  }
}

type Controller = Dispatcher.DispatchController;
type Handler = Dispatcher.DispatchHandler;

/** The controller a handler sees, counting its pauses and resumes. */
class CountingController implements Controller {
  constructor(readonly inner: Controller) {}
  get aborted(): boolean {
    return this.inner.aborted;
  }
  get paused(): boolean {
    return this.inner.paused;
  }
  get reason(): Error | null {
    return this.inner.reason;
  }
  get rawHeaders(): Controller["rawHeaders"] {
    return this.inner.rawHeaders;
  }
  get rawTrailers(): Controller["rawTrailers"] {
    return this.inner.rawTrailers;
  }
  abort(reason: Error): void {
    this.inner.abort(reason);
  }
  pause(): void {
    counts.pauses++;
    this.inner.pause();
  }
  resume(): void {
    counts.resumes++;
    this.inner.resume();
  }
}

/** A handler passing everything on, counting the pieces of the body. */
class CountingHandler implements Handler {
  #controller: CountingController | undefined;
  constructor(readonly inner: Handler) {}
  #wrap(c: Controller): CountingController {
    if (this.#controller?.inner !== c) this.#controller = new CountingController(c);
    return this.#controller;
  }
  onRequestStart(c: Controller, context: unknown): void {
    this.inner.onRequestStart?.(this.#wrap(c), context);
  }
  onResponseStart(
    c: Controller,
    status: number,
    headers: Record<string, string | string[]>,
    text?: string,
  ): void {
    this.inner.onResponseStart?.(this.#wrap(c), status, headers, text);
  }
  onResponseData(c: Controller, chunk: Buffer): void {
    counts.pieces++;
    this.inner.onResponseData?.(this.#wrap(c), chunk);
  }
  onResponseEnd(c: Controller, trailers: Record<string, string | string[]>): void {
    this.inner.onResponseEnd?.(this.#wrap(c), trailers);
  }
  onResponseError(c: Controller, err: Error): void {
    this.inner.onResponseError?.(c ? this.#wrap(c) : c, err);
  }
}

/** An interceptor that counts the pieces the session's handler gets, and its pauses and resumes. */
const counting: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) =>
  dispatch(opts, new CountingHandler(handler));

const nginx = await startNginx({ files: { "/1m": SIZE } });
const connector = new CountingConnector();
const session = new ClientSession({ connector: connector.compose(counting) });
// One request first, so connection set-up is not counted.
await (await session.get(`${nginx.origin}/1m`)).read();

const ways: Record<string, () => Promise<number>> = {
  "read()": async () => (await (await session.get(`${nginx.origin}/1m`)).read()).length,
  "for await (content)": async () => {
    let size = 0;
    for await (const chunk of (await session.get(`${nginx.origin}/1m`)).content) size += chunk.length;
    return size;
  },
};
const runs = 20;
console.log(`A 1 MiB body from nginx over loopback, ${runs} requests each, counts per body:`);
console.log(
  `${"how".padEnd(22)}${"reads".padStart(8)}${"KiB/read".padStart(10)}${"pieces".padStart(8)}${"pauses".padStart(8)}${"resumes".padStart(9)}`,
);
for (const [name, once] of Object.entries(ways)) {
  Object.assign(counts, { reads: 0, readBytes: 0, pieces: 0, pauses: 0, resumes: 0 });
  for (let i = 0; i < runs; i++) {
    const size = await once();
    if (size !== SIZE) throw new Error(`${name} read ${size} bytes`);
  }
  const per = (n: number) => (n / runs).toFixed(1);
  console.log(
    `${name.padEnd(22)}${per(counts.reads).padStart(8)}${(counts.readBytes / counts.reads / 1024).toFixed(1).padStart(10)}${per(counts.pieces).padStart(8)}${per(counts.pauses).padStart(8)}${per(counts.resumes).padStart(9)}`,
  );
}
await session.close();
await connector.destroy();
await nginx.close();
