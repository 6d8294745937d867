import { request as httpGet } from "node:http";
import {
  ClientConnectionError,
  ClientConnectorCertificateError,
  ClientConnectorDNSError,
  ClientConnectorError,
  ClientOSError,
  ClientPayloadError,
  ClientResponseError,
  ClientSSLError,
  ConnectionTimeoutError,
  ConnectorClosedError,
  InvalidArgumentError,
} from "@x/errors";
import { closedPort, startDnsServer, startHttpServer, startHttpsServer, startRawServer } from "@x/fixtures";
import { Agent, type Dispatcher, request, errors as undiciErrors } from "undici";
import { describe, expect, it } from "vitest";
import { AsyncResolver, type DispatchFailure, dispatchError, TCPConnector } from "../src/index.js";
import { send, TableResolver } from "./helpers.js";

/** What `undici.request` through `dispatcher` rejects with: the raw error a handler was given. */
async function rawFailure(dispatcher: Dispatcher, url: string, opts: Record<string, unknown> = {}) {
  try {
    const res = await request(url, { dispatcher, ...opts });
    await res.body.text();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error("the request succeeded");
}

/** `send()`'s failure: the raw error mapped by `dispatchError`, as `@x/session` does. */
async function mapped(dispatcher: Dispatcher, url: string, opts: Record<string, unknown> = {}) {
  return (await send(dispatcher, url, opts).then(
    () => {
      throw new Error("the request succeeded");
    },
    (err: unknown) => err,
  )) as Error;
}

function failureFor(url: string, headersReceived = false): DispatchFailure {
  const target = new URL(url);
  return {
    host: target.hostname.replace(/^\[|\]$/g, ""),
    port: Number(target.port),
    headersReceived,
    requestInfo: () => ({ url: target, method: "GET", headers: new Headers(), realUrl: target }),
  };
}

const FAILURE = failureFor("http://127.0.0.1:8080/x");

/** An undici Agent whose own `connect` function fails every connection with `err`. */
function failingAgent(err: Error): Agent {
  return new Agent({ connect: (_opts, callback) => queueMicrotask(() => callback(err, null)) });
}

const CERTIFICATE_CODES = [
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_CRL",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECRYPT_CRL_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CRL_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CRL_NOT_YET_VALID",
  "CRL_HAS_EXPIRED",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
];

describe("certificate failures of another dispatcher → ClientConnectorCertificateError", () => {
  it.each([
    ["selfSigned", "DEPTH_ZERO_SELF_SIGNED_CERT"],
    ["expired", "CERT_HAS_EXPIRED"],
    ["wrongHost", "ERR_TLS_CERT_ALTNAME_INVALID"],
  ] as const)("undici's Agent refusing a %s certificate (%s)", async (certificate, code) => {
    await using srv = await startHttpsServer((_req, res) => res.end("x"), { certificate });
    const agent = new Agent({ connect: { ca: srv.ca } });
    try {
      const err = await mapped(agent, srv.url());
      expect(err).toBeInstanceOf(ClientConnectorCertificateError);
      const cert = err as ClientConnectorCertificateError;
      expect([cert.certificateError, cert.host, cert.port]).toEqual([code, "127.0.0.1", srv.port]);
      expect((cert.cause as { code?: string }).code).toBe(code);
    } finally {
      await agent.close();
    }
  });

  it.each(CERTIFICATE_CODES)("a connect function failing with %s", async (code) => {
    const tlsFailure = Object.assign(new Error(`certificate verify failed: ${code}`), { code });
    const agent = failingAgent(tlsFailure);
    try {
      const err = await mapped(agent, "https://127.0.0.1:9443/");
      expect(err).toBeInstanceOf(ClientConnectorCertificateError);
      expect((err as ClientConnectorCertificateError).certificateError).toBe(code);
      expect((err as ClientConnectorCertificateError).osError).toBe(tlsFailure);
    } finally {
      await agent.close();
    }
  });

  it("any other TLS code is not a certificate failure", async () => {
    const other = Object.assign(new Error("wrong version number"), { code: "ERR_SSL_WRONG_VERSION_NUMBER" });
    const err = dispatchError(other, FAILURE);
    expect(err).not.toBeInstanceOf(ClientSSLError);
    expect(err).toBeInstanceOf(ClientConnectionError);
  });
});

describe("connection failures of another dispatcher", () => {
  it("a refused plain connection is ClientConnectorError with ssl false", async () => {
    const port = await closedPort();
    const agent = new Agent();
    try {
      const err = (await mapped(agent, `http://127.0.0.1:${port}/`)) as ClientConnectorError;
      expect(err.constructor).toBe(ClientConnectorError);
      expect([err.host, err.port, err.ssl, err.osCode]).toEqual(["127.0.0.1", port, false, "ECONNREFUSED"]);
    } finally {
      await agent.close();
    }
  });

  it("undici's connect timeout → ConnectionTimeoutError with the peer and cause", async () => {
    await using silent = await startRawServer(async (conn) => {
      await conn.readToEnd();
    });
    const agent = new Agent({ connect: { timeout: 50, rejectUnauthorized: false } });
    try {
      const err = await mapped(agent, silent.url().replace("http:", "https:"));
      expect(err).toBeInstanceOf(ConnectionTimeoutError);
      expect((err as ConnectionTimeoutError).message).toBe(`Connection timeout (127.0.0.1:${silent.port})`);
      expect((err.cause as { code?: string }).code).toBe("UND_ERR_CONNECT_TIMEOUT");
    } finally {
      await agent.close();
    }
  });

  it.each([
    [4, "queryA"],
    [6, "queryAaaa"],
  ] as const)(
    "a c-ares lookup failing (family %i, %s) → ClientConnectorDNSError",
    async (family, syscall) => {
      await using dns = await startDnsServer({});
      const resolver = new AsyncResolver({ servers: [dns.address], timeout: 1000, tries: 1 });
      const agent = new Agent({
        connect: {
          lookup: (host: string, _options: unknown, callback: (err: Error) => void) => {
            resolver.resolve(host, 80, family).then(
              () => callback(new Error("unexpected answer")),
              (err: Error) => callback(err),
            );
          },
        } as never,
      });
      try {
        const err = (await mapped(agent, "http://missing.test:8080/")) as ClientConnectorDNSError;
        expect(err).toBeInstanceOf(ClientConnectorDNSError);
        expect((err.osError as { syscall?: string }).syscall).toBe(syscall);
        expect([err.host, err.port, err.osCode]).toEqual(["missing.test", 8080, "ENOTFOUND"]);
      } finally {
        await agent.close();
        await resolver.close();
      }
    },
  );

  it("undici's ClientClosedError and ClientDestroyedError → ConnectorClosedError", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const agent = new Agent();
    const closing = agent.close();
    const whileClosing = await mapped(agent, srv.url());
    await closing;
    const afterwards = await mapped(agent, srv.url());
    for (const [err, code] of [
      [whileClosing, "UND_ERR_CLOSED"],
      [afterwards, "UND_ERR_DESTROYED"],
    ] as const) {
      expect(err).toBeInstanceOf(ConnectorClosedError);
      expect((err.cause as { code?: string }).code).toBe(code);
    }
  });
});

describe("response failures, through the connector and through undici's Agent", () => {
  const dispatchers = [
    ["TCPConnector", () => new TCPConnector()],
    ["Agent", () => new Agent()],
  ] as const;

  it.each(dispatchers)("%s: a 204 that announces a body → ClientPayloadError", async (_name, make) => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
      await conn.readToEnd();
    });
    const dispatcher = make();
    try {
      const err = await mapped(dispatcher, srv.url());
      expect(err).toBeInstanceOf(ClientPayloadError);
      expect(err.message).toBe(
        `Response payload is not completed: body length does not match Content-Length (127.0.0.1:${srv.port})`,
      );
      expect((err.cause as { code?: string }).code).toBe("UND_ERR_RES_CONTENT_LENGTH_MISMATCH");
    } finally {
      await dispatcher.destroy();
    }
  });

  it("undici's maxResponseSize → ClientPayloadError", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${"x".repeat(100)}`);
    });
    const agent = new Agent({ maxResponseSize: 10 });
    try {
      const err = await mapped(agent, srv.url());
      expect(err).toBeInstanceOf(ClientPayloadError);
      expect(err.message).toBe(`Response body exceeds the maximum size (127.0.0.1:${srv.port})`);
      expect((err.cause as { code?: string }).code).toBe("UND_ERR_RES_EXCEEDED_MAX_SIZE");
    } finally {
      await agent.close();
    }
  });

  it.each(dispatchers)(
    "%s: a body shorter than its content-length header → InvalidArgumentError",
    async (_n, make) => {
      await using srv = await startRawServer(async (conn) => {
        await conn.readToEnd();
      });
      const dispatcher = make();
      try {
        const err = await mapped(dispatcher, srv.url(), {
          method: "POST",
          headers: { "content-length": "10" },
          body: "abc",
        });
        expect(err).toBeInstanceOf(InvalidArgumentError);
        expect(err.message).toBe("Request body length does not match content-length header");
        expect((err.cause as { code?: string }).code).toBe("UND_ERR_REQ_CONTENT_LENGTH_MISMATCH");
      } finally {
        await dispatcher.destroy();
      }
    },
  );

  it.each(dispatchers)(
    "%s: an Expect header undici cannot honour → InvalidArgumentError",
    async (_n, make) => {
      await using srv = await startRawServer(async (conn) => {
        await conn.readToEnd();
      });
      const dispatcher = make();
      try {
        const err = await mapped(dispatcher, srv.url(), {
          method: "POST",
          headers: { expect: "100-continue" },
          body: "abc",
        });
        expect(err).toBeInstanceOf(InvalidArgumentError);
        expect(err.message).toBe("expect header not supported");
        expect((err.cause as { code?: string }).code).toBe("UND_ERR_NOT_SUPPORTED");
        expect(srv.received().length).toBe(0);
      } finally {
        await dispatcher.destroy();
      }
    },
  );

  it.each(dispatchers)(
    "%s: 101 to a request that asked for no upgrade → ClientResponseError 101",
    async (_n, make) => {
      await using srv = await startRawServer(async (conn) => {
        await conn.readHead();
        await conn.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n");
        await conn.readToEnd();
      });
      const dispatcher = make();
      try {
        const err = await mapped(dispatcher, srv.url("/plain"));
        expect(err).toBeInstanceOf(ClientResponseError);
        const r = err as ClientResponseError;
        expect(r.status).toBe(101);
        expect(r.reason).toBe(
          "Switching Protocols, for a request that did not ask to upgrade (undici's HTTP/1.1 client drops such a connection)",
        );
        expect(r.requestInfo.url.href).toBe(srv.url("/plain"));
        expect((r.cause as Error).message).toBe("bad upgrade");
      } finally {
        await dispatcher.destroy();
      }
    },
  );

  it("a reset mid-body → ClientPayloadError naming the system error and the peer", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
      setTimeout(() => conn.reset(), 20);
    });
    await using connector = new TCPConnector();
    const err = await mapped(connector, srv.url());
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect(err.message).toBe(`Response payload is not completed: read ECONNRESET (127.0.0.1:${srv.port})`);
    expect((err.cause as { code?: string }).code).toBe("ECONNRESET");
  });

  it.each([
    ["127.0.0.1", "127.0.0.1"],
    ["::1", "[::1]"],
  ] as const)("a reset before the response over %s → ClientOSError naming the peer", async (host, shown) => {
    await using srv = await startRawServer(
      async (conn) => {
        await conn.readHead();
        conn.reset();
      },
      { host },
    );
    await using connector = new TCPConnector();
    const err = await mapped(connector, srv.url());
    expect(err.constructor).toBe(ClientOSError);
    expect(err.message).toBe(`read ECONNRESET (${shown}:${srv.port})`);
    expect((err.cause as { code?: string }).code).toBe("ECONNRESET");
  });

  it("broken chunking → ClientPayloadError with the parser's reason and the peer", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n");
    });
    await using connector = new TCPConnector();
    const err = await mapped(connector, srv.url());
    const cause = err.cause as Error & { code?: string };
    expect(cause.name).toBe("HTTPParserError");
    expect(err.message).toBe(`Response payload is not completed: ${cause.message} (127.0.0.1:${srv.port})`);
  });

  it("a malformed head → ClientResponseError 400 'Invalid response: <reason>'", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end("HTTX/9 nonsense\r\n\r\n");
    });
    await using connector = new TCPConnector();
    const err = (await mapped(connector, srv.url())) as ClientResponseError;
    expect(err).toBeInstanceOf(ClientResponseError);
    expect((err.cause as Error).name).toBe("HTTPParserError");
    expect(err.reason).toBe(`Invalid response: ${(err.cause as Error).message}`);
    expect(err.reason).not.toBe("Invalid response: ");
  });
});

describe("dispatchError on what a third-party dispatcher reports", () => {
  /** The parse error of Node's own HTTP client (name "Error", code HPE_…), as a dispatcher built on it reports. */
  async function nodeParseError(): Promise<{ err: Error & { code?: string }; url: string }> {
    const srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end("HTTX/9 nonsense\r\n\r\n");
    });
    try {
      const err = await new Promise<Error>((resolve) => {
        const req = httpGet(srv.url(), (res) => {
          res.resume();
          resolve(new Error("answered"));
        });
        req.on("error", resolve);
        req.end();
      });
      return { err, url: srv.url() };
    } finally {
      await srv.close();
    }
  }

  it("a parse error of Node's HTTP client → 400 before the head, ClientPayloadError after it", async () => {
    const { err, url } = await nodeParseError();
    expect(err.code).toMatch(/^HPE_/);
    expect(err.name).toBe("Error");
    const before = dispatchError(err, failureFor(url)) as ClientResponseError;
    expect(before).toBeInstanceOf(ClientResponseError);
    expect([before.status, before.reason, before.cause]).toEqual([
      400,
      `Invalid response: ${err.message}`,
      err,
    ]);
    const after = dispatchError(err, failureFor(url, true)) as ClientPayloadError;
    expect(after).toBeInstanceOf(ClientPayloadError);
    expect(after.message).toBe(`Response payload is not completed: ${err.message} (${new URL(url).host})`);
    expect(after.cause).toBe(err);
  });

  it("a server closing after the head → ClientPayloadError keeping the cause", () => {
    const closed = Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" });
    const err = dispatchError(closed, failureFor("http://[::1]:8080/", true)) as ClientPayloadError;
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect(err.message).toBe(
      "Response payload is not completed: the server closed the connection ([::1]:8080)",
    );
    expect(err.cause).toBe(closed);
  });

  it("undici's assertion on an unasked 101 is an unasked upgrade too, and only that assertion", () => {
    const assertion = Object.assign(
      new Error("The expression evaluated to a falsy value:\n\n  assert(upgrade)\n"),
      {
        code: "ERR_ASSERTION",
      },
    );
    const upgrade = dispatchError(assertion, FAILURE) as ClientResponseError;
    expect(upgrade).toBeInstanceOf(ClientResponseError);
    expect([upgrade.status, upgrade.cause]).toEqual([101, assertion]);
    const others = [
      Object.assign(new Error("assert(upgrade)"), { code: "ERR_OTHER" }),
      Object.assign(new Error("assert(other)"), { code: "ERR_ASSERTION" }),
      Object.assign(new Error("bad upgrade"), { code: "UND_ERR_OTHER" }),
      Object.assign(new Error("other side closed"), { code: "ERR_ASSERTION" }),
    ];
    for (const other of others) {
      const err = dispatchError(other, FAILURE);
      expect(err).not.toBeInstanceOf(ClientResponseError);
      expect(err).toBeInstanceOf(ClientConnectionError);
    }
    // A socket error other than "bad upgrade" is a disconnect, not a 101.
    const socket = Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" });
    expect((dispatchError(socket, FAILURE) as Error).name).toBe("ServerDisconnectedError");
  });

  it("an error with no code nor syscall → ClientConnectionError '<message> (host:port)'", () => {
    const own = new Error("a dispatcher's own");
    const err = dispatchError(own, FAILURE) as Error;
    expect(err.constructor).toBe(ClientConnectionError);
    expect(err.message).toBe("a dispatcher's own (127.0.0.1:8080)");
  });

  it("status errors from 400 up are ClientResponseErrors; below 400 they are not", () => {
    const at400 = dispatchError(Object.assign(new Error("Bad Request"), { statusCode: 400 }), FAILURE);
    expect(at400).toBeInstanceOf(ClientResponseError);
    expect((at400 as ClientResponseError).status).toBe(400);
    expect((at400 as ClientResponseError).reason).toBe("Bad Request");
    const at399 = dispatchError(Object.assign(new Error("odd"), { statusCode: 399 }), FAILURE);
    expect((at399 as Error).constructor).toBe(ClientConnectionError);
    const notNumber = dispatchError(Object.assign(new Error("odd"), { statusCode: "500" }), FAILURE);
    expect((notNumber as Error).constructor).toBe(ClientConnectionError);
  });

  it("a status error's headers: lists joined, undefined values skipped, unusable headers dropped", () => {
    const withHeaders = (headers: unknown) =>
      (
        dispatchError(
          Object.assign(new Error("Service Unavailable"), { statusCode: 503, headers }),
          FAILURE,
        ) as ClientResponseError
      ).headers;
    const h = withHeaders({ "x-list": ["1", undefined, "2"], "x-none": undefined, "retry-after": 3 });
    expect([...(h?.entries() ?? [])]).toEqual([
      ["retry-after", "3"],
      ["x-list", "1, 2"],
    ]);
    // A header name that Headers refuses: no headers rather than some of them.
    expect(withHeaders({ "x-ok": "1", "bad name": "x" })).toBeUndefined();
    expect(withHeaders("x-raw: 1")).toBeUndefined();
    expect(withHeaders(42)).toBeUndefined();
    expect(withHeaders(null)).toBeUndefined();
    expect(withHeaders(undefined)).toBeUndefined();
  });

  it("values that are not objects pass through unchanged", () => {
    expect(dispatchError(null, FAILURE)).toBeNull();
    expect(dispatchError(undefined, FAILURE)).toBeUndefined();
    expect(dispatchError("boom", FAILURE)).toBe("boom");
    expect(dispatchError(7, FAILURE)).toBe(7);
  });
});

describe("what the connector hands undici handlers", () => {
  it("a reset during the TLS handshake → ClientConnectorError, not an SSL error", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readBytes(5); // the start of the ClientHello
      conn.reset();
    });
    await using connector = new TCPConnector();
    const err = (await mapped(connector, srv.url().replace("http:", "https:"))) as ClientConnectorError;
    expect(err.name).toBe("ClientConnectorError");
    expect(err).not.toBeInstanceOf(ClientSSLError);
    expect([err.ssl, err.osCode]).toEqual([true, "ECONNRESET"]);
  });

  it("the system error, with no more own properties than undici's Agent gives", async () => {
    const port = await closedPort();
    const agent = new Agent();
    await using connector = new TCPConnector();
    const url = `http://127.0.0.1:${port}/`;
    const fromAgent = await rawFailure(agent, url);
    const fromConnector = await rawFailure(connector, url);
    await agent.close();
    expect(fromConnector.code).toBe("ECONNREFUSED");
    expect(Reflect.ownKeys({ ...fromConnector })).toEqual(Reflect.ownKeys({ ...fromAgent }));
    expect(dispatchError(fromConnector, failureFor(url))).toBeInstanceOf(ClientConnectorError);
  });

  it("concurrent requests sharing one failed lookup each get ClientConnectorDNSError", async () => {
    const resolver = new TableResolver({}, 30);
    await using connector = new TCPConnector({ resolver });
    const errs = await Promise.all([
      mapped(connector, "http://missing.test:8080/a"),
      mapped(connector, "http://missing.test:8080/b"),
      mapped(connector, "http://missing.test:8080/c"),
    ]);
    expect(resolver.calls).toEqual(["missing.test"]);
    for (const err of errs) expect(err).toBeInstanceOf(ClientConnectorDNSError);
  });

  it("a request waiting for a coalesced HTTP/2 connection gets ClientDestroyedError on destroy()", async () => {
    await using silent = await startRawServer(async (conn) => {
      await conn.readToEnd();
    });
    const connector = new TCPConnector({ allowH2: true, ssl: false });
    const url = silent.url().replace("http:", "https:");
    const first = rawFailure(connector, url);
    const second = rawFailure(connector, url);
    await new Promise((r) => setTimeout(r, 30));
    await connector.destroy();
    for (const err of await Promise.all([first, second])) {
      expect(err).toBeInstanceOf(undiciErrors.ClientDestroyedError);
      expect(dispatchError(err, failureFor(url))).toBeInstanceOf(ConnectorClosedError);
    }
  });
});

describe("connect() while the connector is torn down", () => {
  async function waitingConnect(destroyWith?: Error) {
    await using srv = await startHttpServer((_req, res) => res.end("x"));
    const connector = new TCPConnector({ limit: 1 });
    const held = await connector.connect({ url: new URL(srv.url()) });
    const waiting = connector.connect({ url: new URL(srv.url()) }).catch((e: unknown) => e as Error);
    await new Promise((r) => setTimeout(r, 10));
    await connector.destroy(destroyWith);
    held.release();
    return waiting;
  }

  it("destroy() → ConnectorClosedError caused by undici's ClientDestroyedError", async () => {
    const err = await waitingConnect();
    expect(err).toBeInstanceOf(ConnectorClosedError);
    expect((err as Error).cause).toBeInstanceOf(undiciErrors.ClientDestroyedError);
  });

  it("destroy(ClientClosedError) → ConnectorClosedError too", async () => {
    const closed = new undiciErrors.ClientClosedError();
    const err = await waitingConnect(closed);
    expect(err).toBeInstanceOf(ConnectorClosedError);
    expect((err as Error).cause).toBe(closed);
  });

  it("destroy(err) with any other error → that error", async () => {
    const own = new Error("shutting down");
    expect(await waitingConnect(own)).toBe(own);
  });
});
