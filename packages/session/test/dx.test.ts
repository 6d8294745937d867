import { InvalidArgumentError } from "@x/errors";
import { type EchoReply, echo, echoHeader, startHttpServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession, WSMsgType, wsMsgTypeName } from "../src/index.js";

// The small frictions: values that cannot be sent, absent values, names of message types, and a
// Content-Type with a quoted parameter.

describe("values that cannot be sent are a ClientError at the call", () => {
  it("json holding a BigInt or a cycle is an InvalidArgumentError (not a bare TypeError), and nothing is sent", async () => {
    let hits = 0;
    await using srv = await startHttpServer((req, res) => {
      hits++;
      echo(req, res);
    });
    await using session = new ClientSession();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const value of [{ n: 1n }, circular]) {
      const err = await session.post(srv.url(), { json: value }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(/^json cannot be serialized: /);
      expect((err as Error).cause).toBeInstanceOf(TypeError);
    }
    const symbol = await session
      .get(srv.url(), { headers: { "X-S": Symbol("s") as unknown as string } })
      .catch((e: unknown) => e);
    expect(symbol).toBeInstanceOf(InvalidArgumentError);
    expect(hits).toBe(0);
  });
});

describe("absent values: undefined and null leave a name out, everywhere a record is taken", () => {
  it("headers, params and form fields", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession({ headers: { "X-Default": "d", "X-Null": null } });
    const resp = await session.post(srv.url("/p"), {
      headers: { "X-A": undefined, "X-B": null, "X-N": 5, "X-T": true, "X-L": ["1", null, "2"] },
      params: { a: undefined, b: null, c: 1, d: false, e: [null, "x"] },
      data: { f: undefined, g: null, h: 2, i: true },
    });
    const reply = (await resp.json()) as EchoReply;
    expect(reply.url).toBe("/p?c=1&d=false&e=x");
    expect(reply.body).toBe("h=2&i=true");
    const names = reply.headers.map(([n]) => n.toLowerCase());
    for (const name of ["x-a", "x-b", "x-null"]) expect(names).not.toContain(name);
    expect([echoHeader(reply, "x-n"), echoHeader(reply, "x-t"), echoHeader(reply, "x-default")]).toEqual([
      "5",
      "true",
      "d",
    ]);
    expect(reply.headers.filter(([n]) => n.toLowerCase() === "x-l").map(([, v]) => v)).toEqual(["1", "2"]);
  });
});

describe("names of message types, as Python's IntEnum", () => {
  it("WSMsgType[type] and wsMsgTypeName(type)", () => {
    expect(WSMsgType[WSMsgType.TEXT]).toBe("TEXT");
    expect(WSMsgType[0x102]).toBe("ERROR");
    expect(wsMsgTypeName(WSMsgType.CLOSED)).toBe("CLOSED");
    expect(WSMsgType[0x77]).toBeUndefined();
    expect(WSMsgType.BINARY).toBe(2);
  });
});

describe("Content-Type", () => {
  it("a quoted parameter may hold a semicolon (WHATWG MIME parsing)", async () => {
    await using srv = await startHttpServer((_req, res) => {
      // A semicolon inside a quoted parameter: splitting on ";" read a second charset out of it.
      res.setHeader("content-type", 'text/plain; charset=latin1; title="a;charset=utf-16"');
      res.end(Buffer.from([0xe9]));
    });
    await using session = new ClientSession();
    const resp = await session.get(srv.url());
    expect(resp.contentType).toBe("text/plain");
    expect(resp.charset).toBe("latin1");
    expect(await resp.text()).toBe("é");
  });
});
