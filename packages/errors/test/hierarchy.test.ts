import { describe, expect, it } from "vitest";
import * as errors from "../src/index.js";
import {
  ClientConnectionError,
  ClientConnectorError,
  ClientError,
  ClientOSError,
  ClientResponseError,
  type RequestInfo,
} from "../src/index.js";

const requestInfo: RequestInfo = {
  url: new URL("http://example.test/a?b=1"),
  method: "GET",
  headers: new Headers({ accept: "*/*" }),
  realUrl: new URL("http://example.test/a?b=1#frag"),
};

type Factory = () => Error;

const connectorOpts = { host: "example.test", port: 443, ssl: true, osError: new Error("boom") };

/** Every class, how to make one, and its full ancestry (nearest first), as in aiohttp 3.x. */
const tree: Record<string, { make: Factory; ancestors: string[] }> = {
  ClientError: { make: () => new errors.ClientError("x"), ancestors: [] },
  ClientResponseError: {
    make: () => new errors.ClientResponseError(requestInfo, []),
    ancestors: ["ClientError"],
  },
  ContentTypeError: {
    make: () => new errors.ContentTypeError(requestInfo, []),
    ancestors: ["ClientResponseError", "ClientError"],
  },
  WSServerHandshakeError: {
    make: () => new errors.WSServerHandshakeError(requestInfo, []),
    ancestors: ["ClientResponseError", "ClientError"],
  },
  ClientHttpProxyError: {
    make: () => new errors.ClientHttpProxyError(requestInfo, []),
    ancestors: ["ClientResponseError", "ClientError"],
  },
  TooManyRedirects: {
    make: () => new errors.TooManyRedirects(requestInfo, []),
    ancestors: ["ClientResponseError", "ClientError"],
  },
  ClientConnectionError: { make: () => new errors.ClientConnectionError("x"), ancestors: ["ClientError"] },
  ClientOSError: {
    make: () => new errors.ClientOSError("x"),
    ancestors: ["ClientConnectionError", "ClientError"],
  },
  ClientConnectorError: {
    make: () => new errors.ClientConnectorError(connectorOpts),
    ancestors: ["ClientOSError", "ClientConnectionError", "ClientError"],
  },
  ClientProxyConnectionError: {
    make: () => new errors.ClientProxyConnectionError(connectorOpts),
    ancestors: ["ClientConnectorError", "ClientOSError", "ClientConnectionError", "ClientError"],
  },
  ClientConnectorDNSError: {
    make: () => new errors.ClientConnectorDNSError(connectorOpts),
    ancestors: ["ClientConnectorError", "ClientOSError", "ClientConnectionError", "ClientError"],
  },
  ClientSSLError: {
    make: () => new errors.ClientSSLError(connectorOpts),
    ancestors: ["ClientConnectorError", "ClientOSError", "ClientConnectionError", "ClientError"],
  },
  ClientConnectorCertificateError: {
    make: () => new errors.ClientConnectorCertificateError(connectorOpts),
    ancestors: [
      "ClientSSLError",
      "ClientConnectorError",
      "ClientOSError",
      "ClientConnectionError",
      "ClientError",
    ],
  },
  ClientConnectorSSLError: {
    make: () => new errors.ClientConnectorSSLError(connectorOpts),
    ancestors: [
      "ClientSSLError",
      "ClientConnectorError",
      "ClientOSError",
      "ClientConnectionError",
      "ClientError",
    ],
  },
  ServerConnectionError: {
    make: () => new errors.ServerConnectionError(),
    ancestors: ["ClientConnectionError", "ClientError"],
  },
  ServerDisconnectedError: {
    make: () => new errors.ServerDisconnectedError(),
    ancestors: ["ServerConnectionError", "ClientConnectionError", "ClientError"],
  },
  ServerTimeoutError: {
    make: () => new errors.ServerTimeoutError(),
    ancestors: ["ServerConnectionError", "ClientConnectionError", "ClientError"],
  },
  ConnectionTimeoutError: {
    make: () => new errors.ConnectionTimeoutError(),
    ancestors: ["ServerTimeoutError", "ServerConnectionError", "ClientConnectionError", "ClientError"],
  },
  SocketTimeoutError: {
    make: () => new errors.SocketTimeoutError(),
    ancestors: ["ServerTimeoutError", "ServerConnectionError", "ClientConnectionError", "ClientError"],
  },
  ServerFingerprintMismatch: {
    make: () =>
      new errors.ServerFingerprintMismatch({
        expected: Buffer.alloc(32, 1),
        got: Buffer.alloc(32, 2),
        host: "h",
        port: 1,
      }),
    ancestors: ["ServerConnectionError", "ClientConnectionError", "ClientError"],
  },
  ClientConnectionResetError: {
    make: () => new errors.ClientConnectionResetError("x"),
    ancestors: ["ClientConnectionError", "ClientError"],
  },
  ConnectorClosedError: {
    make: () => new errors.ConnectorClosedError(),
    ancestors: ["ClientConnectionError", "ClientError"],
  },
  ClientPayloadError: { make: () => new errors.ClientPayloadError("x"), ancestors: ["ClientError"] },
  InvalidURL: { make: () => new errors.InvalidURL("x"), ancestors: ["ClientError"] },
  InvalidUrlClientError: {
    make: () => new errors.InvalidUrlClientError("x"),
    ancestors: ["InvalidURL", "ClientError"],
  },
  NonHttpUrlClientError: {
    make: () => new errors.NonHttpUrlClientError("x"),
    ancestors: ["InvalidURL", "ClientError"],
  },
  InvalidUrlRedirectClientError: {
    make: () => new errors.InvalidUrlRedirectClientError("x"),
    ancestors: ["InvalidUrlClientError", "InvalidURL", "ClientError"],
  },
  NonHttpUrlRedirectClientError: {
    make: () => new errors.NonHttpUrlRedirectClientError("x"),
    ancestors: ["NonHttpUrlClientError", "InvalidURL", "ClientError"],
  },
  WSMessageTypeError: { make: () => new errors.WSMessageTypeError("x"), ancestors: ["ClientError"] },
  InvalidArgumentError: { make: () => new errors.InvalidArgumentError("x"), ancestors: ["ClientError"] },
  ClientStateError: { make: () => new errors.ClientStateError("x"), ancestors: ["ClientError"] },
  TotalTimeoutError: { make: () => new errors.TotalTimeoutError(1000), ancestors: ["ClientError"] },
};

const classes = errors as unknown as Record<string, abstract new (...args: never[]) => Error>;
const names = Object.keys(tree);

describe("the class tree", () => {
  it("covers every exported class", () => {
    const exported = Object.entries(errors)
      .filter(([, v]) => typeof v === "function")
      .map(([k]) => k)
      .sort();
    expect(exported).toEqual([...names].sort());
  });

  describe.each(names)("%s", (name) => {
    const { make, ancestors } = tree[name]!;
    const err = make();

    it("is an instance of itself, its ancestors and Error, and of nothing else in the tree", () => {
      const expected = new Set([name, ...ancestors]);
      for (const other of names) {
        expect(err instanceof classes[other]!, `${name} instanceof ${other}`).toBe(expected.has(other));
      }
      expect(err).toBeInstanceOf(Error);
    });

    it("reports its class name and a stable, unique code", () => {
      expect(err.name).toBe(name);
      const code = (err as errors.ClientError).code;
      expect(code).toMatch(/^X_[A-Z0-9_]+$/);
      const codes = names.map((n) => (tree[n]!.make() as errors.ClientError).code);
      expect(codes.filter((c) => c === code)).toHaveLength(1);
      expect(String(err).startsWith(`${name}: `)).toBe(true);
      expect(err.stack).toContain(name);
    });

    it("keeps name and code off the instance's own enumerable keys", () => {
      expect(Object.keys(err)).not.toContain("code");
      expect(Object.keys(err)).not.toContain("name");
    });
  });
});

describe("plain values", () => {
  it.each([null, undefined, 0, "ClientError", {}, new Error("plain"), { code: "X_CLIENT_ERROR" }])(
    "%s is not a ClientError",
    (value) => {
      expect(value instanceof ClientError).toBe(false);
      expect(value instanceof ClientConnectorError).toBe(false);
    },
  );
});

describe("user subclasses", () => {
  class MyError extends ClientConnectionError {}

  it("match their own class by prototype and keep the parents' brands", () => {
    const mine = new MyError("mine");
    expect(mine instanceof MyError).toBe(true);
    expect(mine instanceof ClientConnectionError).toBe(true);
    expect(mine instanceof ClientError).toBe(true);
    expect(mine.code).toBe("X_CLIENT_CONNECTION_ERROR");
  });

  it("do not claim unrelated instances of the same parent", () => {
    expect(new ClientConnectionError("x") instanceof MyError).toBe(false);
    expect(new ClientOSError("x") instanceof MyError).toBe(false);
  });
});

describe("cause", () => {
  it("is kept on every constructor that takes one", () => {
    const root = new Error("root");
    expect(new ClientError("x", { cause: root }).cause).toBe(root);
    expect(new ClientResponseError(requestInfo, [], { cause: root }).cause).toBe(root);
    expect(new ClientConnectorError({ host: "h", port: 1, osError: root }).cause).toBe(root);
    expect(new errors.ServerDisconnectedError(undefined, { cause: root }).cause).toBe(root);
    expect(new errors.InvalidURL("u", "d", { cause: root }).cause).toBe(root);
    expect(new errors.TotalTimeoutError(5, { cause: root }).cause).toBe(root);
    expect(new errors.ConnectorClosedError(undefined, { cause: root }).cause).toBe(root);
    expect(
      new errors.ServerFingerprintMismatch({
        expected: Buffer.from([1]),
        got: Buffer.from([2]),
        host: "h",
        port: 443,
        cause: root,
      }).cause,
    ).toBe(root);
  });
});
