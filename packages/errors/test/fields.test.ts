import { connect } from "node:net";
import { closedPort } from "@x/fixtures";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  ClientConnectorCertificateError,
  ClientConnectorError,
  ClientError,
  ClientHttpProxyError,
  ClientOSError,
  ClientResponseError,
  ConnectionTimeoutError,
  InvalidArgumentError,
  InvalidURL,
  InvalidUrlRedirectClientError,
  NonHttpUrlRedirectClientError,
  OSError,
  RedirectClientError,
  type RequestInfo,
  ServerDisconnectedError,
  ServerFingerprintMismatch,
  ServerTimeoutError,
  SocketTimeoutError,
  TimeoutError,
  TooManyRedirects,
  TotalTimeoutError,
  ValueError,
} from "../src/index.js";

const requestInfo: RequestInfo = {
  url: new URL("http://example.test/a"),
  method: "POST",
  headers: new Headers(),
  realUrl: new URL("http://example.test/a#top"),
};

async function refusedError(): Promise<NodeJS.ErrnoException> {
  const port = await closedPort();
  return new Promise((resolve) => connect(port, "127.0.0.1").once("error", resolve));
}

describe("ClientResponseError", () => {
  it("keeps request info, history, status, reason and headers; the message says what was asked and what came back", () => {
    const headers = new Headers({ "content-type": "text/plain" });
    const history = [{ status: 302, url: new URL("http://example.test/start"), headers: new Headers() }];
    const err = new ClientResponseError(requestInfo, history, { status: 404, message: "Not Found", headers });
    expect(err.requestInfo).toBe(requestInfo);
    expect(err.history).toBe(history);
    expect(err.status).toBe(404);
    expect(err.reason).toBe("Not Found");
    expect(err.headers).toBe(headers);
    // As got and ky say it (aiohttp's `404, message="Not Found", url=…` lacked the method).
    expect(err.message).toBe(
      `Request failed with status code 404 (Not Found): ${requestInfo.method} http://example.test/a#top`,
    );
    expect(err.body).toBeUndefined();
    const withBody = new ClientResponseError(requestInfo, [], { status: 500, body: '{"error":"db down"}' });
    expect(withBody.body).toBe('{"error":"db down"}');
    expect(withBody.message).toBe(
      `Request failed with status code 500: ${requestInfo.method} http://example.test/a#top`,
    );
    const other = new ClientResponseError(requestInfo, [], { status: 200, message: "Too many headers" });
    expect(other.message).toBe(
      `Too many headers (status 200): ${requestInfo.method} http://example.test/a#top`,
    );
  });

  it("treats 400 itself as a failed status, with or without a reason", () => {
    const href = "http://example.test/a#top";
    expect(new ClientResponseError(requestInfo, [], { status: 400, message: "Bad Request" }).message).toBe(
      `Request failed with status code 400 (Bad Request): POST ${href}`,
    );
    expect(new ClientResponseError(requestInfo, [], { status: 400 }).message).toBe(
      `Request failed with status code 400: POST ${href}`,
    );
    expect(new ClientResponseError(requestInfo, [], { status: 399, message: "Odd" }).message).toBe(
      `Odd (status 399): POST ${href}`,
    );
    expect(new ClientResponseError(requestInfo, []).message).toBe(`Invalid response: POST ${href}`);
  });

  it("defaults status to 0 and reason to empty", () => {
    const err = new TooManyRedirects(requestInfo, []);
    expect(err.status).toBe(0);
    expect(err.reason).toBe("");
    expect(err.headers).toBeUndefined();
  });

  it("subclasses keep every field", () => {
    const err = new ClientHttpProxyError(requestInfo, [], {
      status: 407,
      message: "Proxy Authentication Required",
    });
    expect(err.status).toBe(407);
    expect(err.message).toContain("407");
  });
});

describe("ClientOSError and ClientConnectorError", () => {
  it("copy errno, syscall and the system code from a real refused connection", async () => {
    const sys = await refusedError();
    const err = new ClientConnectorError({ host: "127.0.0.1", port: 1234, ssl: false, osError: sys });
    expect(err.osCode).toBe("ECONNREFUSED");
    expect(err.syscall).toBe("connect");
    expect(typeof err.errno).toBe("number");
    expect(err.code).toBe("X_CLIENT_CONNECTOR_ERROR");
    expect(err.osError).toBe(sys);
    expect(err.cause).toBe(sys);
    expect(err.message).toBe(`Cannot connect to host 127.0.0.1:1234 ssl:false [${sys.message}]`);
  });

  it("names the host, port and TLS mode, bracketing IPv6", () => {
    expect(
      new ClientConnectorError({ host: "::1", port: 8443, ssl: true, osError: new Error("x") }).message,
    ).toBe("Cannot connect to host [::1]:8443 ssl:default [x]");
    const custom = new ClientConnectorError({ host: "h", port: 1, ssl: { ca: "..." } });
    expect(custom.message).toBe("Cannot connect to host h:1 ssl:custom [unknown error]");
    expect(custom.ssl).toEqual({ ca: "..." });
  });

  it("defaults to plain TCP and quotes a cause that is not an Error", () => {
    const err = new ClientConnectorError({ host: "h", port: 80, osError: "refused by policy" });
    expect(err.ssl).toBe(false);
    expect(err.message).toBe("Cannot connect to host h:80 ssl:false [refused by policy]");
    expect(err.cause).toBe("refused by policy");
    expect(new ClientConnectorError({ host: "h", port: 80, osError: 42 }).message).toBe(
      "Cannot connect to host h:80 ssl:false [42]",
    );
  });

  it("takes a replacement message", () => {
    expect(new ClientConnectorError({ host: "h", port: 1, message: "custom text" }).message).toBe(
      "custom text",
    );
  });

  it("leaves osCode empty for a cause without a system code", () => {
    const err = new ClientOSError("x", { cause: { code: "X_NOT_A_SYSTEM_CODE" } });
    expect(err.osCode).toBeUndefined();
    expect(err.errno).toBeUndefined();
  });

  it("keeps osCode only for a whole system code", () => {
    expect(new ClientOSError("x", { cause: { code: "EPIPE" } }).osCode).toBe("EPIPE");
    expect(new ClientOSError("x", { cause: { code: "EAI_AGAIN" } }).osCode).toBe("EAI_AGAIN");
    expect(new ClientOSError("x", { cause: { code: "EPIPE: broken pipe" } }).osCode).toBeUndefined();
    expect(new ClientOSError("x", { cause: { code: "Eperm" } }).osCode).toBeUndefined();
  });

  it("certificate errors keep the TLS code", () => {
    const tlsErr = Object.assign(new Error("self-signed certificate"), {
      code: "DEPTH_ZERO_SELF_SIGNED_CERT",
    });
    const err = new ClientConnectorCertificateError({ host: "h", port: 443, ssl: true, osError: tlsErr });
    expect(err.certificateError).toBe("DEPTH_ZERO_SELF_SIGNED_CERT");
  });
});

describe("server errors", () => {
  it("name the peer when known", () => {
    expect(new ServerDisconnectedError().message).toBe("Server disconnected");
    expect(new ServerDisconnectedError(undefined, { host: "h", port: 80 }).message).toBe(
      "Server disconnected (h:80)",
    );
    const err = new SocketTimeoutError(undefined, { host: "::1", port: 80 });
    expect(err.message).toBe("Timeout on reading data from socket ([::1]:80)");
    expect(err.host).toBe("::1");
    expect(err.port).toBe(80);
    expect(new ConnectionTimeoutError().message).toBe("Connection timeout");
  });

  it("name a peer whose port is unknown by host alone", () => {
    expect(new ServerDisconnectedError(undefined, { host: "h" }).message).toBe("Server disconnected (h)");
    expect(new ServerDisconnectedError("gone", { host: "::1" }).message).toBe("gone ([::1])");
    expect(new ServerDisconnectedError("gone", { port: 80 }).message).toBe("gone");
  });

  it("keep a message given by the caller", () => {
    expect(new SocketTimeoutError("body stalled").message).toBe("body stalled");
    expect(new ConnectionTimeoutError("pool wait").message).toBe("pool wait");
    expect(new ServerTimeoutError("slow").message).toBe("slow");
    expect(new ServerDisconnectedError("closed early").message).toBe("closed early");
    expect(new SocketTimeoutError().message).toBe("Timeout on reading data from socket");
  });

  it("fingerprint mismatches show both digests", () => {
    const err = new ServerFingerprintMismatch({
      expected: Buffer.from([0xab, 0x01]),
      got: Buffer.from([0xcd, 0x02]),
      host: "pinned.test",
      port: 443,
    });
    expect(err.message).toBe(
      "Server fingerprint mismatch: expected sha256 ab:01, got cd:02 (pinned.test:443)",
    );
    expect(err.expected).toEqual(Buffer.from([0xab, 0x01]));
    expect(err.got).toEqual(Buffer.from([0xcd, 0x02]));
    expect(err.host).toBe("pinned.test");
  });
});

describe("InvalidURL", () => {
  it("keeps the URL and description", () => {
    const err = new InvalidURL("http://[::1", "unterminated IPv6 address");
    expect(err.url).toBe("http://[::1");
    expect(err.description).toBe("unterminated IPv6 address");
    expect(err.message).toBe("http://[::1 - unterminated IPv6 address");
    expect(new InvalidURL(new URL("file:///etc/passwd")).message).toBe("file:///etc/passwd");
  });
});

describe("traits: aiohttp's second parents", () => {
  it("TimeoutError matches server and total timeouts and AbortSignal.timeout()", async () => {
    expect(new ServerTimeoutError() instanceof TimeoutError).toBe(true);
    expect(new ConnectionTimeoutError() instanceof TimeoutError).toBe(true);
    expect(new SocketTimeoutError() instanceof TimeoutError).toBe(true);
    expect(new TotalTimeoutError(10) instanceof TimeoutError).toBe(true);
    const signal = AbortSignal.timeout(1);
    await new Promise((r) => signal.addEventListener("abort", r));
    expect(signal.reason instanceof TimeoutError).toBe(true);
    expect(new ServerDisconnectedError() instanceof TimeoutError).toBe(false);
    expect(new Error("timeout") instanceof TimeoutError).toBe(false);
  });

  it("TimeoutError does not match an abort: AbortController's DOMException is an AbortError", () => {
    const controller = new AbortController();
    controller.abort();
    expect(controller.signal.reason).toBeInstanceOf(DOMException);
    expect((controller.signal.reason as DOMException).name).toBe("AbortError");
    expect(controller.signal.reason instanceof TimeoutError).toBe(false);
    expect(new DOMException("stopped", "AbortError") instanceof TimeoutError).toBe(false);
    expect(new DOMException("late", "TimeoutError") instanceof TimeoutError).toBe(true);
  });

  it("OSError matches ClientOSError subclasses and Node system errors", async () => {
    expect(new ClientConnectorError({ host: "h", port: 1 }) instanceof OSError).toBe(true);
    expect((await refusedError()) instanceof OSError).toBe(true);
    expect(new ServerDisconnectedError() instanceof OSError).toBe(false);
    expect(new Error("x") instanceof OSError).toBe(false);
  });

  it("ValueError matches bad URLs and bad arguments", () => {
    expect(new InvalidURL("x") instanceof ValueError).toBe(true);
    expect(new NonHttpUrlRedirectClientError("file:///") instanceof ValueError).toBe(true);
    expect(new InvalidArgumentError("bad") instanceof ValueError).toBe(true);
    expect(new ClientError("x") instanceof ValueError).toBe(false);
  });

  it("RedirectClientError matches only the redirect URL errors", () => {
    expect(new InvalidUrlRedirectClientError("x") instanceof RedirectClientError).toBe(true);
    expect(new NonHttpUrlRedirectClientError("x") instanceof RedirectClientError).toBe(true);
    expect(new InvalidURL("x") instanceof RedirectClientError).toBe(false);
    expect(new TooManyRedirects(requestInfo, []) instanceof RedirectClientError).toBe(false);
  });

  it("narrow types like classes do", () => {
    const err: unknown = new ClientConnectorError({ host: "h", port: 2 });
    if (err instanceof ClientConnectorError) expectTypeOf(err.port).toEqualTypeOf<number>();
    if (err instanceof OSError) expectTypeOf(err.syscall).toEqualTypeOf<string | undefined>();
    if (err instanceof ClientResponseError) expectTypeOf(err.status).toEqualTypeOf<number>();
    expect(err instanceof ClientConnectorError).toBe(true);
  });
});
