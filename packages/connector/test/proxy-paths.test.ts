import type { Socket } from "node:net";
import {
  ClientConnectionError,
  ClientHttpProxyError,
  ClientProxyConnectionError,
  ConnectionTimeoutError,
  InvalidArgumentError,
  InvalidUrlClientError,
  NonHttpUrlClientError,
} from "@x/errors";
import { type RawConnection, startHttpServer, startProxyServer, startRawServer, until } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { type ProxySettings, proxyId, proxyOption, proxySettings, TCPConnector } from "../src/index.js";
import { send } from "./helpers.js";

// Proxy settings as users give them, the headers that go to a proxy, and the CONNECT exchange
// against a raw proxy writing exactly the bytes of each case.

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (err) {
    return err as Error;
  }
  throw new Error("nothing was thrown");
}

const basic = (text: string) => `Basic ${Buffer.from(text, "latin1").toString("base64")}`;

/** Reads `n` bytes from a socket. */
function readFrom(socket: Socket, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= n) {
        socket.off("data", onData);
        socket.off("close", onClose);
        resolve(got.toString("latin1"));
      }
    };
    const onClose = () => reject(new Error(`closed after ${JSON.stringify(got.toString("latin1"))}`));
    socket.on("data", onData);
    socket.once("close", onClose);
  });
}

/** A raw proxy running `script` per connection; `connect()` through it to `target`. */
async function tunnel(
  script: (conn: RawConnection) => Promise<void>,
  options: {
    proxy?: Partial<ProxySettings>;
    target?: string;
    sockConnect?: number;
    connectTimeout?: number | null;
    signal?: AbortSignal;
    use?: (socket: Socket) => Promise<unknown>;
  } = {},
) {
  await using proxy = await startRawServer(script);
  await using connector = new TCPConnector(
    options.connectTimeout !== undefined ? { connectTimeout: options.connectTimeout } : {},
  );
  const settings: ProxySettings = { url: new URL(`http://127.0.0.1:${proxy.port}`), ...options.proxy };
  let used: unknown;
  const result = await connector
    .connect({
      url: options.target ?? "http://target.test:8080/",
      proxy: settings,
      timeout: options.sockConnect !== undefined ? { sockConnect: options.sockConnect } : undefined,
      signal: options.signal,
    })
    .then(
      async (conn) => {
        try {
          if (options.use) used = await options.use(conn.transport!);
        } finally {
          conn.close();
        }
        return conn;
      },
      (e: unknown) => e,
    );
  return { result, used, sent: proxy.received().toString("latin1"), proxy };
}

/** A proxy answering CONNECT with `reply` and leaving the connection open until the client goes. */
const answering = (reply: string) => async (conn: RawConnection) => {
  await conn.readHead();
  await conn.write(reply);
  await conn.readToEnd().catch(() => {});
};

describe("proxyOption: a proxy option checked before any I/O", () => {
  const settings: ProxySettings = { url: new URL("https://p.test:3128"), authorization: basic("a:b") };

  it("takes ProxySettings as they are, http or https", () => {
    expect(proxyOption(settings)).toBe(settings);
    const plain = { url: new URL("http://p.test:3128") };
    expect(proxyOption(plain, "proxy")).toBe(plain);
  });

  it("checks ProxySettings: scheme, credentials and headers", () => {
    expect(thrown(() => proxyOption({ url: new URL("socks5://p.test:1080") }))).toEqual(
      new InvalidArgumentError("unsupported proxy scheme socks5: (expected http: or https:)"),
    );
    expect(
      thrown(() => proxyOption({ url: new URL("http://p.test"), authorization: "Basic x\r\nX-Evil: 1" })),
    ).toEqual(new InvalidArgumentError("proxy Proxy-Authorization must not contain CR, LF or NUL"));
    expect(
      thrown(() => proxyOption({ url: new URL("http://p.test"), headers: [["Bad Name", "1"]] })),
    ).toEqual(new InvalidArgumentError('invalid proxy header name "Bad Name"'));
    expect(
      thrown(() => proxyOption({ url: new URL("http://p.test"), headers: [["X-Via", "1\nX-Evil: 1"]] })),
    ).toEqual(new InvalidArgumentError("proxy header X-Via must not contain CR, LF or NUL"));
  });

  it.each<[string, unknown, string]>([
    ["null", null, "null"],
    ["undefined", undefined, "undefined"],
    ["a number", 3128, "number"],
    ["an object without a URL", { url: "http://p.test:3128" }, "object"],
  ])("refuses %s with InvalidArgumentError", (_what, value, type) => {
    expect(thrown(() => proxyOption(value))).toEqual(
      new InvalidArgumentError(`proxy must be a URL (a string or a URL object), got ${type}`),
    );
    expect(thrown(() => proxyOption(value, "session proxy")).message).toBe(
      `session proxy must be a URL (a string or a URL object), got ${type}`,
    );
  });

  it("makes settings from a string or URL, with its credentials, or the ones given", () => {
    const fromText = proxyOption("http://ada:pw@p.test:3128");
    expect(fromText.url.href).toBe("http://p.test:3128/");
    expect(fromText.authorization).toBe(basic("ada:pw"));
    const fromUrl = proxyOption(new URL("HTTPS://P.test"), "proxy", "Basic eA==", [["X-Via", "1"]]);
    expect(fromUrl).toEqual({
      url: new URL("https://p.test/"),
      authorization: "Basic eA==",
      headers: [["X-Via", "1"]],
    });
  });

  it.each<[string, string]>([
    ["no scheme", "p.test:3128"],
    ["no host", "http:///path"],
    ["an empty authority", "http://"],
    ["something before the scheme", "1http://p.test:3128"],
  ])("refuses %s with InvalidUrlClientError", (_what, text) => {
    const err = thrown(() => proxyOption(text));
    expect(err).toBeInstanceOf(InvalidUrlClientError);
    expect(err.message).toBe(`${text} - proxy must be an absolute http:// or https:// URL with a host`);
    expect((err as InvalidUrlClientError).url).toBe(text);
  });

  it("refuses another scheme with NonHttpUrlClientError, naming it in lower case", () => {
    for (const text of ["socks5://p.test:1080", "  SOCKS5://p.test:1080 "]) {
      const err = thrown(() => proxyOption(text, "the proxy"));
      expect(err).toBeInstanceOf(NonHttpUrlClientError);
      expect(err.message).toBe(
        `${text} - the proxy must be an http:// or https:// proxy (socks5: is not supported)`,
      );
    }
  });
});

describe("proxySettings", () => {
  it("adds http:// to a URL without a scheme, even when a scheme appears later in it", () => {
    expect(proxySettings("p.test:3128/?next=http://x").url.href).toBe("http://p.test:3128/?next=http://x");
  });

  it("keeps the URL parser's error as the cause", () => {
    const err = thrown(() => proxySettings("http://[::1"));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it("turns a user name, a password, or both into Basic credentials; none into none", () => {
    expect(proxySettings("http://p.test:3128").authorization).toBeUndefined();
    expect(proxySettings("http://p.test:3128", "Bearer t").authorization).toBe("Bearer t");
    expect(proxySettings("http://ada@p.test:3128").authorization).toBe(basic("ada:"));
    expect(proxySettings("http://:pw@p.test:3128").authorization).toBe(basic(":pw"));
    expect(proxySettings("http://ada:pw@p.test:3128").url.href).toBe("http://p.test:3128/");
  });
});

describe("the pool key of a proxy", () => {
  it("is the proxy's origin and a short digest: credentials and headers tell proxies apart, unseen", () => {
    const url = new URL("http://p.test:3128/path");
    const id = (authorization?: string, headers?: [string, string][]) =>
      proxyId({
        url,
        ...(authorization !== undefined ? { authorization } : {}),
        ...(headers ? { headers } : {}),
      });
    const plain = id();
    expect(plain).toMatch(/^http:\/\/p\.test:3128#[\w-]{16}$/);
    expect(id()).toBe(plain);
    const ids = [
      plain,
      // An empty authorization is sent (an empty Proxy-Authorization line): not the same proxy as none.
      id(""),
      id("Basic eA=="),
      id("Basic eQ=="),
      id(undefined, [["X-Via", "1"]]),
      id(undefined, [["X-Via", "2"]]),
      id("Basic eA==", [["X-Via", "1"]]),
    ];
    expect(new Set(ids).size).toBe(ids.length);
    // The credentials themselves never show in the key (it names connections in stats and traces).
    expect(ids.some((key) => key.includes("eA=="))).toBe(false);
  });

  it("is the same for no headers and an empty list: such requests share a connection", async () => {
    await using target = await startHttpServer((_req, res) => res.end("x"));
    await using proxy = await startProxyServer();
    await using connector = new TCPConnector();
    const url = new URL(proxy.origin);
    await send(connector, target.url("/1"), { connectorOptions: { proxy: { url } } });
    await send(connector, target.url("/2"), { connectorOptions: { proxy: { url, headers: [] } } });
    expect(proxy.stats.accepted).toBe(1);
  });
});

describe("the headers that go to the proxy", () => {
  const CONNECT = "CONNECT target.test:8080 HTTP/1.1\r\nHost: target.test:8080\r\n";
  const refuse = async (conn: RawConnection) => {
    await conn.readHead();
    await conn.end("HTTP/1.1 403 Forbidden\r\n\r\n");
  };

  it("no credentials: no Proxy-Authorization", async () => {
    const { sent } = await tunnel(refuse);
    expect(sent).toBe(`${CONNECT}\r\n`);
  });

  it("a Proxy-Authorization among the proxy's headers goes as it is, unless credentials are given", async () => {
    const own = await tunnel(refuse, { proxy: { headers: [["proxy-authorization", "Token t"]] } });
    expect(own.sent).toBe(`${CONNECT}proxy-authorization: Token t\r\n\r\n`);
    const both = await tunnel(refuse, {
      proxy: {
        headers: [
          ["X-A", "1"],
          ["Proxy-Authorization", "Token t"],
          ["X-B", "2"],
        ],
        authorization: "Basic eA==",
      },
    });
    expect(both.sent).toBe(`${CONNECT}X-A: 1\r\nX-B: 2\r\nProxy-Authorization: Basic eA==\r\n\r\n`);
  });

  it("go with plain-http requests in absolute form too", async () => {
    let head = "";
    await using proxy = await startRawServer(async (conn) => {
      head = await conn.readHead();
      await conn.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    });
    await using connector = new TCPConnector();
    const settings = {
      url: new URL(`http://127.0.0.1:${proxy.port}`),
      headers: [["proxy-authorization", "Token t"]] as [string, string][],
    };
    expect(
      await send(connector, "http://target.test:8080/a?b", { connectorOptions: { proxy: settings } }),
    ).toEqual({
      status: 200,
      body: "ok",
    });
    expect(head).toMatch(/^GET http:\/\/target\.test:8080\/a\?b HTTP\/1\.1\r\n/);
    expect(head.match(/proxy-authorization: [^\r]*/gi)).toEqual(["proxy-authorization: Token t"]);
  });
});

describe("the proxy's answer to CONNECT", () => {
  it.each<[string, string]>([
    ["a status line without a reason", "HTTP/1.1 200\r\n\r\n"],
    ["HTTP/1.0 and the last 2xx status", "HTTP/1.0 299 Fine\r\n\r\n"],
    ["a head that arrives in pieces", "HTTP/1.1 200 Connection established\r\nVia: p\r\n\r\n"],
  ])("%s opens the tunnel", async (_what, reply) => {
    const { result } = await tunnel(async (conn) => {
      await conn.readHead();
      // Byte by byte, each write on its own: the head is read across many reads.
      for (const byte of Buffer.from(reply, "latin1")) {
        await conn.write(Buffer.of(byte));
        await new Promise((r) => setTimeout(r, 1));
      }
      await conn.readToEnd().catch(() => {});
    });
    expect(result).not.toBeInstanceOf(Error);
  });

  it("a head of exactly 64 KiB before its blank line is still read", async () => {
    const status = "HTTP/1.1 200 OK\r\nX-Long: ";
    const head = `${status}${"x".repeat(64 * 1024 - status.length)}`;
    expect(head.length).toBe(65_536);
    const { result } = await tunnel(async (conn) => {
      await conn.readHead();
      await conn.write(head);
      await new Promise((r) => setTimeout(r, 50));
      await conn.write("\r\n\r\n");
      await conn.readToEnd().catch(() => {});
    });
    expect(result).not.toBeInstanceOf(Error);
  });

  it.each<[string, string, string]>([
    ["something before HTTP", "xHTTP/1.1 200 OK", '"xHTTP/1.1 200 OK"'],
    ["no space after the status", "HTTP/1.1 200OK", '"HTTP/1.1 200OK"'],
    ["an empty head", "", '""'],
    [
      "a long line, quoted up to 80 characters",
      `BAD ${"y".repeat(200)}`,
      JSON.stringify(`BAD ${"y".repeat(76)}`),
    ],
  ])("%s is an invalid response", async (_what, line, quoted) => {
    const { result } = await tunnel(async (conn) => {
      await conn.readHead();
      await conn.end(`${line}\r\n\r\n`);
    });
    expect(result).toBeInstanceOf(ClientConnectionError);
    expect((result as Error).message).toBe(`the proxy sent an invalid CONNECT response: ${quoted}`);
  });

  it("a 1xx or a refusal without a reason is ClientHttpProxyError; no credentials, nothing redacted", async () => {
    for (const [reply, status] of [
      ["HTTP/1.1 100 Continue\r\n\r\n", 100],
      ["HTTP/1.1 407\r\n\r\n", 407],
    ] as const) {
      const { result } = await tunnel(async (conn) => {
        await conn.readHead();
        await conn.end(reply);
      });
      expect(result).toBeInstanceOf(ClientHttpProxyError);
      const err = result as ClientHttpProxyError;
      expect(err.status).toBe(status);
      expect(err.reason).toBe(status === 100 ? "Continue" : "");
      expect([...err.requestInfo.headers]).toEqual([["host", "target.test:8080"]]);
    }
  });

  it("a refusal's headers are kept with names and values trimmed", async () => {
    const { result } = await tunnel(async (conn) => {
      await conn.readHead();
      await conn.end("HTTP/1.1 403 Forbidden\r\nX-Name : a\r\nX-Value:\tb\xa0 \r\n\r\n");
    });
    expect([...((result as ClientHttpProxyError).headers ?? new Headers())]).toEqual([
      ["x-name", "a"],
      ["x-value", "b"],
    ]);
  });

  it("bytes the proxy sends right after its answer are the tunnel's first bytes", async () => {
    const { result, used } = await tunnel(answering("HTTP/1.1 200 OK\r\n\r\nhello"), {
      use: (socket) => readFrom(socket, 5),
    });
    expect(result).not.toBeInstanceOf(Error);
    expect(used).toBe("hello");
  });
});

describe("while CONNECT is in flight", () => {
  it("a reset is ClientConnectionError with the system error as cause", async () => {
    const { result } = await tunnel(async (conn) => {
      await conn.readHead();
      conn.reset();
    });
    expect(result).toBeInstanceOf(ClientConnectionError);
    expect((result as Error).message).toBe("proxy connection failed: read ECONNRESET");
    expect(((result as Error).cause as NodeJS.ErrnoException).code).toBe("ECONNRESET");
  });

  it("an abort ends it at once with the signal's reason and closes the proxy connection", async () => {
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    await using proxy = await startRawServer(async (conn) => {
      await conn.readHead();
      controller.abort(reason);
    });
    await using connector = new TCPConnector();
    const started = Date.now();
    const result = await connector
      .connect({
        url: "http://target.test:8080/",
        proxy: { url: new URL(`http://127.0.0.1:${proxy.port}`) },
        timeout: { sockConnect: 10_000 },
        signal: controller.signal,
      })
      .catch((e: unknown) => e);
    expect(result).toBe(reason);
    // Long before the attempt's own timeout.
    expect(Date.now() - started).toBeLessThan(5000);
    // The proxy is still up: only the connector can have closed this connection.
    await until(() => proxy.connections[0]?.ended === true);
  });

  it("the timeout names the proxy's host", async () => {
    const { result } = await tunnel(answering(""), { sockConnect: 100 });
    expect(result).toBeInstanceOf(ConnectionTimeoutError);
    expect((result as ConnectionTimeoutError).host).toBe("127.0.0.1");
    expect((result as Error).message).toBe("CONNECT through the proxy timed out after 100 ms (127.0.0.1)");
  });

  it("no timeout (null or 0) waits for a slow proxy", async () => {
    const slow = async (conn: RawConnection) => {
      await conn.readHead();
      await new Promise((r) => setTimeout(r, 50));
      await conn.write("HTTP/1.1 200 OK\r\n\r\n");
      await conn.readToEnd().catch(() => {});
    };
    expect((await tunnel(slow, { connectTimeout: null })).result).not.toBeInstanceOf(Error);
    expect((await tunnel(slow, { sockConnect: 0 })).result).not.toBeInstanceOf(Error);
  });

  it("the timeout stops once the tunnel is open: the tunnel outlives it", async () => {
    const { result, used } = await tunnel(
      async (conn) => {
        await conn.readHead();
        await conn.write("HTTP/1.1 200 OK\r\n\r\n");
        await conn.readBytes(4);
        await conn.write("pong");
        await conn.readToEnd().catch(() => {});
      },
      {
        sockConnect: 1000,
        use: async (socket) => {
          await new Promise((r) => setTimeout(r, 1200));
          socket.write("ping");
          return readFrom(socket, 4);
        },
      },
    );
    expect(result).not.toBeInstanceOf(Error);
    expect(used).toBe("pong");
  });
});

describe("an https:// proxy", () => {
  it("is reached over TLS, verified with the system CAs", async () => {
    await using proxy = await startRawServer(async () => {}, { tls: true });
    await using connector = new TCPConnector();
    const err = await connector
      .connect({ url: "http://target.test/", proxy: { url: new URL(`https://127.0.0.1:${proxy.port}`) } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientProxyConnectionError);
    expect(err).toMatchObject({ host: "127.0.0.1", port: proxy.port, ssl: true });
  });
});
