import { createHook } from "node:async_hooks";
import { PassThrough } from "node:stream";
import v8 from "node:v8";
import vm from "node:vm";
import zlib from "node:zlib";
import type { AbstractCookieJar } from "@x/cookies";
import { ClientPayloadError, ClientResponseError, SocketTimeoutError, TotalTimeoutError } from "@x/errors";
import { sleep, startRawServer, within } from "@x/fixtures";
import { Dispatcher } from "undici";
import { describe, expect, it } from "vitest";
import { ClientSession, type ClientSessionOptions } from "../src/index.js";

/**
 * How the session's handler meets one hop's undici events: a user's own dispatcher (scripted
 * here, event by event) sees what it is asked to do (pause, resume, abort, and why); the caller
 * sees the response, its body, and the errors.
 */

/** What the handler asked of the dispatcher's controller. */
interface Calls {
  pauses: number;
  resumes: number;
  aborts: Error[];
}

type Script = (
  handler: Dispatcher.DispatchHandler,
  controller: Dispatcher.DispatchController & { rawHeaders?: unknown },
  dispatcher: Recorder,
) => void;

/** A user's dispatcher that answers by `script` and records every controller call. */
class Recorder extends Dispatcher {
  readonly calls: Calls = { pauses: 0, resumes: 0, aborts: [] };
  /** Called when the handler resumes the response. */
  onResume: (() => void) | undefined;
  readonly #script: Script;
  readonly #startDelay: number;

  constructor(script: Script, startDelay = 0) {
    super();
    this.#script = script;
    this.#startDelay = startDelay;
  }

  override dispatch(_options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const calls = this.calls;
    const controller = {
      aborted: false,
      paused: false,
      reason: null,
      rawHeaders: undefined as unknown,
      rawTrailers: undefined,
      abort: (reason: Error) => {
        calls.aborts.push(reason);
      },
      pause: () => {
        calls.pauses++;
      },
      resume: () => {
        calls.resumes++;
        this.onResume?.();
      },
    } as unknown as Dispatcher.DispatchController & { rawHeaders?: unknown };
    const start = () => {
      handler.onRequestStart?.(controller, {});
      this.#script(handler, controller, this);
    };
    if (this.#startDelay > 0) setTimeout(start, this.#startDelay);
    else setImmediate(start);
    return true;
  }

  override async close(): Promise<void> {}
  override async destroy(): Promise<void> {}
}

/** A head as a dispatcher gives it: raw pairs on the controller, and the parsed record. */
function head(
  handler: Dispatcher.DispatchHandler,
  controller: Dispatcher.DispatchController & { rawHeaders?: unknown },
  status: number,
  raw: string[],
  reason: string | undefined = "OK",
): void {
  controller.rawHeaders = raw.map((s) => Buffer.from(s, "latin1"));
  const parsed: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) parsed[raw[i]!.toLowerCase()] = raw[i + 1]!;
  handler.onResponseStart?.(controller, status, parsed, reason as string);
}

function session(
  connector: Dispatcher,
  options: ClientSessionOptions = {},
): ClientSession<AbstractCookieJar> {
  return new ClientSession({ connector, ...options });
}

const gc = (): (() => void) => {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
};

describe("the response head a dispatcher hands over", () => {
  it("skips parsed header values that are undefined, ignores a raw name with no value, keeps a missing reason empty", async () => {
    const d = new Recorder((handler, controller) => {
      controller.rawHeaders = undefined;
      handler.onResponseStart?.(
        controller,
        200,
        { "x-set": "1", "x-unset": undefined } as unknown as Record<string, string>,
        undefined as unknown as string,
      );
      handler.onResponseEnd?.(controller, {});
    });
    await using s = session(d);
    const resp = await s.get("http://head.test/");
    expect(resp.headers.get("x-set")).toBe("1");
    expect(resp.headers.has("x-unset")).toBe(false);
    expect(resp.reason).toBe("");

    // An odd raw list: the trailing name has no value and is dropped, not a TypeError.
    const odd = new Recorder((handler, controller) => {
      controller.rawHeaders = [Buffer.from("X-A"), Buffer.from("1"), Buffer.from("X-Dangling")];
      try {
        handler.onResponseStart?.(controller, 200, { "x-a": "1" }, "OK");
        handler.onResponseEnd?.(controller, {});
      } catch (err) {
        handler.onResponseError?.(controller, err as Error);
      }
    });
    await using s2 = session(odd);
    const r2 = await s2.get("http://odd.test/");
    expect(r2.rawHeaders).toEqual([["X-A", "1"]]);
  });

  it("names the limit a head broke, and takes one exactly at each limit", async () => {
    const heads: Record<string, [string[], string]> = {
      "/h2": [["A", "1", "B", "2"], "OK"],
      "/h3": [["A", "1", "B", "2", "C", "3"], "OK"],
      "/f20": [["X-A", "v".repeat(15)], "OK"],
      "/f21": [["X-A", "v".repeat(16)], "OK"],
      "/l20": [[], "R".repeat(7)],
      "/l21": [[], "R".repeat(8)],
    };
    let path = "";
    const d = new Recorder((handler, controller) => {
      const [raw, reason] = heads[path]!;
      head(handler, controller, 200, raw, reason);
      handler.onResponseEnd?.(controller, {});
    });
    await using s = session(d, { maxHeaders: 2, maxFieldSize: 20, maxLineSize: 20 });
    const get = async (p: string) => {
      path = p;
      return s.get(`http://limits.test${p}`).catch((e: unknown) => e);
    };
    for (const ok of ["/h2", "/f20", "/l20"])
      expect((await get(ok)) as { status: number }).toMatchObject({ status: 200 });
    const refused: Array<[string, string]> = [
      ["/h3", "Too many headers: 3 lines, more than maxHeaders (2) (status 200)"],
      ["/f21", "Got more than 20 bytes when reading header x-a (status 200)"],
      ["/l21", "Got more than 20 bytes when reading the status line (status 200)"],
    ];
    for (const [p, reason] of refused) {
      const err = await get(p);
      expect(err, p).toBeInstanceOf(ClientResponseError);
      expect(err, p).toMatchObject({ status: 400, reason });
    }
  });

  it("decodes a body named by two Content-Encoding lines, in order", async () => {
    const body = zlib.brotliCompressSync(zlib.gzipSync("two codings"));
    const d = new Recorder((handler, controller) => {
      head(handler, controller, 200, ["Content-Encoding", "gzip", "Content-Encoding", "br"]);
      handler.onResponseData?.(controller, body);
      handler.onResponseEnd?.(controller, {});
    });
    await using s = session(d);
    expect(await (await s.get("http://codings.test/")).text()).toBe("two codings");
  });

  it("an empty encoded body has arrived whole: the response is closed when it is returned", async () => {
    const d = new Recorder((handler, controller) => {
      head(handler, controller, 200, ["Content-Encoding", "gzip", "Content-Length", "0"]);
      handler.onResponseEnd?.(controller, {});
    });
    await using s = session(d);
    const resp = await s.get("http://empty.test/");
    expect(resp.closed).toBe(true);
    expect((await resp.read()).length).toBe(0);
  });

  it("a Content-Length that is not all digits gives no download total", async () => {
    for (const length of ["x5", "5x"]) {
      const d = new Recorder((handler, controller) => {
        head(handler, controller, 200, ["Content-Length", length]);
        handler.onResponseData?.(controller, Buffer.from("hello"));
        handler.onResponseEnd?.(controller, {});
      });
      await using s = session(d);
      const seen: unknown[] = [];
      const resp = await s.get("http://length.test/", { onDownloadProgress: (p) => seen.push(p) });
      expect(await resp.text()).toBe("hello");
      expect(seen, length).toEqual([{ loaded: 5, total: null }]);
    }
  });
});

describe("readUntilEof: false", () => {
  const scripted = (raw: string[], method = "GET") => {
    const d = new Recorder((handler, controller) => {
      head(handler, controller, 200, raw);
      // A dispatcher that goes on after being told to stop: what it sends is not taken.
      if (method !== "HEAD") handler.onResponseData?.(controller, Buffer.from("hello"));
      handler.onResponseEnd?.(controller, {});
    });
    return d;
  };

  it("reads a body framed by Content-Length or chunked, whatever header comes after", async () => {
    for (const raw of [
      ["Content-Length", "5"],
      ["Transfer-Encoding", "chunked", "X-After", "1"],
    ]) {
      const d = scripted(raw);
      await using s = session(d);
      expect(await (await s.get("http://framed.test/", { readUntilEof: false })).text(), raw[0]).toBe(
        "hello",
      );
      expect(d.calls.aborts).toEqual([]);
    }
  });

  it("leaves a close-delimited body unread, tells the dispatcher why, and takes nothing it sends later", async () => {
    const d = scripted(["X-Note", "chunked"]);
    await using s = session(d);
    const seen: unknown[] = [];
    const resp = await s.get("http://eof.test/", {
      readUntilEof: false,
      onDownloadProgress: (p) => seen.push(p),
    });
    expect(await resp.text()).toBe("");
    expect(d.calls.aborts.map((e) => [e.constructor.name, e.message])).toEqual([
      ["ClientPayloadError", "body not read: readUntilEof is false"],
    ]);
    await sleep(5);
    expect(seen).toEqual([]);
  });

  it("a HEAD has no body to leave unread: its connection is not aborted", async () => {
    const d = scripted([], "HEAD");
    await using s = session(d);
    const resp = await s.head("http://head.test/", { readUntilEof: false });
    expect(await resp.text()).toBe("");
    expect(d.calls.aborts).toEqual([]);
  });
});

describe("errors after a body-less head", () => {
  it("a 204's Content-Length mismatch is no error, whether on the error or its cause; another error is", async () => {
    const mismatch = "UND_ERR_RES_CONTENT_LENGTH_MISMATCH";
    const errors: Record<string, Error> = {
      "/own": Object.assign(new Error("length"), { code: mismatch }),
      "/cause": new Error("wrapped", { cause: { code: mismatch } }),
      "/other": Object.assign(new Error("reset"), { code: "UND_ERR_SOCKET" }),
    };
    let path = "";
    const d = new Recorder((handler, controller) => {
      head(handler, controller, 204, ["Content-Length", "5"]);
      setTimeout(() => handler.onResponseError?.(controller, errors[path]!), 5);
    });
    await using s = session(d);
    for (const p of ["/own", "/cause"]) {
      path = p;
      const resp = await s.get(`http://nobody.test${p}`);
      expect((await resp.read()).length, p).toBe(0);
    }
    path = "/other";
    const resp = await s.get("http://nobody.test/other");
    await expect(resp.read()).rejects.toBeInstanceOf(ClientPayloadError);
  });

  it("an upgrade nobody asked for closes its socket and fails the request", async () => {
    const socket = new PassThrough();
    const d = new Recorder((handler, controller) => {
      handler.onRequestUpgrade?.(controller, 101, {}, socket);
    });
    await using s = session(d);
    const err = await within(
      s.get("http://upgrade.test/").catch((e: unknown) => e),
      2000,
    );
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect((err as Error).message).toBe("unexpected protocol upgrade");
    expect(socket.destroyed).toBe(true);
  });
});

describe("a dispatcher that starts a second response mid-body", () => {
  it("fails the body being read with the second head's error, rather than leaving it waiting", async () => {
    const d = new Recorder((handler, controller) => {
      head(handler, controller, 200, ["Content-Length", "10"]);
      handler.onResponseData?.(controller, Buffer.from("hello"));
      setTimeout(() => {
        head(handler, controller, 200, ["A", "1", "B", "2"]);
        // It reports the abort it was asked for, as undici's own do.
        const reason = d.calls.aborts.at(-1);
        if (reason) handler.onResponseError?.(controller, reason);
      }, 10);
    });
    await using s = session(d, { maxHeaders: 1 });
    const resp = await s.get("http://twice.test/");
    const err = await within(
      resp.read().catch((e: unknown) => e),
      2000,
    );
    expect(err).toBeInstanceOf(ClientResponseError);
    expect(err).toMatchObject({ reason: "Too many headers: 2 lines, more than maxHeaders (1) (status 200)" });
  });
});

describe("sockRead", () => {
  it.each([
    ["http://stall.test/", 80],
    ["https://stall.test/", 443],
    ["http://stall.test:8080/", 8080],
  ])(
    "a dispatcher silent before the head fails %s with SocketTimeoutError naming the peer",
    async (url, port) => {
      // It never answers, and does not report the abort back either.
      const d = new Recorder(() => {});
      await using s = session(d, { timeout: { sockRead: 30 } });
      const err = await within(
        s.get(url).catch((e: unknown) => e),
        2000,
      );
      expect(err).toBeInstanceOf(SocketTimeoutError);
      expect(err).toMatchObject({ host: "stall.test", port });
      expect((err as Error).message).toBe(
        `Timeout on reading data from socket after 30 ms (stall.test:${port})`,
      );
      expect(d.calls.aborts).toEqual([err]);
    },
  );

  it("a head that comes after the timeout is not taken", async () => {
    const d = new Recorder((handler, controller) => {
      setTimeout(() => {
        head(handler, controller, 200, ["A", "1", "B", "2"]);
      }, 80);
    });
    await using s = session(d, { timeout: { sockRead: 30 }, maxHeaders: 1 });
    await expect(s.get("http://late.test/")).rejects.toBeInstanceOf(SocketTimeoutError);
    await sleep(120);
    expect(d.calls.aborts).toHaveLength(1);
    expect(d.calls.aborts[0]).toBeInstanceOf(SocketTimeoutError);
  });

  it("does not run while the caller is not reading, runs again once it reads, and the dispatcher is aborted once", async () => {
    const d = new Recorder((handler, controller) => {
      head(handler, controller, 200, ["Content-Length", "10000"]);
      // Past twice readBufsize at once: the handler pauses the dispatcher.
      handler.onResponseData?.(controller, Buffer.alloc(5000, 1));
    });
    await using s = session(d, { readBufsize: 1024, timeout: { sockRead: 60, total: 3000 } });
    const resp = await s.get("http://slow.test/");
    expect(d.calls.pauses).toBe(1);
    // Four sockRead periods with nobody reading: no timeout, the body waits.
    await sleep(250);
    expect(d.calls.aborts).toEqual([]);
    expect((await resp.content.readexactly(5000)).length).toBe(5000);
    expect(d.calls.resumes).toBe(1);
    // Now the reader waits and the dispatcher says nothing: sockRead fails the read.
    const err = await resp.content.read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SocketTimeoutError);
    await expect(resp.read()).rejects.toBe(err);
    resp.release();
    expect(d.calls.aborts).toEqual([err]);
  });

  it("does not run while decoded data waits for the caller", async () => {
    const d = new Recorder((handler, controller, self) => {
      head(handler, controller, 200, ["Content-Encoding", "gzip"]);
      handler.onResponseData?.(controller, zlib.gzipSync(Buffer.alloc(1024 * 1024, 7)));
      // The raw body ends only once the caller has caught up.
      self.onResume = () => {
        self.onResume = undefined;
        setImmediate(() => handler.onResponseEnd?.(controller, {}));
      };
    });
    // sockRead with room for decoding 1 MiB on a busy machine; the caller waits far longer.
    await using s = session(d, { readBufsize: 1024, timeout: { sockRead: 300, total: 5000 } });
    const resp = await s.get("http://gzip.test/");
    await sleep(1000);
    const body = await resp.read();
    expect(body.length).toBe(1024 * 1024);
    expect(d.calls.aborts).toEqual([]);
  });

  it("leaves no timer behind once the body is read", async () => {
    const SOCK_READ = 43_217;
    const timers = new Set<number>();
    const hook = createHook({
      init(id, type, _trigger, resource) {
        if (type === "Timeout" && (resource as { _idleTimeout?: number })._idleTimeout === SOCK_READ)
          timers.add(id);
      },
      destroy(id) {
        timers.delete(id);
      },
    });
    hook.enable();
    try {
      const d = new Recorder((handler, controller) => {
        head(handler, controller, 200, ["Content-Length", "2"]);
        setTimeout(() => {
          handler.onResponseData?.(controller, Buffer.from("ok"));
          handler.onResponseEnd?.(controller, {});
        }, 5);
      });
      await using s = session(d, { timeout: { sockRead: SOCK_READ } });
      const resp = await s.get("http://timer.test/");
      expect(timers.size).toBe(1);
      expect(await resp.text()).toBe("ok");
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      expect(timers.size).toBe(0);
    } finally {
      hook.disable();
    }
  });
});

describe("aborted before the dispatcher started the request", () => {
  it("the dispatcher is told to abort as soon as it starts", async () => {
    const d = new Recorder(() => {}, 100);
    await using s = session(d, { timeout: { total: 20 } });
    const err = await s.get("http://late-start.test/").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TotalTimeoutError);
    await sleep(150);
    expect(d.calls.aborts).toEqual([err]);
  });
});

describe("decoding with back-pressure", () => {
  it("a raw piece the decoder cannot take at once pauses the dispatcher until it can", async () => {
    const plain = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251));
    const wire = zlib.gzipSync(plain, { level: 0 });
    const d = new Recorder((handler, controller, self) => {
      head(handler, controller, 200, ["Content-Encoding", "gzip"]);
      handler.onResponseData?.(controller, wire);
      self.onResume = () => {
        self.onResume = undefined;
        setImmediate(() => handler.onResponseEnd?.(controller, {}));
      };
    });
    await using s = session(d);
    const resp = await s.get("http://big-gzip.test/");
    expect((await resp.read()).equals(plain)).toBe(true);
    expect(d.calls.pauses).toBeGreaterThanOrEqual(1);
  });

  it("maxDecompressedSize is the most bytes accepted: exactly that many pass", async () => {
    for (const n of [1000, 1001]) {
      const d = new Recorder((handler, controller) => {
        head(handler, controller, 200, ["Content-Encoding", "gzip"]);
        handler.onResponseData?.(controller, zlib.gzipSync(Buffer.alloc(n, 97)));
        handler.onResponseEnd?.(controller, {});
      });
      await using s = session(d, { maxDecompressedSize: 1000 });
      const out = await (await s.get("http://cap.test/")).read().catch((e: unknown) => e);
      if (n === 1000) expect((out as Buffer).length).toBe(1000);
      else {
        expect(out).toBeInstanceOf(ClientPayloadError);
        expect((out as Error).message).toBe(
          "Decompressed body exceeds the 1000-byte limit (maxDecompressedSize)",
        );
      }
    }
  });
});

describe("a body backed up and dropped", () => {
  it("a response dropped unread tells the dispatcher to abort, once collected", async () => {
    const collect = gc();
    const d = new Recorder((handler, controller) => {
      head(handler, controller, 200, ["Content-Length", "100000"]);
      handler.onResponseData?.(controller, Buffer.alloc(5000, 1));
    });
    await using s = session(d, { readBufsize: 1024 });
    await (async () => {
      const resp = await s.get("http://dropped.test/");
      expect(resp.status).toBe(200);
    })();
    for (let i = 0; i < 50 && d.calls.aborts.length === 0; i++) {
      collect();
      await sleep(10);
    }
    expect(d.calls.aborts.map((e) => [e.constructor.name, e.message])).toEqual([
      ["ClientPayloadError", "the response was garbage-collected before its body was read"],
    ]);
  });

  it("a read waiting for more of a backed-up body keeps it alive through collection", async () => {
    const collect = gc();
    const d = new Recorder((handler, controller, self) => {
      head(handler, controller, 200, ["Content-Length", "10000"]);
      handler.onResponseData?.(controller, Buffer.alloc(5000, 1));
      self.onResume = () => {
        self.onResume = undefined;
        setTimeout(() => {
          handler.onResponseData?.(controller, Buffer.alloc(5000, 2));
          handler.onResponseEnd?.(controller, {});
        }, 150);
      };
    });
    await using s = session(d, { readBufsize: 1024 });
    // Nothing but the pending read refers to the response or its reader.
    const length = (async () => (await (await s.get("http://pinned.test/")).read()).length)();
    for (let i = 0; i < 8; i++) {
      await sleep(10);
      collect();
    }
    expect(await within(length, 2000)).toBe(10000);
    expect(d.calls.aborts).toEqual([]);
  });
});

describe("chunk-size lines on an @x connector's socket", () => {
  const HEAD = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n";
  /** A chunk-size line of exactly `n` bytes (CRLF included) for a 5-byte chunk. */
  const line = (n: number) => `5;${"e".repeat(n - 4)}\r\n`;

  it("framing up to maxLineSize + 1 KiB reads; one byte more fails the body, naming the limit", async () => {
    await using srv = await startRawServer(async (conn) => {
      for (;;) {
        const req = await conn.readHead().catch(() => undefined);
        if (!req) return;
        const n = Number(req.split(" ")[1]!.slice(1));
        await conn.write(HEAD);
        await sleep(40);
        await conn.write(line(n)).catch(() => {});
        await sleep(40);
        await conn.write("hello\r\n0\r\n\r\n").catch(() => {});
      }
    });
    await using s = new ClientSession({ maxLineSize: 100 });
    expect(await (await s.get(srv.url("/1124"))).text()).toBe("hello");
    const err = await (await s.get(srv.url("/1125"))).text().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect((err as Error).message).toBe(
      "Response payload is not completed: a chunk-size line longer than maxLineSize (100)",
    );
  });

  it("a keep-alive connection carrying many chunked responses gathers no listeners", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      await using srv = await startRawServer(async (conn) => {
        for (;;) {
          const req = await conn.readHead().catch(() => undefined);
          if (!req) return;
          await conn.write(`${HEAD}2\r\nok\r\n0\r\n\r\n`);
        }
      });
      await using s = new ClientSession();
      for (let i = 0; i < 15; i++) expect(await (await s.get(srv.url(`/${i}`))).text()).toBe("ok");
      expect(srv.connections).toHaveLength(1);
      await sleep(10);
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });
});
