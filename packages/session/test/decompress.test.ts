import zlib from "node:zlib";
import { ClientPayloadError } from "@x/errors";
import { sleep, startHttpServer, startRawServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

const text = "decompress me, ".repeat(1000);
type ZstdZlib = typeof zlib & { zstdCompressSync?: (b: Buffer) => Buffer };
const zstdCompress = (zlib as ZstdZlib).zstdCompressSync;

const encoders: Record<string, (b: Buffer) => Buffer> = {
  gzip: (b) => zlib.gzipSync(b),
  deflate: (b) => zlib.deflateSync(b),
  br: (b) => zlib.brotliCompressSync(b),
  ...(zstdCompress ? { zstd: zstdCompress } : {}),
};

function encoded(encoding: string, body: Buffer = Buffer.from(text)) {
  return startHttpServer((_req, res) => {
    let out = body;
    for (const c of encoding.split(",").map((s) => s.trim())) out = encoders[c]!(out);
    res.setHeader("content-encoding", encoding);
    res.end(out);
  });
}

describe("automatic decompression", () => {
  it.each(Object.keys(encoders))("decodes %s", async (encoding) => {
    await using srv = await encoded(encoding);
    await using session = new ClientSession();
    const resp = await session.get(srv.url());
    expect(await resp.text()).toBe(text);
    expect(resp.headers.get("content-encoding")).toBe(encoding);
  });

  it("decodes raw deflate too, which some servers send", async () => {
    await using srv = await startHttpServer((_req, res) => {
      res.setHeader("content-encoding", "deflate");
      res.end(zlib.deflateRawSync(Buffer.from(text)));
    });
    await using session = new ClientSession();
    expect(await (await session.get(srv.url())).text()).toBe(text);
  });

  it("undoes stacked codings in reverse", async () => {
    await using srv = await encoded("gzip, br");
    await using session = new ClientSession();
    expect(await (await session.get(srv.url())).text()).toBe(text);
  });

  it("refuses more than maxContentCodings codings", async () => {
    await using srv = await encoded("gzip, gzip, gzip, gzip, gzip, gzip");
    await using session = new ClientSession();
    const err = await session.get(srv.url()).then(
      (r) => r.read(),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ClientPayloadError);
    await using lenient = new ClientSession({ maxContentCodings: 6 });
    expect(await (await lenient.get(srv.url())).text()).toBe(text);
  });

  it("stops a body that decodes past maxDecompressedSize", async () => {
    await using srv = await encoded("gzip", Buffer.alloc(8 * 1024 * 1024));
    await using session = new ClientSession({ maxDecompressedSize: 1024 * 1024 });
    const resp = await session.get(srv.url());
    const err = await resp.read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect((err as Error).message).toMatch(/limit/);
  });

  it("takes coding names in any case and spacing, x-gzip for gzip, and skips identity", async () => {
    const gz = zlib.gzipSync(Buffer.from(text));
    await using srv = await startHttpServer((req, res) => {
      res.setHeader("content-encoding", decodeURIComponent(req.url?.slice(1) ?? ""));
      res.end(req.url === "/identity" || req.url === "/%2C%20%2C" ? Buffer.from(text) : gz);
    });
    await using session = new ClientSession({ maxContentCodings: 1 });
    for (const coding of [
      " GZIP ",
      "x-gzip",
      "identity, gzip",
      "gzip,identity,identity",
      "identity",
      ", ,",
    ]) {
      expect(await (await session.get(srv.url(`/${encodeURIComponent(coding)}`))).text(), coding).toBe(text);
    }
  });

  it("finds the deflate flavour from the first two bytes, however the body is cut", async () => {
    const big = Buffer.from("some text that deflates well; ".repeat(300_000));
    const bodies: Record<string, Buffer> = {
      wrapped: zlib.deflateSync(big),
      raw: zlib.deflateRawSync(big),
      empty: Buffer.alloc(0),
    };
    await using srv = await startHttpServer(async (req, res) => {
      const body = bodies[req.url?.slice(1) ?? ""]!;
      res.setHeader("content-encoding", "deflate");
      // One byte first: the flavour cannot be told until the second arrives.
      res.write(body.subarray(0, 1));
      await new Promise((r) => setTimeout(r, 10));
      res.end(body.subarray(1));
    });
    await using session = new ClientSession();
    for (const flavour of ["wrapped", "raw"]) {
      const got = await (await session.get(srv.url(`/${flavour}`))).read();
      expect(got.length, flavour).toBe(big.length);
      expect(got.equals(big), flavour).toBe(true);
    }
    expect((await (await session.get(srv.url("/empty"))).read()).length).toBe(0);
  });

  it("a body cut short: deflate fails, as in aiohttp; gzip and br give what they decoded", async () => {
    // Text that does not repeat, so that half of each stream decodes to something.
    const varied = Buffer.from(Array.from({ length: 4000 }, (_, i) => `${i * 7919} `).join(""));
    const cuts: Record<string, [string, Buffer]> = {
      "/gzip": ["gzip", zlib.gzipSync(varied)],
      "/br": ["br", zlib.brotliCompressSync(varied)],
      "/zlib": ["deflate", zlib.deflateSync(varied)],
      "/raw": ["deflate", zlib.deflateRawSync(varied)],
    };
    await using srv = await startRawServer(async (conn) => {
      const head = await conn.readHead();
      const [coding, full] = cuts[head.split(" ")[1] ?? ""]!;
      const cut = full.subarray(0, Math.floor(full.length / 2));
      await conn.end(
        Buffer.concat([
          Buffer.from(
            `HTTP/1.1 200 OK\r\nContent-Encoding: ${coding}\r\nContent-Length: ${cut.length}\r\n\r\n`,
          ),
          cut,
        ]),
      );
    });
    await using session = new ClientSession();
    const read = async (path: string) => (await session.get(srv.url(path))).read().catch((e: unknown) => e);
    for (const path of ["/gzip", "/br"]) {
      const got = (await read(path)) as Buffer;
      expect(Buffer.isBuffer(got), path).toBe(true);
      expect(varied.subarray(0, got.length).equals(got), path).toBe(true);
      expect(got.length, path).toBeLessThan(varied.length);
    }
    expect(((await read("/gzip")) as Buffer).length).toBeGreaterThan(0);
    for (const path of ["/zlib", "/raw"]) {
      const err = await read(path);
      expect(err, path).toBeInstanceOf(ClientPayloadError);
      expect((err as Error).message).toBe("Can not decode content-encoding: deflate");
    }
  });

  it("tells deflate's flavours apart even when the first two bytes half look like a zlib header", async () => {
    // A raw stream whose first byte has zlib's method nibble (8): a stored block that is not the
    // last, its padding bits set; the two bytes fail zlib's check (0x0805 % 31 = 7).
    const stored = Buffer.from([
      0x08,
      0x05,
      0x00,
      0xfa,
      0xff,
      ...Buffer.from("hello"),
      0x01,
      0x00,
      0x00,
      0xff,
      0xff,
    ]);
    // A raw stream whose first two bytes pass zlib's check (0x1303 % 31 = 0) without the method
    // nibble: raw deflate of the one byte 22.
    const checksummed = zlib.deflateRawSync(Buffer.from([22]));
    expect([((checksummed[0]! << 8) | checksummed[1]!) % 31, checksummed[0]! & 0x0f]).toEqual([0, 3]);
    const bodies: Record<string, Buffer> = {
      "/stored": stored,
      "/checksummed": checksummed,
      // Raw deflate of nothing is two bytes: enough to tell the flavour, and an empty body.
      "/empty-raw": zlib.deflateRawSync(Buffer.alloc(0)),
    };
    await using srv = await startHttpServer((req, res) => {
      res.setHeader("content-encoding", "deflate");
      res.end(bodies[req.url ?? ""]);
    });
    await using session = new ClientSession();
    expect(await (await session.get(srv.url("/stored"))).text()).toBe("hello");
    expect([...(await (await session.get(srv.url("/checksummed"))).read())]).toEqual([22]);
    expect(bodies["/empty-raw"]!.length).toBe(2);
    expect((await (await session.get(srv.url("/empty-raw"))).read()).length).toBe(0);
  });

  it("decodes a deflate body that comes in many pieces, and fails a corrupt one", async () => {
    const body = zlib.deflateSync(Buffer.from(text));
    await using srv = await startHttpServer(async (req, res) => {
      res.setHeader("content-encoding", "deflate");
      if (req.url === "/corrupt") {
        res.end(Buffer.concat([body.subarray(0, 2), Buffer.from("not deflate data at all")]));
        return;
      }
      for (const [from, to] of [
        [0, 1],
        [1, 3],
        [3, 10],
        [10, body.length],
      ] as const) {
        res.write(body.subarray(from, to));
        await sleep(5);
      }
      res.end();
    });
    await using session = new ClientSession();
    expect(await (await session.get(srv.url("/pieces"))).text()).toBe(text);
    const err = await (await session.get(srv.url("/corrupt"))).read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect((err as Error).message).toBe("Can not decode content-encoding: deflate");
  });

  it("decodes each piece of a deflate body once, when every piece decodes to something", async () => {
    // Text that does not repeat, so each third of the stream decodes to new bytes.
    const varied = Buffer.from(Array.from({ length: 6000 }, (_, i) => `${i * 7919} `).join(""));
    const bodies: Record<string, Buffer> = {
      "/zlib": zlib.deflateSync(varied),
      "/raw": zlib.deflateRawSync(varied),
    };
    await using srv = await startHttpServer(async (req, res) => {
      const body = bodies[req.url ?? ""]!;
      const third = Math.floor(body.length / 3);
      res.setHeader("content-encoding", "deflate");
      res.write(body.subarray(0, third));
      await sleep(20);
      res.write(body.subarray(third, 2 * third));
      await sleep(20);
      res.end(body.subarray(2 * third));
    });
    await using session = new ClientSession();
    for (const path of ["/zlib", "/raw"]) {
      const got = await (await session.get(srv.url(path))).read();
      expect(got.length, path).toBe(varied.length);
      expect(got.equals(varied), path).toBe(true);
    }
  });

  it("a deflate layer under gzip that holds nothing is an empty body", async () => {
    // "deflate, gzip": the gzip layer decodes to no bytes at all, so the deflate one gets none.
    await using srv = await startHttpServer((_req, res) => {
      res.setHeader("content-encoding", "deflate, gzip");
      res.end(zlib.gzipSync(Buffer.alloc(0)));
    });
    await using session = new ClientSession();
    expect((await (await session.get(srv.url())).read()).length).toBe(0);
  });

  it("names the limits it enforces", async () => {
    await using stacked = await encoded("gzip, gzip, gzip");
    await using session = new ClientSession({ maxContentCodings: 2 });
    const err = await session.get(stacked.url()).then(
      (r) => r.read(),
      (e: unknown) => e,
    );
    expect(err).toEqual(new ClientPayloadError("Too many content codings (3); at most 2 are decoded"));
    await using bomb = await encoded("gzip", Buffer.alloc(4 * 1024 * 1024));
    await using small = new ClientSession({ maxDecompressedSize: 1024 * 1024 });
    const big = await (await small.get(bomb.url())).read().catch((e: unknown) => e);
    expect(big).toEqual(
      new ClientPayloadError("Decompressed body exceeds the 1048576-byte limit (maxDecompressedSize)"),
    );
  });

  it("fails clearly on a corrupt body", async () => {
    await using srv = await startHttpServer((_req, res) => {
      res.setHeader("content-encoding", "gzip");
      res.end(Buffer.from("this is not gzip at all"));
    });
    await using session = new ClientSession();
    const err = await (await session.get(srv.url())).read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect((err as Error).message).toBe("Can not decode content-encoding: gzip");
  });

  it("is off with autoDecompress: false, per session or per request", async () => {
    await using srv = await encoded("gzip");
    await using off = new ClientSession({ autoDecompress: false });
    const raw = await (await off.get(srv.url())).read();
    expect(zlib.gunzipSync(raw).toString()).toBe(text);
    await using on = new ClientSession();
    const raw2 = await (await on.get(srv.url(), { autoDecompress: false })).read();
    expect(raw2.equals(raw)).toBe(true);
  });

  it("a HEAD or 204 with Content-Encoding has nothing to decode", async () => {
    await using srv = await startHttpServer((req, res) => {
      res.setHeader("content-encoding", "gzip");
      if (req.url === "/204") res.statusCode = 204;
      res.end();
    });
    await using session = new ClientSession();
    expect((await (await session.head(srv.url())).read()).length).toBe(0);
    expect((await (await session.get(srv.url("/204"))).read()).length).toBe(0);
  });
});
