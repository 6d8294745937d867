import zlib from "node:zlib";
import { ClientPayloadError } from "@x/errors";
import { peakRssGrowth, readBody, startHttpServer } from "@x/fixtures";
import { beforeAll, describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

// Decompression bombs (CVE-2023-49082-style aiohttp issues, urllib3's CVE-2025-50181 family,
// undici's unbounded decoding): a small body that decodes to something huge must stop at the
// decoded-size cap, in every way a body can be consumed, without the process swelling.

const MiB = 2 ** 20;
const zeros = Buffer.alloc(256 * MiB);
/** Each coding's bomb: 256 MiB of zeros, a few hundred KiB on the wire (gzip, deflate) or less. */
const bombs: Record<string, Buffer> = {};

beforeAll(() => {
  bombs.gzip = zlib.gzipSync(zeros, { level: 9 });
  bombs.deflate = zlib.deflateSync(zeros, { level: 9 });
  bombs.br = zlib.brotliCompressSync(zeros, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } });
}, 30_000);

/** Streams a body, throwing every chunk away; how many bytes came, and the error that ended it. */
async function streamAway(session: ClientSession, url: string): Promise<{ seen: number; err: unknown }> {
  const resp = await session.get(url);
  let seen = 0;
  try {
    for await (const chunk of resp.content) seen += chunk.length;
  } catch (err) {
    return { seen, err };
  }
  return { seen, err: undefined };
}

/** Serves the bomb for `coding` at /bomb/<coding>, and as the body of a redirect at /r/<coding>. */
function bombServer() {
  return startHttpServer(async (req, res) => {
    await readBody(req);
    const [, kind, coding] = (req.url ?? "").split("/");
    if (kind === "ok") {
      res.end("fine");
      return;
    }
    const body = bombs[coding!]!;
    res.setHeader("Content-Encoding", coding!);
    res.setHeader("Content-Length", body.length);
    if (kind === "r") {
      res.statusCode = 302;
      res.setHeader("Location", "/ok");
    }
    res.end(body);
  });
}

describe.each(["gzip", "deflate", "br"])("a %s bomb", (coding) => {
  it("read() stops at maxDecompressedSize with ClientPayloadError, memory bounded", async () => {
    await using srv = await bombServer();
    await using session = new ClientSession({ maxDecompressedSize: 8 * MiB });
    let err: unknown;
    const growth = await peakRssGrowth(async () => {
      const resp = await session.get(srv.url(`/bomb/${coding}`));
      err = await resp.read().catch((e: unknown) => e);
    });
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect((err as Error).message).toMatch(/maxDecompressedSize/);
    expect(growth).toBeLessThan(80);
  });

  it("streaming stops at the cap too, even when every chunk is thrown away", async () => {
    await using srv = await bombServer();
    await using session = new ClientSession({ maxDecompressedSize: 8 * MiB });
    let streamed = { seen: 0, err: undefined as unknown };
    const growth = await peakRssGrowth(async () => {
      streamed = await streamAway(session, srv.url(`/bomb/${coding}`));
    });
    const { seen, err } = streamed;
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect(seen).toBeLessThanOrEqual(8 * MiB);
    expect(growth).toBeLessThan(80);
  });

  it("as a redirect's body it is not decoded past 64 KiB: the redirect is followed at once", async () => {
    await using srv = await bombServer();
    await using session = new ClientSession();
    let text = "";
    let history = 0;
    const growth = await peakRssGrowth(async () => {
      const resp = await session.get(srv.url(`/r/${coding}`));
      text = await resp.text();
      history = resp.history.length;
    });
    expect(text).toBe("fine");
    expect(history).toBe(1);
    // Had the bomb been drained to its end, its connection would have been reused. (A brotli
    // bomb's few hundred raw bytes all arrive at once, so there the connection is fine to keep.)
    if (bombs[coding]!.length > 64 * 1024) expect(srv.stats.accepted).toBe(2);
    expect(growth).toBeLessThan(48);
  });
});

describe("limits on by default", () => {
  it("a 1 GiB gzip bomb stops at the default 256 MiB cap while streamed, memory bounded", async () => {
    // Four concatenated gzip members of 256 MiB each: one gigabyte decoded.
    const gigabyte = Buffer.concat([bombs.gzip!, bombs.gzip!, bombs.gzip!, bombs.gzip!]);
    await using srv = await startHttpServer((_req, res) => {
      res.setHeader("Content-Encoding", "gzip");
      res.end(gigabyte);
    });
    await using session = new ClientSession();
    let streamed = { seen: 0, err: undefined as unknown };
    const growth = await peakRssGrowth(async () => {
      streamed = await streamAway(session, srv.url("/"));
    });
    const { seen, err } = streamed;
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect(seen).toBeGreaterThan(200 * MiB);
    expect(seen).toBeLessThanOrEqual(256 * MiB);
    expect(growth).toBeLessThan(80);
  }, 30_000);

  it("more than five stacked codings are refused before any decoding", async () => {
    let body = Buffer.from("x");
    for (let i = 0; i < 6; i++) body = zlib.gzipSync(body);
    await using srv = await startHttpServer((_req, res) => {
      res.setHeader("Content-Encoding", "gzip, gzip, gzip, gzip, gzip, gzip");
      res.end(body);
    });
    await using session = new ClientSession();
    const err = await session.get(srv.url()).then(
      (r) => r.read(),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ClientPayloadError);
    expect((err as Error).message).toMatch(/Too many content codings/);
  });
});
