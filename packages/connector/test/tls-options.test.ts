import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { createSecureContext, type TLSSocket } from "node:tls";
import { ClientConnectorCertificateError, InvalidArgumentError, ServerFingerprintMismatch } from "@x/errors";
import { startHttpsServer, testCertificates } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import {
  type ConnectionInfo,
  Fingerprint,
  mergeSslParams,
  type SslOption,
  TCPConnector,
} from "../src/index.js";
import { requestText } from "./helpers.js";

const ok = (_req: unknown, res: { end(s: string): void }) => res.end("secure");

/**
 * One GET through `connector` with `ssl` for this request; says whether it rode a connection
 * opened before (a keep-alive reuse) or a new one.
 */
async function reusedWith(connector: TCPConnector, url: string, ssl?: SslOption): Promise<boolean> {
  const seen: boolean[] = [];
  const body = await requestText(connector, url, {
    connectorOptions: {
      ...(ssl === undefined ? {} : { ssl }),
      onConnection: (i: ConnectionInfo) => seen.push(i.reused),
    },
  });
  expect(body).toBe("secure");
  expect(seen.length).toBe(1);
  return seen[0] as boolean;
}

describe("the seed's TLS spellings (mergeSslParams)", () => {
  it("take null as not given", () => {
    const none = { verifySsl: null, sslContext: null, fingerprint: null } as never as Record<string, never>;
    expect(mergeSslParams(none)).toBeUndefined();
    expect(mergeSslParams({ ...none, ssl: false })).toBe(false);
    const pin = new Fingerprint(Buffer.alloc(32, 3));
    expect(mergeSslParams({ ...none, ssl: pin })).toBe(pin);
    expect(new TCPConnector(none).verifySsl).toBe(true);
  });

  it("let sslContext stand next to ssl: true", () => {
    const options = { ca: "pem" };
    expect(mergeSslParams({ ssl: true, sslContext: options })).toBe(options);
  });

  it("refuse ssl: null", () => {
    expect(() => mergeSslParams({ ssl: null as never })).toThrow(
      new InvalidArgumentError("ssl must be true, false, a Fingerprint or a TLS options object"),
    );
  });
});

describe("sslContext", () => {
  it("takes TLS options, not only a SecureContext", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector({ sslContext: { ca: srv.ca } });
    expect(await requestText(connector, srv.url())).toBe("secure");
  });

  it("takes an object with a ca as TLS options even when it has a context field", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector({ sslContext: { ca: srv.ca, context: "mine" } as never });
    expect(await requestText(connector, srv.url())).toBe("secure");
  });
});

describe("verifySsl for TLS options", () => {
  it("is false only when rejectUnauthorized is false", () => {
    expect(new TCPConnector({ ssl: { rejectUnauthorized: false } }).verifySsl).toBe(false);
    expect(new TCPConnector({ ssl: { rejectUnauthorized: true } }).verifySsl).toBe(true);
    expect(new TCPConnector({ ssl: { ca: "x" } }).verifySsl).toBe(true);
    // An option set to undefined or null is taken as not given.
    expect(new TCPConnector({ ssl: { ca: "x", cert: undefined, passphrase: null as never } }).verifySsl).toBe(
      true,
    );
  });
});

describe("TLS options and connection reuse", () => {
  it("options with the same content share connections, whatever their key order", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector();
    expect(await reusedWith(connector, srv.url(), { ca: srv.ca, minVersion: "TLSv1.2" })).toBe(false);
    expect(await reusedWith(connector, srv.url(), { ca: srv.ca, minVersion: "TLSv1.2" })).toBe(true);
    expect(await reusedWith(connector, srv.url(), { minVersion: "TLSv1.2", ca: srv.ca })).toBe(true);
    expect(srv.stats.accepted).toBe(1);
  });

  it("one SecureContext object shares connections; another one never does", async () => {
    await using srv = await startHttpsServer(ok);
    const trusting = createSecureContext({ ca: srv.ca });
    await using connector = new TCPConnector({ ssl: { secureContext: trusting } });
    expect(await reusedWith(connector, srv.url())).toBe(false);
    expect(await reusedWith(connector, srv.url())).toBe(true);
    // A context without the CA must verify (and fail) on a connection of its own.
    const err = await requestText(connector, srv.url(), {
      connectorOptions: { ssl: { secureContext: createSecureContext({}) } },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientConnectorCertificateError);
  });

  it("another function (checkServerIdentity) is other settings", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector();
    const lenient = () => undefined;
    const strict = () => new Error("not this one");
    expect(await reusedWith(connector, srv.url(), { ca: srv.ca, checkServerIdentity: lenient })).toBe(false);
    expect(await reusedWith(connector, srv.url(), { ca: srv.ca, checkServerIdentity: lenient })).toBe(true);
    const err = await requestText(connector, srv.url(), {
      connectorOptions: { ssl: { ca: srv.ca, checkServerIdentity: strict } },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String(err)).toMatch(/not this one/);
  });

  it.each([
    ["a string", (ca: string) => ca],
    ["bytes", (ca: string) => Buffer.from(ca)],
    ["a list", (ca: string) => [ca]],
  ] as const)(
    "another CA given as %s never rides a connection verified with the first",
    async (_what, as) => {
      await using srv = await startHttpsServer(ok);
      const { selfSigned } = await testCertificates();
      await using connector = new TCPConnector();
      expect(await reusedWith(connector, srv.url(), { ca: as(srv.ca) as string })).toBe(false);
      expect(await reusedWith(connector, srv.url(), { ca: as(srv.ca) as string })).toBe(true);
      const err = await requestText(connector, srv.url(), {
        connectorOptions: { ssl: { ca: as(selfSigned.cert) } },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClientConnectorCertificateError);
    },
  );

  it("rejectUnauthorized: true never rides a connection opened with rejectUnauthorized: false", async () => {
    await using srv = await startHttpsServer(ok, { certificate: "selfSigned" });
    await using connector = new TCPConnector();
    expect(await reusedWith(connector, srv.url(), { rejectUnauthorized: false })).toBe(false);
    expect(await reusedWith(connector, srv.url(), { rejectUnauthorized: false })).toBe(true);
    const err = await requestText(connector, srv.url(), {
      connectorOptions: { ssl: { rejectUnauthorized: true } },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientConnectorCertificateError);
  });

  it("a numeric option with another value is other settings", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector();
    expect(await reusedWith(connector, srv.url(), { ca: srv.ca, minDHSize: 1024 })).toBe(false);
    expect(await reusedWith(connector, srv.url(), { ca: srv.ca, minDHSize: 1024 })).toBe(true);
    expect(await reusedWith(connector, srv.url(), { ca: srv.ca, minDHSize: 2048 })).toBe(false);
  });

  it("option texts that would run together are still told apart", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector();
    const odd = (extra: object) => ({ ca: srv.ca, ...extra }) as SslOption;
    expect(await reusedWith(connector, srv.url(), odd({ a: "x", b: "y" }))).toBe(false);
    expect(await reusedWith(connector, srv.url(), odd({ "a=s1:xb": "y" }))).toBe(false);
    expect(await reusedWith(connector, srv.url(), odd({ list: [{ a: "x" }, { b: "y" }] }))).toBe(false);
    expect(await reusedWith(connector, srv.url(), odd({ list: [{ "a=s1:x}{b": "y" }] }))).toBe(false);
    expect(await reusedWith(connector, srv.url(), odd({ list: [{ "a=s1:x}{b": "y" }] }))).toBe(true);
  });

  it("another pinned certificate never rides a connection pinned to the first", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector();
    const pin = new Fingerprint(srv.certificate.sha256);
    expect(await reusedWith(connector, srv.url(), pin)).toBe(false);
    expect(await reusedWith(connector, srv.url(), new Fingerprint(srv.certificate.sha256))).toBe(true);
    const err = await requestText(connector, srv.url(), {
      connectorOptions: { ssl: new Fingerprint(Buffer.alloc(32, 9)) },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerFingerprintMismatch);
  });
});

describe("the server name a TLS connection sends (SNI)", () => {
  it("is the servername of the TLS options when the URL's host is an IP address", async () => {
    const certs = await testCertificates();
    const names: Array<string | false> = [];
    const server = createHttpsServer({ key: certs.server.key, cert: certs.server.cert }, (_req, res) =>
      res.end("secure"),
    );
    server.on("secureConnection", (s: TLSSocket) =>
      names.push((s as unknown as { servername: string | false }).servername),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    try {
      await using connector = new TCPConnector({ ssl: { ca: certs.ca, servername: "localhost" } });
      expect(await requestText(connector, `https://127.0.0.1:${port}/`)).toBe("secure");
      await using plain = new TCPConnector({ ssl: { ca: certs.ca } });
      expect(await requestText(plain, `https://127.0.0.1:${port}/`)).toBe("secure");
      expect(names).toEqual(["localhost", false]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
