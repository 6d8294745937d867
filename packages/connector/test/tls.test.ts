import { createSecureContext } from "node:tls";
import {
  ClientConnectorCertificateError,
  ClientConnectorError,
  ClientConnectorSSLError,
  ConnectionTimeoutError,
  InvalidArgumentError,
  ServerFingerprintMismatch,
} from "@x/errors";
import { startHttpServer, startHttpsServer, startRawServer, testCertificates } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { Fingerprint, mergeSslParams, TCPConnector } from "../src/index.js";
import { requestText } from "./helpers.js";

const get = requestText;

const ok = (_req: unknown, res: { end(s: string): void }) => res.end("secure");

describe("certificate verification", () => {
  it("is on by default: a server signed by an unknown CA is refused", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector();
    const err = await get(connector, srv.url()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientConnectorCertificateError);
    const certErr = err as ClientConnectorCertificateError;
    expect(certErr.certificateError).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    expect(certErr.host).toBe("127.0.0.1");
    expect(certErr.port).toBe(srv.port);
    expect(certErr.ssl).toBe(true);
    expect(certErr.message).toContain(`127.0.0.1:${srv.port}`);
  });

  it("accepts the server with the CA given as TLS options", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector({ ssl: { ca: srv.ca } });
    expect(await get(connector, srv.url())).toBe("secure");
    expect(connector.verifySsl).toBe(true);
  });

  it("accepts a SecureContext through the seed's sslContext", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector({ sslContext: createSecureContext({ ca: srv.ca }) });
    expect(await get(connector, srv.url())).toBe("secure");
  });

  it.each([
    ["selfSigned", "DEPTH_ZERO_SELF_SIGNED_CERT"],
    ["expired", "CERT_HAS_EXPIRED"],
    ["wrongHost", "ERR_TLS_CERT_ALTNAME_INVALID"],
  ] as const)("refuses a %s certificate even with the CA (%s)", async (certificate, code) => {
    await using srv = await startHttpsServer(ok, { certificate });
    await using connector = new TCPConnector({ ssl: { ca: srv.ca } });
    const err = await get(connector, srv.url()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientConnectorCertificateError);
    expect((err as ClientConnectorCertificateError).certificateError).toBe(code);
  });

  it("ssl: false and the seed's verifySsl: false skip verification", async () => {
    await using srv = await startHttpsServer(ok, { certificate: "selfSigned" });
    await using off = new TCPConnector({ ssl: false });
    expect(await get(off, srv.url())).toBe("secure");
    await using seed = new TCPConnector({ verifySsl: false });
    expect(seed.verifySsl).toBe(false);
    expect(await get(seed, srv.url())).toBe("secure");
  });

  it("checks the name in serverHostname instead of the URL's host, and keys the pool by it", async () => {
    await using srv = await startHttpsServer(ok, { certificate: "wrongHost" });
    await using connector = new TCPConnector({ ssl: { ca: srv.ca } });
    expect(await get(connector, srv.url(), { connectorOptions: { serverHostname: "other.test" } })).toBe(
      "secure",
    );
    await expect(get(connector, srv.url())).rejects.toBeInstanceOf(ClientConnectorCertificateError);
    await expect(
      get(connector, srv.url(), { connectorOptions: { serverHostname: "localhost" } }),
    ).rejects.toBeInstanceOf(ClientConnectorCertificateError);
    expect(srv.stats.accepted).toBe(3);
  });

  it("never reuses a connection opened with other TLS settings", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector();
    expect(await get(connector, srv.url(), { connectorOptions: { ssl: false } })).toBe("secure");
    expect(connector.stats.idle).toBe(1);
    // Same origin, default (verifying) settings: must not ride the unverified socket.
    await expect(get(connector, srv.url())).rejects.toBeInstanceOf(ClientConnectorCertificateError);
    expect(await get(connector, srv.url(), { connectorOptions: { ssl: { ca: srv.ca } } })).toBe("secure");
    expect(srv.stats.accepted).toBe(3);
  });

  it("maps other TLS failures to ClientConnectorSSLError", async () => {
    await using plain = await startHttpServer(ok);
    await using connector = new TCPConnector();
    const err = await get(connector, plain.url().replace("http:", "https:")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientConnectorSSLError);
    expect(err).not.toBeInstanceOf(ClientConnectorCertificateError);
  });

  it("times out a handshake the server never answers with ConnectionTimeoutError", async () => {
    await using silent = await startRawServer(async (conn) => {
      await conn.readToEnd();
    });
    await using connector = new TCPConnector({ connectTimeout: 100 });
    const started = Date.now();
    const err = await get(connector, silent.url().replace("http:", "https:")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionTimeoutError);
    expect(Date.now() - started).toBeLessThan(2000);
    await silent.stats.idle();
  });

  it("reuses verified TLS connections and resumes sessions on new ones", async () => {
    await using srv = await startHttpsServer(ok);
    const resumed: boolean[] = [];
    srv.server.on("secureConnection", (s) => resumed.push(s.isSessionReused()));
    await using connector = new TCPConnector({ ssl: { ca: srv.ca }, forceClose: true });
    await get(connector, srv.url());
    await get(connector, srv.url());
    expect(resumed).toEqual([false, true]);
  });
});

describe("fingerprint pinning", () => {
  it("accepts the pinned certificate without CA verification, as aiohttp does", async () => {
    await using srv = await startHttpsServer(ok, { certificate: "selfSigned" });
    await using connector = new TCPConnector({ ssl: new Fingerprint(srv.certificate.sha256) });
    expect(connector.verifySsl).toBe(false);
    expect(connector.fingerprint).toEqual(srv.certificate.sha256);
    expect(await get(connector, srv.url())).toBe("secure");
  });

  it("refuses another certificate with ServerFingerprintMismatch and closes the socket", async () => {
    await using srv = await startHttpsServer(ok);
    const certs = await testCertificates();
    await using connector = new TCPConnector({ fingerprint: certs.selfSigned.sha256 });
    const err = await get(connector, srv.url()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerFingerprintMismatch);
    const mismatch = err as ServerFingerprintMismatch;
    expect(Buffer.from(mismatch.expected)).toEqual(certs.selfSigned.sha256);
    expect(Buffer.from(mismatch.got)).toEqual(srv.certificate.sha256);
    expect(mismatch.host).toBe("127.0.0.1");
    expect(mismatch.port).toBe(srv.port);
    await srv.stats.idle();
  });

  it("checks the pin on every new connection, not just the first", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector({ forceClose: true });
    const pin = new Fingerprint(srv.certificate.sha256);
    const wrong = new Fingerprint(Buffer.alloc(32, 7));
    expect(await get(connector, srv.url(), { connectorOptions: { ssl: pin } })).toBe("secure");
    await expect(get(connector, srv.url(), { connectorOptions: { ssl: wrong } })).rejects.toBeInstanceOf(
      ServerFingerprintMismatch,
    );
    expect(await get(connector, srv.url(), { connectorOptions: { ssl: pin } })).toBe("secure");
  });

  it("pins on top of verification with TLS options", async () => {
    await using srv = await startHttpsServer(ok);
    const pin = new Fingerprint(srv.certificate.sha256);
    await using both = new TCPConnector({ ssl: { ca: srv.ca, fingerprint: pin } });
    expect(both.verifySsl).toBe(true);
    expect(await get(both, srv.url())).toBe("secure");
    await using noCa = new TCPConnector({ ssl: { fingerprint: pin } });
    await expect(get(noCa, srv.url())).rejects.toBeInstanceOf(ClientConnectorCertificateError);
  });

  it("is an error for a plain http URL", async () => {
    await using srv = await startHttpServer(ok);
    await using connector = new TCPConnector();
    const pin = new Fingerprint(Buffer.alloc(32, 1));
    await expect(get(connector, srv.url(), { connectorOptions: { ssl: pin } })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(srv.stats.accepted).toBe(0);
  });

  it("refuses MD5 and SHA-1 digests and malformed ones", () => {
    expect(() => new Fingerprint(Buffer.alloc(16))).toThrow(/md5/);
    expect(() => new Fingerprint(Buffer.alloc(20))).toThrow(/sha1/);
    expect(() => new Fingerprint(Buffer.alloc(31))).toThrow(InvalidArgumentError);
    expect(() => new Fingerprint("zz")).toThrow(InvalidArgumentError);
    const hex = new Fingerprint(Buffer.alloc(32, 0xab)).toString();
    expect(hex).toBe(Array(32).fill("ab").join(":"));
    expect(new Fingerprint(hex).fingerprint).toEqual(Buffer.alloc(32, 0xab));
    expect(new Fingerprint(`sha256/${"AB".repeat(32)}`).fingerprint).toEqual(Buffer.alloc(32, 0xab));
  });
});

describe("Fingerprint's input", () => {
  it("takes hex only as a whole, with an optional sha256 prefix, and says what is wrong", () => {
    const hex = "ab".repeat(32);
    expect(new Fingerprint(`SHA256:${hex}`).fingerprint).toEqual(Buffer.alloc(32, 0xab));
    expect(new Fingerprint(`sha256=${hex}`).fingerprint).toEqual(Buffer.alloc(32, 0xab));
    expect(new Fingerprint(` ${hex.slice(0, 32)}\n${hex.slice(32)} `).fingerprint).toEqual(
      Buffer.alloc(32, 0xab),
    );
    // The prefix is taken only at the start; anything not hex anywhere is refused.
    for (const bad of [
      `${hex.slice(0, 32)}sha256:${hex.slice(32)}`,
      `${hex}zz`,
      `zz${hex}`,
      `${hex.slice(0, 63)}`,
      "zz",
    ]) {
      expect(() => new Fingerprint(bad), bad).toThrow(
        new InvalidArgumentError(
          `fingerprint must be hex digits (optionally colon-separated), got ${JSON.stringify(bad)}`,
        ),
      );
    }
    expect(() => new Fingerprint(Buffer.alloc(31))).toThrow(
      "fingerprint has invalid length 31; a SHA-256 digest is 32 bytes",
    );
    expect(() => new Fingerprint("ab".repeat(33))).toThrow("fingerprint has invalid length 33");
    for (const bad of [42, null, undefined, ["ab"]]) {
      expect(() => new Fingerprint(bad as never)).toThrow(
        new InvalidArgumentError("fingerprint must be a Buffer, a Uint8Array or a hex string"),
      );
    }
    expect(new Fingerprint(new Uint8Array(32).fill(5)).toString()).toBe(Array(32).fill("05").join(":"));
  });
});

describe("old and new TLS options", () => {
  it("are mutually exclusive, as in aiohttp", () => {
    const pin = Buffer.alloc(32, 1);
    expect(() => new TCPConnector({ ssl: false, fingerprint: pin })).toThrow(InvalidArgumentError);
    expect(() => new TCPConnector({ ssl: { ca: "x" }, verifySsl: false })).toThrow(/mutually exclusive/);
    expect(() => new TCPConnector({ ssl: false, sslContext: {} })).toThrow(InvalidArgumentError);
    expect(() => mergeSslParams({ verifySsl: false, fingerprint: pin })).toThrow(InvalidArgumentError);
    expect(() => mergeSslParams({ sslContext: {}, fingerprint: pin })).toThrow(InvalidArgumentError);
  });

  it("combine where aiohttp allows it", () => {
    expect(mergeSslParams({})).toBeUndefined();
    expect(mergeSslParams({ ssl: true, verifySsl: false })).toBe(false);
    expect(mergeSslParams({ verifySsl: true })).toBeUndefined();
    expect(mergeSslParams({ ssl: true, fingerprint: Buffer.alloc(32, 2) })).toBeInstanceOf(Fingerprint);
    expect(() => mergeSslParams({ ssl: "yes" as never })).toThrow(InvalidArgumentError);
  });

  it("reports an unreachable TLS port as a connector error with the TLS setting", async () => {
    const { closedPort } = await import("@x/fixtures");
    const port = await closedPort();
    await using connector = new TCPConnector({ ssl: false });
    const err = await get(connector, `https://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientConnectorError);
    expect((err as ClientConnectorError).ssl).toBe(false);
  });
});
