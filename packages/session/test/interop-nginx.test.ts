import { TCPConnector } from "@x/connector";
import { ClientConnectorCertificateError } from "@x/errors";
import { NGINX_SMALL_BODY, peakRssGrowth, startNginx, testCertificates } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

// Against nginx 1.22 (Debian's nginx): keep-alive, large downloads, TLS and HTTP/2 as a
// production server does them.

const MiB = 2 ** 20;

describe("nginx", () => {
  it("10,000 requests from 10 callers reuse a handful of keep-alive connections", async () => {
    await using nginx = await startNginx();
    await using session = new ClientSession({ connector: new TCPConnector({ limit: 10 }) });
    const before = await nginx.status();
    let next = 0;
    const bodies = new Set<string>();
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next++ < 10_000) bodies.add(await (await session.get(`${nginx.origin}/small`)).text());
      }),
    );
    const after = await nginx.status();
    expect([...bodies]).toEqual([NGINX_SMALL_BODY]);
    expect(after.requests - before.requests).toBe(10_000);
    expect(after.accepts - before.accepts).toBeLessThanOrEqual(10);
  }, 60_000);

  it("a 256 MiB download (past the 100 MiB asked for) streams through with flat memory", async () => {
    await using nginx = await startNginx({ files: { "big.bin": 256 * MiB } });
    await using session = new ClientSession();
    let received = 0;
    const growth = await peakRssGrowth(async () => {
      const resp = await session.get(`${nginx.origin}/big.bin`);
      expect(resp.contentLength).toBe(256 * MiB);
      for await (const chunk of resp.content) received += chunk.length;
    });
    expect(received).toBe(256 * MiB);
    // Buffering would grow by the body's size; streaming stays at what the GC lets pile up
    // before it runs (tens of MiB, most on Node 24).
    expect(growth).toBeLessThan(96);
  }, 60_000);

  it("serves https verified against the generated CA, and is refused without it", async () => {
    await using nginx = await startNginx({ tls: true });
    const { ca } = await testCertificates();
    await using session = new ClientSession();
    const resp = await session.get(`${nginx.origin}/small`, { ssl: { ca } });
    expect(await resp.text()).toBe(NGINX_SMALL_BODY);
    expect(resp.version).toEqual({ major: 1, minor: 1 });
    await expect(session.get(`${nginx.origin}/small`)).rejects.toBeInstanceOf(
      ClientConnectorCertificateError,
    );
  });

  it("speaks HTTP/2 over TLS, many requests on one connection", async () => {
    await using nginx = await startNginx({ tls: true, http2: true, files: { "one.bin": 300_000 } });
    const { ca } = await testCertificates();
    await using session = new ClientSession({ http2: true });
    const before = await nginx.status();
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        session.get(`${nginx.origin}/${i % 2 ? "small" : "one.bin"}`, { ssl: { ca } }),
      ),
    );
    for (const [i, resp] of responses.entries()) {
      expect(resp.version).toEqual({ major: 2, minor: 0 });
      const body = await resp.read();
      expect(body.length).toBe(i % 2 ? NGINX_SMALL_BODY.length : 300_000);
    }
    const after = await nginx.status();
    expect(after.requests - before.requests).toBe(20);
    expect(after.accepts - before.accepts).toBe(1);
  });
});
