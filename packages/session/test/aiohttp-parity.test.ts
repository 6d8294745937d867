import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Readable } from "node:stream";
import { gunzipSync, gzipSync } from "node:zlib";
import { type AbstractResolver, type ResolvedHost, TCPConnector } from "@x/connector";
import {
  ClientError,
  ClientPayloadError,
  ClientResponseError,
  InvalidArgumentError,
  InvalidUrlClientError,
  InvalidUrlRedirectClientError,
  NonHttpUrlClientError,
  SocketTimeoutError,
  TotalTimeoutError,
} from "@x/errors";
import {
  type EchoReply,
  echo,
  echoHeader,
  type RawConnection,
  readBody,
  redirector,
  sleep,
  startHttpServer,
  startProxyServer,
  startRawServer,
} from "@x/fixtures";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

// The aiohttp-parity issue, one `it` per behaviour. Each test says in a comment what the code did
// before the fix, so a reader sees what the assertion pins.

const json = async (r: { json(): Promise<unknown> }) => (await r.json()) as EchoReply;
const MiB = 2 ** 20;

/** A resolver that answers every name with 127.0.0.1 (and `port`, when given) and records the questions. */
function mapAllTo(port?: number): AbstractResolver & { calls: Array<[string, number]> } {
  const calls: Array<[string, number]> = [];
  return {
    calls,
    async resolve(host: string, p: number): Promise<ResolvedHost[]> {
      calls.push([host, p]);
      return [{ hostname: host, host: "127.0.0.1", port: port ?? p, family: 4 }];
    },
    async close() {},
  };
}

/**
 * A raw server answering every request on every connection with `respond(path)`, keep-alive;
 * it records each request head.
 */
async function scripted(respond: (path: string, index: number) => string | Buffer) {
  const heads: string[] = [];
  const srv = await startRawServer(async (conn) => {
    for (;;) {
      const head = await conn.readHead().catch(() => undefined);
      if (head === undefined) return;
      heads.push(head);
      const path = /^[A-Z]+ (\S+) /.exec(head)?.[1] ?? "";
      await conn.write(respond(path, heads.length - 1));
    }
  });
  return Object.assign(srv, { heads });
}

/** Splits a multipart/form-data body on the boundary its Content-Type names: field name → value. */
function parseMultipart(contentType: string, body: Buffer): Record<string, string> {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const b = boundary?.[1] ?? boundary?.[2];
  if (!b) throw new Error(`no boundary in ${contentType}`);
  const fields: Record<string, string> = {};
  const parts = body.toString("latin1").split(`--${b}`);
  for (const part of parts.slice(1)) {
    if (part.startsWith("--")) break;
    const at = part.indexOf("\r\n\r\n");
    const head = part.slice(0, at);
    const name = /name="([^"]*)"/i.exec(head)?.[1] ?? "";
    fields[name] = part.slice(at + 4).replace(/\r\n$/, "");
  }
  return fields;
}

/** A node:http server on `::` (dual stack: IPv6, and IPv4 as ::ffff:a.b.c.d), counting requests. */
async function startDualStackServer(handler: RequestListener = echo) {
  const server: Server = createServer(handler);
  const sockets = new Set<Socket>();
  const seen: string[] = [];
  server.on("request", (req: IncomingMessage) => seen.push(req.url ?? ""));
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "::", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  return { port, seen, close, [Symbol.asyncDispose]: close };
}

describe("connecting", () => {
  it("1. a custom resolver's answer decides the port, and Host stays the URL's name", async () => {
    // Before: the resolver's port was ignored; the connection went to example.com's address on
    // port 80 (127.0.0.1:80 here) and failed with ECONNREFUSED.
    await using srv = await startHttpServer(echo);
    const resolver = mapAllTo(srv.port);
    await using session = new ClientSession({ connector: new TCPConnector({ resolver }) });
    const resp = await session.get("http://example.com/");
    expect(resp.status).toBe(200);
    const reply = await json(resp);
    expect(reply.url).toBe("/");
    expect(echoHeader(reply, "host")).toBe("example.com");
    expect(resolver.calls[0]).toEqual(["example.com", 80]);
    expect(srv.stats.accepted).toBe(1);
  });
});

describe("redirects", () => {
  it("2. request('HEAD') follows a 302; head() returns it", async () => {
    // Before: request("HEAD") defaulted to allowRedirects: false like head(), and returned the
    // 302 with an empty history.
    await using srv = await startHttpServer(redirector);
    await using session = new ClientSession();
    const followed = await session.request("HEAD", srv.url("/r/302?to=/end"));
    expect(followed.status).toBe(200);
    expect(followed.url.pathname).toBe("/end");
    expect(followed.history).toHaveLength(1);
    expect(followed.history[0]?.status).toBe(302);
    const shortcut = await session.head(srv.url("/r/302?to=/end"));
    expect(shortcut.status).toBe(302);
    expect(shortcut.history).toHaveLength(0);
  });

  it("3. credentials in a same-origin Location win over the caller's Authorization", async () => {
    // Before: the caller's `Authorization: Basic user:pass` was sent again on the second hop and
    // the `user@` of the Location was ignored.
    const seen: Array<[string, string | undefined]> = [];
    let port = 0;
    await using srv = await startHttpServer((req, res) => {
      seen.push([req.url ?? "", req.headers.authorization]);
      if (req.url === "/first") {
        res.statusCode = 301;
        res.setHeader("location", `http://user@127.0.0.1:${port}/next`);
      }
      res.end("x");
    });
    port = srv.port;
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/first"), { headers: { Authorization: "Basic dXNlcjpwYXNz" } });
    expect(resp.status).toBe(200);
    expect(resp.history).toHaveLength(1);
    expect(seen).toEqual([
      ["/first", "Basic dXNlcjpwYXNz"],
      ["/next", "Basic dXNlcjo="],
    ]);
  });

  it("7. http:/host, http:///host and http:///path are refused as request URLs and as a Location", async () => {
    // Before: WHATWG parsing made `http:/example.com` and `http:///example.com` requests to
    // example.com, `http:///path` a request to a host called `path`, and, as a Location, `http:/`
    // and `http:` requests to a path on the current host.
    let current = "";
    const srv = await scripted((_path, index) =>
      index === 0
        ? `HTTP/1.1 302 Found\r\nLocation: ${current}\r\nContent-Length: 0\r\n\r\n`
        : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    try {
      // Every name resolves to the raw server: a request that should not be made is counted there.
      const resolver = mapAllTo(srv.port);
      await using session = new ClientSession({ connector: new TCPConnector({ resolver }) });
      for (const bad of ["http:/example.com", "http:///example.com", "http:///path"]) {
        const err = await session.get(bad).catch((e: unknown) => e);
        expect(err, bad).toBeInstanceOf(InvalidUrlClientError);
        expect(err, bad).not.toBeInstanceOf(InvalidUrlRedirectClientError);
      }
      expect(resolver.calls).toEqual([]);
      expect(srv.connections).toHaveLength(0);

      for (const bad of ["http:/example.com", "http:///example.com", "http:///path", "http:/", "http:"]) {
        current = bad;
        srv.heads.length = 0;
        const err = await session.get(srv.url("/start")).catch((e: unknown) => e);
        expect(err, bad).toBeInstanceOf(InvalidUrlRedirectClientError);
        const redirect = err as InvalidUrlRedirectClientError;
        expect(redirect.url, bad).toBe(bad);
        expect(redirect.history, bad).toHaveLength(1);
        expect(redirect.history[0]?.status, bad).toBe(302);
        await sleep(20);
        // Only the first request was made: nothing to example.com, `path`, / or /start again.
        expect(
          srv.heads.map((h) => h.split("\r\n")[0]),
          bad,
        ).toEqual(["GET /start HTTP/1.1"]);
      }
      expect(resolver.calls).toEqual([]);
    } finally {
      await srv.close();
    }
  });
});

describe("options checked before any I/O", () => {
  it("5. cookies: null, as a session option and as a request option, means no cookies", async () => {
    // Before: `cookies: null` threw (null taken as a cookie input: "cookies must be a record, …,
    // got null"; the issue saw a raw TypeError).
    await using srv = await startHttpServer(echo);
    await using none = new ClientSession({ cookies: null });
    const first = await json(await none.get(srv.url("/a")));
    expect(echoHeader(first, "cookie")).toBeUndefined();
    const second = await json(await none.get(srv.url("/b"), { cookies: null }));
    expect(echoHeader(second, "cookie")).toBeUndefined();
    // A request's `cookies: null` adds none: the session's own cookies still go.
    await using some = new ClientSession({ cookies: { s: "1" } });
    const third = await json(await some.get(srv.url("/c"), { cookies: null }));
    expect(echoHeader(third, "cookie")).toBe("s=1");
  });

  it("6. a bad proxy option fails before any I/O, per request and per session", async () => {
    // Before: `proxy: 42` was ignored (the request went out direct), a scheme-less "InvalidUrl"
    // was taken as http://InvalidUrl and looked up, and `socks5://` was an InvalidArgumentError.
    await using target = await startHttpServer(echo);
    await using proxy = await startProxyServer();
    await using session = new ClientSession();
    const socks = `socks5://127.0.0.1:${proxy.port}`;
    const cases: Array<[unknown, new (...args: never[]) => Error]> = [
      [42, InvalidArgumentError],
      ["InvalidUrl", InvalidUrlClientError],
      [socks, NonHttpUrlClientError],
    ];
    for (const [value, type] of cases) {
      const err = await session.get(target.url("/x"), { proxy: value as never }).catch((e: unknown) => e);
      expect(err, String(value)).toBeInstanceOf(type);
      expect(() => new ClientSession({ proxy: value as never }), String(value)).toThrow(type);
    }
    await sleep(20);
    expect(target.stats.accepted).toBe(0);
    expect(proxy.stats.accepted).toBe(0);
    expect(proxy.requests).toHaveLength(0);
  });
});

describe("odd answers", () => {
  it("8. a 101 to a plain GET is a ClientResponseError with status 101", async () => {
    // Before: undici's AssertionError (`assert(upgrade)`) reached the caller, later wrapped as a
    // ClientConnectionError; neither said 101.
    for (const extra of ["", "Upgrade: websocket\r\nConnection: upgrade\r\n"]) {
      await using srv = await startRawServer(async (conn) => {
        await conn.readHead();
        await conn.write(`HTTP/1.1 101 Switching Protocols\r\n${extra}\r\n`);
        await conn.readToEnd();
      });
      await using session = new ClientSession();
      const err = await session.get(srv.url("/plain")).catch((e: unknown) => e);
      expect(err, JSON.stringify(extra)).toBeInstanceOf(ClientResponseError);
      expect(err, JSON.stringify(extra)).toBeInstanceOf(ClientError);
      expect((err as ClientResponseError).status, JSON.stringify(extra)).toBe(101);
    }
  });

  it("24. 48 MiB of chunk extension fails the body early; a 1 KiB one reads fine", async () => {
    // Before: undici's parser read the whole chunk-size line, however long: the client took all
    // 48 MiB (or hung until the total timeout) before anything happened.
    const total = 48 * MiB;
    let sent = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const started = performance.now();
    await using srv = await startRawServer(async (conn: RawConnection) => {
      try {
        await conn.readHead();
        await conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;");
        const piece = Buffer.alloc(64 * 1024, "a");
        const socket = conn.socket;
        while (sent < total && !socket.destroyed && !conn.ended) {
          sent += piece.length;
          // One piece per turn of the event loop: the client (in this process) reads as the bytes
          // come, so `sent` measures the client, not how much the kernel's buffers hold (~4 MB).
          const flowing = socket.write(piece);
          await new Promise((resolve) => setImmediate(resolve));
          if (!flowing && !socket.destroyed && socket.writableNeedDrain) {
            await new Promise<void>((resolve) => {
              const wake = () => {
                socket.off("drain", wake);
                socket.off("close", wake);
                resolve();
              };
              socket.on("drain", wake);
              socket.on("close", wake);
            });
          }
        }
        if (!socket.destroyed && !conn.ended) await conn.write("\r\nhello\r\n0\r\n\r\n");
      } finally {
        done();
      }
    });
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/ext"));
    await expect(resp.read()).rejects.toBeInstanceOf(ClientPayloadError);
    await finished;
    expect(sent).toBeLessThan(4 * MiB);
    expect(performance.now() - started).toBeLessThan(10_000);

    await using small = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write(
        `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;${"a".repeat(1024)}\r\nhello\r\n0\r\n\r\n`,
      );
      await conn.readToEnd();
    });
    expect(await (await session.get(small.url("/ext"))).text()).toBe("hello");
  });
});

describe("timeouts", () => {
  async function* slowUpload(): AsyncGenerator<Buffer> {
    yield Buffer.from("first;");
    await sleep(1000);
    yield Buffer.from("second");
  }

  it("9. sockRead starts once the request has been sent", async () => {
    // Before: the sockRead timer ran while the body was still being uploaded, so a 1 s pause
    // in a streamed upload failed with SocketTimeoutError after 600 ms.
    const bodies: string[] = [];
    await using prompt = await startHttpServer(async (req, res) => {
      // The upload cut by the total timeout ends the request early: `aborted` is expected then.
      const body = await readBody(req).catch(() => undefined);
      if (body === undefined) return;
      bodies.push(body.toString());
      res.end("thanks");
    });
    await using session = new ClientSession();
    const resp = await session.post(prompt.url("/up"), { data: slowUpload(), timeout: { sockRead: 600 } });
    expect(await resp.text()).toBe("thanks");
    expect(bodies).toEqual(["first;second"]);

    // The total timeout still covers the upload.
    const total = await session
      .post(prompt.url("/up"), { data: slowUpload(), timeout: { sockRead: 600, total: 800 } })
      .catch((e: unknown) => e);
    expect(total).toBeInstanceOf(TotalTimeoutError);

    // Once the body is sent, sockRead applies: a head 1.5 s after the body fails.
    await using slow = await startHttpServer(async (req, res) => {
      if ((await readBody(req).catch(() => undefined)) === undefined) return;
      await sleep(1500);
      if (!res.destroyed) res.end("late");
    });
    const late = await session
      .post(slow.url("/up"), { data: slowUpload(), timeout: { sockRead: 600 } })
      .catch((e: unknown) => e);
    expect(late).toBeInstanceOf(SocketTimeoutError);
  });
});

describe("request bodies", () => {
  it("10. an empty body with compress sends Content-Length: 0 and no bytes, no Content-Encoding", async () => {
    // Before: compress turned the empty body into an 8-byte deflate stream sent chunked with
    // Content-Encoding: deflate.
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    for (const data of ["", Buffer.alloc(0)]) {
      const reply = await json(await session.post(srv.url("/empty"), { data, compress: true }));
      const what = typeof data === "string" ? "string" : "Buffer";
      expect(reply.length, what).toBe(0);
      expect(echoHeader(reply, "content-length"), what).toBe("0");
      expect(echoHeader(reply, "content-encoding"), what).toBeUndefined();
      expect(echoHeader(reply, "transfer-encoding"), what).toBeUndefined();
    }
  });

  it("11. FormData goes chunked with chunked: true, and gzipped with compress: 'gzip'", async () => {
    // Before: undici encodes a FormData only as a whole body of known length: `chunked: true`
    // was not honoured (Content-Length, no Transfer-Encoding) and compress was refused with
    // InvalidArgumentError.
    const got: Array<{ headers: IncomingMessage["headers"]; body: Buffer }> = [];
    await using srv = await startHttpServer(async (req, res) => {
      got.push({ headers: req.headers, body: await readBody(req) });
      res.end("ok");
    });
    await using session = new ClientSession();
    const form = () => {
      const f = new FormData();
      f.append("name", "value");
      f.append("file", new Blob(["file content"], { type: "text/plain" }), "a.txt");
      return f;
    };
    expect(await (await session.post(srv.url("/chunked"), { data: form(), chunked: true })).text()).toBe(
      "ok",
    );
    const chunked = got[0]!;
    expect(chunked.headers["transfer-encoding"]).toBe("chunked");
    expect(chunked.headers["content-length"]).toBeUndefined();
    expect(chunked.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(parseMultipart(chunked.headers["content-type"] ?? "", chunked.body)).toEqual({
      name: "value",
      file: "file content",
    });

    expect(await (await session.post(srv.url("/gzip"), { data: form(), compress: "gzip" })).text()).toBe(
      "ok",
    );
    const gz = got[1]!;
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gz.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(parseMultipart(gz.headers["content-type"] ?? "", gunzipSync(gz.body))).toEqual({
      name: "value",
      file: "file content",
    });
  });

  it("12. a stream body longer than an explicit Content-Length is cut at that length", async () => {
    // Before: the request failed after the head had gone out (undici's
    // UND_ERR_REQ_CONTENT_LENGTH_MISMATCH; the issue saw InvalidArgumentError).
    const streams: Array<[string, () => Readable | AsyncIterable<Buffer>, number, string]> = [
      ["Readable.from", () => Readable.from([Buffer.from("hello world")]), 5, "hello"],
      [
        "async generator",
        async function* () {
          yield Buffer.from("abc");
          yield Buffer.from("defg");
          yield Buffer.from("hij");
        },
        6,
        "abcdef",
      ],
    ];
    for (const [what, make, length, expected] of streams) {
      let headLength = 0;
      await using srv = await startRawServer(async (conn) => {
        const head = await conn.readHead();
        headLength = Buffer.byteLength(head, "latin1");
        await conn.readBytes(length);
        await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        await conn.readToEnd();
      });
      await using session = new ClientSession();
      const resp = await session.post(srv.url("/cut"), {
        data: make() as never,
        headers: { "Content-Length": String(length) },
      });
      expect(resp.status, what).toBe(200);
      expect(await resp.text(), what).toBe("ok");
      await sleep(30);
      const received = srv.received();
      const head = received.subarray(0, headLength).toString("latin1").toLowerCase();
      expect(head, what).toContain(`content-length: ${length}\r\n`);
      expect(head, what).not.toContain("transfer-encoding");
      expect(received.subarray(headLength).toString("latin1"), what).toBe(expected);
    }
  });
});

describe("responses", () => {
  it("13. resp.closed turns true once the body is read to the end or released, and the connection is reused", async () => {
    // Before: `closed` stayed false after the body had been read to the end without release().
    const big = Buffer.alloc(4 * MiB, "b");
    await using srv = await startHttpServer((_req, res) => {
      res.setHeader("content-length", big.length);
      res.end(big);
    });
    await using session = new ClientSession();
    const first = await session.get(srv.url("/1"));
    expect(first.closed).toBe(false);
    expect((await first.read()).length).toBe(big.length);
    expect(first.closed).toBe(true);
    const second = await session.get(srv.url("/2"));
    expect(second.closed).toBe(false);
    expect((await second.text()).length).toBe(big.length);
    expect(second.closed).toBe(true);
    // Both went over one connection: it went back to the pool after the first body.
    expect(srv.stats.accepted).toBe(1);

    const third = await session.get(srv.url("/3"));
    expect(third.closed).toBe(false);
    third.release();
    expect(third.closed).toBe(true);
  });

  it("14. maxHeaders (default 128), and per-request maxHeaders, maxFieldSize, maxLineSize and readBufsize", async () => {
    // Before: maxHeaders did not exist (any number of header lines passed), and the per-request
    // limits were ignored in favour of the session's.
    const srv = await scripted((path) => {
      const [, kind = "", n = "0"] = path.split("/");
      const count = Number(n);
      if (kind === "h") {
        // `count` header lines in all, Content-Length among them.
        const lines = Array.from({ length: count - 1 }, (_, i) => `X-H-${i}: v\r\n`).join("");
        return `HTTP/1.1 200 OK\r\nContent-Length: 2\r\n${lines}\r\nok`;
      }
      if (kind === "field")
        return `HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Big: ${"f".repeat(count)}\r\n\r\nok`;
      if (kind === "reason") return `HTTP/1.1 200 ${"R".repeat(count)}\r\nContent-Length: 2\r\n\r\nok`;
      // A body of `count` bytes with no line break in it.
      return `HTTP/1.1 200 OK\r\nContent-Length: ${count}\r\n\r\n${"a".repeat(count)}`;
    });
    try {
      await using session = new ClientSession();
      const fails = async (p: Promise<unknown>, what: string) => {
        const err = await p.catch((e: unknown) => e);
        expect(err, what).toBeInstanceOf(ClientResponseError);
        expect((err as ClientResponseError).status, what).toBe(400);
      };
      // maxHeaders: 128 lines pass, 129 fail; 200 per request lets 150 through, on that request only.
      expect(await (await session.get(srv.url("/h/128"))).text()).toBe("ok");
      await fails(session.get(srv.url("/h/129")), "129 header lines");
      expect(await (await session.get(srv.url("/h/150"), { maxHeaders: 200 })).text()).toBe("ok");
      await fails(session.get(srv.url("/h/150")), "150 header lines, default limit");
      // As a session option.
      await using strict = new ClientSession({ maxHeaders: 10 });
      expect(await (await strict.get(srv.url("/h/10"))).text()).toBe("ok");
      await fails(strict.get(srv.url("/h/11")), "11 lines, session maxHeaders 10");

      // maxFieldSize: a 5000-byte header passes by default, fails with 4000 on that request only.
      expect(await (await session.get(srv.url("/field/5000"))).text()).toBe("ok");
      await fails(session.get(srv.url("/field/5000"), { maxFieldSize: 4000 }), "maxFieldSize 4000");
      expect(await (await session.get(srv.url("/field/5000"))).text()).toBe("ok");

      // maxLineSize: a 5000-byte status line passes by default, fails with 4000 on that request only.
      expect(await (await session.get(srv.url("/reason/5000"))).text()).toBe("ok");
      await fails(session.get(srv.url("/reason/5000"), { maxLineSize: 4000 }), "maxLineSize 4000");
      expect(await (await session.get(srv.url("/reason/5000"))).text()).toBe("ok");

      // readBufsize sizes the body's buffer; readline() gives up past twice that without a line break.
      const line = await (await session.get(srv.url("/body/10000"))).content.readline();
      expect(line.length).toBe(10000);
      const small = await session.get(srv.url("/body/10000"), { readBufsize: 1024 });
      await expect(small.content.readline()).rejects.toBeInstanceOf(ClientPayloadError);
      small.release();
    } finally {
      await srv.close();
    }
  });

  it("15. content.totalRawBytes is the size on the wire; totalBytes the decoded size", async () => {
    // Before: there was no totalRawBytes (undefined); the wire size of an encoded body was unknown.
    const plain = Buffer.from("the quick brown fox jumps over the lazy dog\n".repeat(500));
    const gz = gzipSync(plain);
    await using srv = await startHttpServer((req, res) => {
      if (req.url === "/gz") res.setHeader("content-encoding", "gzip");
      const body = req.url === "/gz" ? gz : plain;
      res.setHeader("content-length", body.length);
      res.end(body);
    });
    await using session = new ClientSession();
    const encoded = await session.get(srv.url("/gz"));
    expect((await encoded.read()).equals(plain)).toBe(true);
    expect(encoded.content.totalRawBytes).toBe(gz.length);
    expect(encoded.content.totalBytes).toBe(plain.length);
    expect(gz.length).toBeLessThan(plain.length);

    const identity = await session.get(srv.url("/plain"));
    await identity.read();
    expect(identity.content.totalRawBytes).toBe(plain.length);
    expect(identity.content.totalBytes).toBe(plain.length);
  });
});

describe("NO_PROXY (trustEnv)", () => {
  const names = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"];
  const saved = { ...process.env };
  beforeEach(() => {
    for (const n of names) delete process.env[n];
  });
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it("22. a trailing dot on the host (any case) still matches NO_PROXY", async () => {
    // Before: `localhost.` and `LOCALHOST.` did not match the `localhost` entry and went to the
    // proxy, with the request's cookies and Authorization.
    await using target = await startHttpServer(echo);
    await using proxy = await startProxyServer();
    process.env.HTTP_PROXY = proxy.origin;
    process.env.NO_PROXY = "localhost,127.0.0.1";
    // `localhost.` is not in this machine's hosts file: the resolver maps every name to 127.0.0.1.
    // (URL parsing lower-cases `LOCALHOST.`; it is here so that no later change to that path
    // lets the upper-case spelling through.)
    await using session = new ClientSession({
      trustEnv: true,
      connector: new TCPConnector({ resolver: mapAllTo() }),
    });
    for (const host of ["localhost.", "LOCALHOST."]) {
      const resp = await session.get(`http://${host}:${target.port}/direct`, {
        headers: { Authorization: "Basic dXNlcjpwYXNz" },
        cookies: { c: "1" },
      });
      expect(resp.status, host).toBe(200);
      const reply = await json(resp);
      expect(echoHeader(reply, "authorization"), host).toBe("Basic dXNlcjpwYXNz");
    }
    expect(proxy.requests).toHaveLength(0);
    expect(proxy.stats.accepted).toBe(0);
    // Control: with a NO_PROXY that does not list it, the same URL goes to the proxy.
    process.env.NO_PROXY = "example.com";
    await (await session.get(`http://localhost.:${target.port}/via`)).read().catch(() => {});
    expect(proxy.requests.map((r) => r.target)).toEqual([`http://localhost.:${target.port}/via`]);
  });

  it("23. IPv4-mapped IPv6 hosts, IPv6 entries and CIDRs of either family", async () => {
    // Before: `[::ffff:127.0.0.1]` did not match `127.0.0.1` or `127.0.0.0/8` (it went to the
    // proxy); `[::1]:<port>` and `::1/128` entries did not match `[::1]`; and an IPv6 CIDR was
    // compared with IPv4 hosts.
    await using target = await startDualStackServer();
    await using proxy = await startProxyServer();
    process.env.HTTP_PROXY = proxy.origin;
    await using session = new ClientSession({ trustEnv: true });
    const direct = async (url: string, noProxy: string) => {
      process.env.NO_PROXY = noProxy;
      const before = proxy.requests.length;
      const resp = await session.get(url);
      expect(resp.status, `${url} with NO_PROXY=${noProxy}`).toBe(200);
      await resp.read();
      expect(proxy.requests.length, `${url} with NO_PROXY=${noProxy}`).toBe(before);
    };
    const mapped = [`http://[::ffff:127.0.0.1]:${target.port}/m`, `http://[::ffff:7f00:1]:${target.port}/m`];
    for (const url of mapped) {
      await direct(url, "127.0.0.1");
      await direct(url, "127.0.0.0/8");
    }
    const v6 = `http://[::1]:${target.port}/six`;
    for (const entry of ["::1", `[::1]:${target.port}`, "::1/128"]) await direct(v6, entry);
    expect(target.seen).toHaveLength(7);
    expect(proxy.requests).toHaveLength(0);

    // An IPv6 CIDR never holds an IPv4 host: 127.0.0.1 still goes through the proxy.
    process.env.NO_PROXY = "::/0";
    const through = await session.get(`http://127.0.0.1:${target.port}/four`);
    expect(through.status).toBe(200);
    await through.read();
    expect(proxy.requests.map((r) => r.target)).toEqual([`http://127.0.0.1:${target.port}/four`]);
    // Control: a mapped host not listed goes through the proxy too.
    process.env.NO_PROXY = "10.0.0.0/8";
    await (await session.get(mapped[0]!)).read();
    expect(proxy.requests).toHaveLength(2);
  });
});
