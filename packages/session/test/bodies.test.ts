import { Readable } from "node:stream";
import { InvalidArgumentError } from "@x/errors";
import { readBody, startHttpServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

// Every kind of `data` a request takes: the bytes on the wire and the Content-Type it gets
// unless the caller sets one (aiohttp's payload registry).
describe("request data", () => {
  it("sends each kind of data with its Content-Type", async () => {
    await using srv = await startHttpServer(async (req, res) => {
      const body = await readBody(req);
      res.end(JSON.stringify([req.headers["content-type"] ?? null, body.toString("latin1")]));
    });
    await using session = new ClientSession();
    const sent = async (data: unknown) =>
      (await (await session.post(srv.url("/"), { data: data as never })).json({ contentType: null })) as [
        string | null,
        string,
      ];
    const bytes = Buffer.from("0123456789");
    async function* generated() {
      yield "gen";
      yield Buffer.from("erated");
    }
    const nullProto = Object.assign(Object.create(null), { n: "1" });
    expect(await sent("text é")).toEqual([
      "text/plain; charset=utf-8",
      Buffer.from("text é").toString("latin1"),
    ]);
    expect(await sent(bytes)).toEqual(["application/octet-stream", "0123456789"]);
    expect(await sent(new Uint8Array(bytes.buffer, bytes.byteOffset + 2, 3))).toEqual([
      "application/octet-stream",
      "234",
    ]);
    expect(await sent(new Uint8Array([65, 66]).buffer)).toEqual(["application/octet-stream", "AB"]);
    expect(await sent(new DataView(bytes.buffer, bytes.byteOffset + 7, 2))).toEqual([
      "application/octet-stream",
      "78",
    ]);
    expect(await sent(new URLSearchParams({ a: "1 2" }))).toEqual([
      "application/x-www-form-urlencoded",
      "a=1+2",
    ]);
    expect(await sent(new Blob(["<b/>"], { type: "image/svg+xml" }))).toEqual(["image/svg+xml", "<b/>"]);
    expect(await sent(new Blob(["raw"]))).toEqual(["application/octet-stream", "raw"]);
    expect(await sent(Readable.from([Buffer.from("stre"), Buffer.from("am")]))).toEqual([
      "application/octet-stream",
      "stream",
    ]);
    expect(await sent(new Blob(["web stream"]).stream())).toEqual(["application/octet-stream", "web stream"]);
    expect(await sent(generated())).toEqual(["application/octet-stream", "generated"]);
    expect(
      await sent([
        ["a", "1"],
        ["b", "2"],
      ]),
    ).toEqual(["application/x-www-form-urlencoded", "a=1&b=2"]);
    expect(await sent({ a: "x y", b: 2 })).toEqual(["application/x-www-form-urlencoded", "a=x+y&b=2"]);
    expect(await sent(nullProto)).toEqual(["application/x-www-form-urlencoded", "n=1"]);
    expect(await sent("")).toEqual(["text/plain; charset=utf-8", ""]);
  });

  it("refuses data that cannot be a body, and json that cannot be serialized", async () => {
    await using session = new ClientSession();
    const must =
      "data must be a string, bytes, URLSearchParams, FormData, a Blob, a form record, a Readable, a ReadableStream or an async iterable";
    for (const data of [42, true, new Map([["a", "1"]]), new Date(0)]) {
      const err = await session.post("http://127.0.0.1:9/", { data: data as never }).catch((e: unknown) => e);
      expect(err).toEqual(new InvalidArgumentError(must));
    }
    const err = await session.post("http://127.0.0.1:9/", { json: { n: 1n } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toBe("json cannot be serialized: Do not know how to serialize a BigInt");
    expect((err as Error).cause).toBeInstanceOf(TypeError);
  });
});
