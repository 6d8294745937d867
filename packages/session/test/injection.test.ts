import { BearerAuth } from "@x/auth";
import { ClientError } from "@x/errors";
import { type RawTestServer, startRawServer } from "@x/fixtures";
import { wsConnect } from "@x/websocket";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

// Request smuggling and header injection through every string a caller hands us
// (CVE-2019-9740 urllib, CVE-2023-23936 undici, CVE-2024-52304 aiohttp, Node's U+010A truncation):
// each property below builds a string that tries to start a new header line and checks that the
// request is refused at the boundary with a ClientError before a single byte goes out, or, where
// the input is legitimately encoded (form fields, query values), that the encoded form is all
// the server sees.

const INJECTED = "X-Injected: 1";
/** Ways of breaking a line: raw CR/LF/NUL, and code points that truncate to them in latin1. */
const breaks = fc.constantFrom("\r\n", "\n", "\r", "\0", "\r\n\r\n", "\u010d\u010a", "\u010a", "\u0100");
const hostile = fc
  .tuple(fc.string({ maxLength: 6 }), breaks, fc.string({ maxLength: 6 }))
  .map(([a, br, b]) => `${a}${br}${INJECTED}${br}${b}`);

let srv: RawTestServer;
let session: ClientSession;
let base: string;

beforeAll(async () => {
  srv = await startRawServer(async (conn) => {
    await conn.readHead();
    await conn.end("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
  session = new ClientSession();
  base = srv.url("/");
});
afterAll(async () => {
  await session.close();
  await srv.close();
});

/** What a property may see: refused before sending, or sent with the hostile text encoded. */
async function sendsNothingRaw(send: () => Promise<unknown>, mayEncode: boolean): Promise<void> {
  const before = srv.received().length;
  const accepted = srv.stats.accepted;
  let outcome: unknown;
  try {
    const r = await send();
    await (r as { close?: () => unknown }).close?.();
    outcome = r;
  } catch (err) {
    outcome = err;
  }
  const wire = srv.received().subarray(before).toString("latin1");
  if (outcome instanceof Error) {
    expect(outcome).toBeInstanceOf(ClientError);
    expect((outcome as ClientError).code).toMatch(/^X_INVALID_(ARGUMENT|URL)/);
    expect(wire).toBe("");
    expect(srv.stats.accepted).toBe(accepted);
    return;
  }
  expect(mayEncode).toBe(true);
  const head = wire.slice(0, wire.indexOf("\r\n\r\n"));
  expect(head).not.toMatch(/[\n\0]X-Injected|\r(?!\n)|(?<!\r)\n/i);
  expect(wire).not.toMatch(/\r\nX-Injected/i);
}

/**
 * `encodes`: whether this input may legitimately be sent in an encoded form (percent-encoding,
 * UTF-8 in a body) — `"unicode"` when only code points above U+00FF may be, never a raw CR/LF/NUL.
 */
const property = (run: (s: string) => Promise<unknown>, encodes: boolean | "unicode" = false) =>
  fc.assert(
    fc.asyncProperty(hostile, (s) =>
      sendsNothingRaw(() => run(s), encodes === true || (encodes === "unicode" && !/[\r\n\0]/.test(s))),
    ),
    { numRuns: 40 },
  );

describe("no header injection through any request input", () => {
  it("method", () => property((s) => session.request(`GET${s}`, base)));
  it("URL path", () => property((s) => session.get(`${base}p${s}`), "unicode"));
  it("URL query", () => property((s) => session.get(`${base}?q=${s}`), "unicode"));
  it("params as a string", () => property((s) => session.get(base, { params: `q=${s}` }), "unicode"));
  it("params as a record (values are percent-encoded)", () =>
    property((s) => session.get(base, { params: { [`k${s}`]: s } }), true));
  it("header names", () => property((s) => session.get(base, { headers: { [`X${s}`]: "v" } })));
  it("header values", () => property((s) => session.get(base, { headers: { "X-A": s } })));
  it("header values given as pairs and as Headers-like iterables", () =>
    property((s) =>
      session.get(base, {
        headers: [
          ["X-A", "ok"],
          ["X-B", s],
        ],
      }),
    ));
  it("session default headers", () =>
    property(async (s) => {
      await using own = new ClientSession({ headers: { "X-A": s } });
      return own.get(base);
    }));
  it("per-request cookie values", () => property((s) => session.get(base, { cookies: { a: s } })));
  it("per-request cookie names", () => property((s) => session.get(base, { cookies: { [`a${s}`]: "v" } })));
  it("session cookies", () =>
    property(async (s) => {
      await using own = new ClientSession({ cookies: { a: s } });
      return own.get(base);
    }));
  it("a bearer token", () => property((s) => session.get(base, { auth: new BearerAuth(`t${s}`) })));
  it("proxy headers", () => property((s) => session.get(base, { proxy: base, proxyHeaders: { "X-P": s } })));
  it("proxy header names", () =>
    property((s) => session.get(base, { proxy: base, proxyHeaders: { [`X${s}`]: "v" } })));
  it("multipart field names", () =>
    property((s) => {
      const form = new FormData();
      form.append(`f${s}`, "v");
      return session.post(base, { data: form });
    }, "unicode"));
  it("multipart file names", () =>
    property((s) => {
      const form = new FormData();
      form.append("f", new Blob(["x"]), `name${s}.txt`);
      return session.post(base, { data: form });
    }, "unicode"));
  it("form records (urlencoded, so encoded)", () =>
    property((s) => session.post(base, { data: { [`k${s}`]: s } }), true));
});

describe("no header injection through websocket handshakes", () => {
  it("protocols", () => property((s) => session.wsConnect(base, { protocols: [`chat${s}`] })));
  it("headers through the session", () =>
    property((s) => session.wsConnect(base, { headers: { "X-A": s } })));
  it("header names through the session", () =>
    property((s) => session.wsConnect(base, { headers: { [`X${s}`]: "v" } })));
  it("origin", () => property((s) => session.wsConnect(base, { origin: `http://o${s}` })));
  it("standalone wsConnect headers", () => property((s) => wsConnect(base, { headers: { "X-A": s } })));
  it("standalone wsConnect protocols", () => property((s) => wsConnect(base, { protocols: [s] })));
  it("standalone wsConnect proxy headers", () =>
    property((s) => wsConnect(base, { proxy: base, proxyHeaders: { "X-P": s } })));
});
