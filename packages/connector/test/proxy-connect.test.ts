import { ClientConnectionError, ClientHttpProxyError, ConnectionTimeoutError } from "@x/errors";
import { startRawServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { TCPConnector } from "../src/index.js";

// CONNECT tunnels against a proxy that is a raw socket writing exactly the bytes of each case.
const basic = `Basic ${Buffer.from("ada:pw").toString("base64")}`;

async function tunnel(
  reply: (conn: Parameters<Parameters<typeof startRawServer>[0]>[0]) => Promise<void>,
  timeout?: number,
  target = "http://target.test:8080/",
) {
  await using proxy = await startRawServer(reply);
  await using connector = new TCPConnector();
  const settings = {
    url: new URL(`http://127.0.0.1:${proxy.port}`),
    authorization: basic,
    headers: [["X-Via", "1"]] as [string, string][],
  };
  const result = await connector
    .connect({ url: target, proxy: settings, timeout: timeout ? { sockConnect: timeout } : undefined })
    .catch((e: unknown) => e);
  return { result, sent: proxy.received().toString("latin1") };
}

describe("CONNECT through a proxy", () => {
  it("sends the CONNECT head with the proxy's headers and credentials, an IPv6 target in brackets", async () => {
    const { sent } = await tunnel(
      async (conn) => {
        await conn.readHead();
        await conn.end("HTTP/1.1 403 Forbidden\r\n\r\n");
      },
      undefined,
      "http://[::1]:8080/",
    );
    expect(sent).toBe(
      `CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\nX-Via: 1\r\nProxy-Authorization: ${basic}\r\n\r\n`,
    );
  });

  it("a refusal is ClientHttpProxyError with the status, reason and headers, credentials redacted", async () => {
    const { result } = await tunnel(async (conn) => {
      await conn.readHead();
      await conn.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="p"\r\nBad Name: dropped\r\nnocolon\r\n\r\n',
      );
    });
    expect(result).toBeInstanceOf(ClientHttpProxyError);
    const err = result as ClientHttpProxyError;
    expect([err.status, err.reason]).toEqual([407, "Proxy Authentication Required"]);
    expect([...(err.headers ?? new Headers())]).toEqual([["proxy-authenticate", 'Basic realm="p"']]);
    expect(err.requestInfo.method).toBe("CONNECT");
    expect(err.requestInfo.url.href).toBe("http://target.test:8080/");
    expect([...err.requestInfo.headers]).toEqual([
      ["host", "target.test:8080"],
      ["proxy-authorization", "<redacted>"],
    ]);
  });

  it.each<[string, string | null, string]>([
    [
      "a status line that is not HTTP",
      "SOCKS/5 nope\r\n\r\n",
      'the proxy sent an invalid CONNECT response: "SOCKS/5 nope"',
    ],
    ["a close before the answer", null, "the proxy closed the connection during CONNECT"],
    [
      "a head past 64 KiB",
      `HTTP/1.1 200 OK\r\nX-Long: ${"x".repeat(70_000)}`,
      "the proxy's CONNECT response head is too large",
    ],
  ])("%s is a ClientConnectionError saying so", async (_what, bytes, message) => {
    const { result } = await tunnel(async (conn) => {
      await conn.readHead();
      if (bytes === null) await conn.end();
      else await conn.write(bytes);
      await conn.readToEnd().catch(() => {});
    });
    expect(result).toBeInstanceOf(ClientConnectionError);
    expect((result as Error).message).toContain(message);
  });

  it("a proxy that never answers trips the attempt's timeout", async () => {
    const { result } = await tunnel(async (conn) => {
      await conn.readToEnd().catch(() => {});
    }, 100);
    expect(result).toBeInstanceOf(ConnectionTimeoutError);
    expect((result as Error).message).toContain("timed out after 100 ms");
  });
});
