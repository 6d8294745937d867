import { describe, expectTypeOf, it } from "vitest";
import * as errors from "../src/index.js";

// Type tests: checked by `tsc` (the package's typecheck step, run in CI); at run time they only
// confirm the values exist. `expectTypeOf` fails the type check when a narrowing is wrong.

describe("instanceof narrows to the class, for every exported error class and trait", () => {
  it("classes", () => {
    const e: unknown = new errors.ClientError();
    if (e instanceof errors.ClientError) expectTypeOf(e).toEqualTypeOf<errors.ClientError>();
    if (e instanceof errors.InvalidArgumentError)
      expectTypeOf(e).toEqualTypeOf<errors.InvalidArgumentError>();
    if (e instanceof errors.ClientStateError) expectTypeOf(e).toEqualTypeOf<errors.ClientStateError>();
    if (e instanceof errors.ClientPayloadError) expectTypeOf(e).toEqualTypeOf<errors.ClientPayloadError>();
    if (e instanceof errors.WSMessageTypeError) expectTypeOf(e).toEqualTypeOf<errors.WSMessageTypeError>();
    if (e instanceof errors.ClientConnectionError)
      expectTypeOf(e).toEqualTypeOf<errors.ClientConnectionError>();
    if (e instanceof errors.ClientOSError) {
      expectTypeOf(e).toEqualTypeOf<errors.ClientOSError>();
      expectTypeOf(e.osCode).toEqualTypeOf<string | undefined>();
    }
    if (e instanceof errors.ClientConnectorError) {
      expectTypeOf(e).toEqualTypeOf<errors.ClientConnectorError>();
      expectTypeOf(e.port).toEqualTypeOf<number>();
    }
    if (e instanceof errors.ClientProxyConnectionError)
      expectTypeOf(e).toEqualTypeOf<errors.ClientProxyConnectionError>();
    if (e instanceof errors.ClientConnectorDNSError)
      expectTypeOf(e).toEqualTypeOf<errors.ClientConnectorDNSError>();
    if (e instanceof errors.ClientSSLError) expectTypeOf(e).toEqualTypeOf<errors.ClientSSLError>();
    if (e instanceof errors.ClientConnectorCertificateError)
      expectTypeOf(e).toEqualTypeOf<errors.ClientConnectorCertificateError>();
    if (e instanceof errors.ClientConnectorSSLError)
      expectTypeOf(e).toEqualTypeOf<errors.ClientConnectorSSLError>();
    if (e instanceof errors.ServerConnectionError)
      expectTypeOf(e).toEqualTypeOf<errors.ServerConnectionError>();
    if (e instanceof errors.ServerDisconnectedError)
      expectTypeOf(e).toEqualTypeOf<errors.ServerDisconnectedError>();
    if (e instanceof errors.ServerTimeoutError) expectTypeOf(e).toEqualTypeOf<errors.ServerTimeoutError>();
    if (e instanceof errors.ConnectionTimeoutError)
      expectTypeOf(e).toEqualTypeOf<errors.ConnectionTimeoutError>();
    if (e instanceof errors.SocketTimeoutError) expectTypeOf(e).toEqualTypeOf<errors.SocketTimeoutError>();
    if (e instanceof errors.ServerFingerprintMismatch)
      expectTypeOf(e).toEqualTypeOf<errors.ServerFingerprintMismatch>();
    if (e instanceof errors.ClientConnectionResetError)
      expectTypeOf(e).toEqualTypeOf<errors.ClientConnectionResetError>();
    if (e instanceof errors.ConnectorClosedError)
      expectTypeOf(e).toEqualTypeOf<errors.ConnectorClosedError>();
    if (e instanceof errors.TotalTimeoutError) expectTypeOf(e).toEqualTypeOf<errors.TotalTimeoutError>();
    if (e instanceof errors.ClientResponseError) {
      expectTypeOf(e).toEqualTypeOf<errors.ClientResponseError>();
      expectTypeOf(e.status).toEqualTypeOf<number>();
      expectTypeOf(e.body).toEqualTypeOf<string | Uint8Array | undefined>();
    }
    if (e instanceof errors.ContentTypeError) expectTypeOf(e).toEqualTypeOf<errors.ContentTypeError>();
    if (e instanceof errors.WSServerHandshakeError)
      expectTypeOf(e).toEqualTypeOf<errors.WSServerHandshakeError>();
    if (e instanceof errors.ClientHttpProxyError)
      expectTypeOf(e).toEqualTypeOf<errors.ClientHttpProxyError>();
    if (e instanceof errors.TooManyRedirects) expectTypeOf(e).toEqualTypeOf<errors.TooManyRedirects>();
    if (e instanceof errors.InvalidURL) expectTypeOf(e).toEqualTypeOf<errors.InvalidURL>();
    if (e instanceof errors.InvalidUrlClientError)
      expectTypeOf(e).toEqualTypeOf<errors.InvalidUrlClientError>();
    if (e instanceof errors.NonHttpUrlClientError)
      expectTypeOf(e).toEqualTypeOf<errors.NonHttpUrlClientError>();
    if (e instanceof errors.InvalidUrlRedirectClientError) {
      expectTypeOf(e).toEqualTypeOf<errors.InvalidUrlRedirectClientError>();
      expectTypeOf(e.history).toEqualTypeOf<readonly errors.HistoryEntry[]>();
    }
    if (e instanceof errors.NonHttpUrlRedirectClientError)
      expectTypeOf(e).toEqualTypeOf<errors.NonHttpUrlRedirectClientError>();
  });

  it("traits narrow to the classes that carry them", () => {
    const e: unknown = new errors.TotalTimeoutError(1);
    if (e instanceof errors.TimeoutError) {
      expectTypeOf(e).toEqualTypeOf<errors.ServerTimeoutError | errors.TotalTimeoutError | DOMException>();
      expectTypeOf(e.name).toEqualTypeOf<string>();
    }
    if (e instanceof errors.ValueError)
      expectTypeOf(e).toEqualTypeOf<errors.InvalidURL | errors.InvalidArgumentError>();
    if (e instanceof errors.OSError)
      expectTypeOf(e).toEqualTypeOf<errors.ClientOSError | errors.OSErrorLike>();
    if (e instanceof errors.RedirectClientError) {
      expectTypeOf(e).toEqualTypeOf<
        errors.InvalidUrlRedirectClientError | errors.NonHttpUrlRedirectClientError
      >();
      expectTypeOf(e.history).toEqualTypeOf<readonly errors.HistoryEntry[]>();
    }
  });
});
