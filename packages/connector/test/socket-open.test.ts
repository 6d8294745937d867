import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { type AddressInfo, connect as netConnect, type Socket } from "node:net";
import { createSecureContext, type TLSSocket } from "node:tls";
import { Worker } from "node:worker_threads";
import { ConnectionTimeoutError } from "@x/errors";
import {
  closedPort,
  sleep,
  startHttpServer,
  startHttpsServer,
  startRawServer,
  testCertificates,
} from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { Fingerprint, TCPConnector } from "../src/index.js";
import { requestText } from "./helpers.js";

const ok = (_req: unknown, res: { end(s: string): void }) => res.end("ok");

/**
 * A TCP port whose accept queue is full: a worker thread listens with a backlog of 1 and never
 * accepts (its event loop is blocked), two connections fill the queue, and the kernel drops every
 * later SYN, so a new connection attempt neither succeeds nor fails.
 */
async function unansweredPort(): Promise<{ port: number } & AsyncDisposable> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { parentPort, workerData } = require("node:worker_threads");
     const server = require("node:net").createServer();
     server.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       Atomics.wait(workerData, 0, 0);
       server.close();
     });`,
    { eval: true, workerData: flag },
  );
  const port = await new Promise<number>((resolve) => worker.once("message", resolve));
  const fillers: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const s = netConnect({ host: "127.0.0.1", port });
    s.on("error", () => {});
    fillers.push(s);
    await new Promise((resolve) => s.once("connect", resolve));
  }
  return {
    port,
    async [Symbol.asyncDispose]() {
      for (const s of fillers) s.destroy();
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      await new Promise((resolve) => worker.once("exit", resolve));
    },
  };
}

/** An https server whose handshake pauses `delayMs` (in its SNI callback) before answering. */
async function slowHandshakeServer(delayMs: number) {
  const certs = await testCertificates();
  const context = createSecureContext({ key: certs.server.key, cert: certs.server.cert });
  const server = createHttpsServer(
    {
      key: certs.server.key,
      cert: certs.server.cert,
      SNICallback: (_name, callback) => setTimeout(() => callback(null, context), delayMs),
    },
    (_req, res) => res.end("ok"),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/`,
    ca: certs.ca,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The kernel's line for the local end of `socket` in /proc/net/tcp, split into fields. */
function procTcpLine(socket: Socket): string[] | undefined {
  const hexPort = (port = 0) => port.toString(16).toUpperCase().padStart(4, "0");
  const local = `0100007F:${hexPort(socket.localPort)}`;
  const remote = `0100007F:${hexPort(socket.remotePort)}`;
  // This connection's line: both ends, state 01 (established); an earlier connection that used
  // the same local port may still be listed in TIME_WAIT.
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .find((fields) => fields[1] === local && fields[2] === remote && fields[3] === "01");
}

describe("connection timeouts", () => {
  it("a TCP connect nobody answers fails after connectTimeout, naming the time and the peer", async () => {
    await using stalled = await unansweredPort();
    await using connector = new TCPConnector({ connectTimeout: 100 });
    const started = Date.now();
    const err = await connector
      .connect({ url: `http://127.0.0.1:${stalled.port}/` })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionTimeoutError);
    expect(err).toMatchObject({
      message: `Connection timeout after 100 ms (127.0.0.1:${stalled.port})`,
      host: "127.0.0.1",
      port: stalled.port,
    });
    expect(Date.now() - started).toBeLessThan(900);
  });

  it("a TLS handshake nobody answers fails after timeout.sockConnect, naming the time and the peer", async () => {
    await using silent = await startRawServer(async (conn) => {
      await conn.readToEnd();
    });
    await using connector = new TCPConnector();
    const url = silent.url().replace("http:", "https:");
    const err = await connector.connect({ url, timeout: { sockConnect: 80 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionTimeoutError);
    expect(err).toMatchObject({
      message: `TLS handshake timeout after 80 ms (127.0.0.1:${silent.port})`,
      host: "127.0.0.1",
      port: silent.port,
    });
    await silent.stats.idle();
  });

  it.each([
    ["connectTimeout: null", { connectTimeout: null }, undefined],
    ["connectTimeout: 0", { connectTimeout: 0 }, undefined],
    ["timeout.sockConnect: 0", {}, { sockConnect: 0 }],
  ] as const)("%s sets no limit on a slow handshake", async (_what, options, timeout) => {
    await using srv = await slowHandshakeServer(60);
    await using connector = new TCPConnector({ ...options, ssl: { ca: srv.ca } });
    expect(
      await requestText(connector, srv.url, {
        connectorOptions: { serverHostname: "localhost", ...(timeout ? { timeout } : {}) },
      }),
    ).toBe("ok");
  });
});

describe("the sockets the connector opens", () => {
  it("bind to the port of localAddr too", async () => {
    const local = await closedPort();
    const peers: Array<number | undefined> = [];
    await using srv = await startHttpServer((req, res) => {
      peers.push(req.socket.remotePort);
      res.end("ok");
    });
    await using connector = new TCPConnector({ localAddr: { host: "127.0.0.1", port: local } });
    expect(await requestText(connector, srv.url())).toBe("ok");
    expect(peers).toEqual([local]);
  });

  it("send TCP keep-alive probes after a minute of silence", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readToEnd();
    });
    await using connector = new TCPConnector();
    const conn = await connector.connect({ url: srv.url() });
    // `tr` 02 is the keep-alive timer; `tm->when` counts down in 1/100 s from 60 s. Read again for
    // a while: another timer (a retransmission on a busy machine) may stand in its place at first.
    let timer: string | undefined;
    let when: string | undefined;
    for (const end = Date.now() + 2000; timer !== "02" && Date.now() < end; await sleep(20)) {
      [timer, when] = (procTcpLine(conn.transport as Socket)?.[5] ?? "").split(":");
    }
    conn.close();
    expect(timer).toBe("02");
    const seconds = Number.parseInt(when ?? "0", 16) / 100;
    expect(seconds).toBeGreaterThan(50);
    expect(seconds).toBeLessThanOrEqual(60);
  });

  it("send small writes at once (no Nagle delay)", async () => {
    const arrivals: Array<{ data: string; at: number }> = [];
    await using srv = await startRawServer((conn) => {
      conn.socket.on("data", (chunk: Buffer) => {
        const text = chunk.toString();
        // Answer pings at once, so the server's side delays its ACKs (interactive traffic).
        if (text === "p") conn.socket.write("q");
        else arrivals.push({ data: text, at: performance.now() });
      });
    });
    await using connector = new TCPConnector();
    const conn = await connector.connect({ url: srv.url() });
    const socket = conn.transport as Socket;
    for (let i = 0; i < 5; i++) {
      socket.write("p");
      await new Promise((resolve) => socket.once("data", resolve));
    }
    // Two small writes in a row: without Nagle's algorithm both reach the server at once; with it
    // "B" waits for the ACK of "A", which the server delays ~40 ms, every time. The best of three
    // rounds, so that a busy machine's scheduling cannot pass for Nagle's delay.
    const gaps: number[] = [];
    for (const round of ["AB", "CD", "EF"]) {
      arrivals.length = 0;
      socket.write(round[0]!);
      socket.write(round[1]!);
      const end = Date.now() + 2000;
      while (arrivals.map((a) => a.data).join("") !== round && Date.now() < end) await sleep(5);
      expect(arrivals.map((a) => a.data).join("")).toBe(round);
      gaps.push((arrivals.at(-1)?.at ?? 0) - (arrivals[0]?.at ?? 0));
      socket.write("p");
      await new Promise((resolve) => socket.once("data", resolve));
    }
    conn.close();
    expect(Math.min(...gaps)).toBeLessThan(25);
  });
});

describe("TLS session resumption", () => {
  /** One request on a new connection; says whether its TLS session was resumed. */
  async function resumed(
    connector: TCPConnector,
    srv: Awaited<ReturnType<typeof startHttpsServer>>,
    connectorOptions: Record<string, unknown>,
  ): Promise<boolean> {
    const seen: boolean[] = [];
    const onSecure = (s: TLSSocket) => seen.push(s.isSessionReused());
    srv.server.on("secureConnection", onSecure);
    try {
      expect(await requestText(connector, srv.url(), { connectorOptions })).toBe("ok");
    } finally {
      srv.server.off("secureConnection", onSecure);
    }
    return seen[0] as boolean;
  }

  it("keeps the sessions of the 100 pool keys used last", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector({ forceClose: true });
    const verified = { ssl: { ca: srv.ca } };
    expect(await resumed(connector, srv, verified)).toBe(false);
    expect(await resumed(connector, srv, verified)).toBe(true);
    // 99 other keys: the verified key's session is among the last 100 and still resumes.
    for (let i = 0; i < 99; i++) await resumed(connector, srv, { ssl: false, serverHostname: `a${i}.test` });
    expect(await resumed(connector, srv, verified)).toBe(true);
    // 100 other keys after it: its session is gone.
    for (let i = 0; i < 100; i++) await resumed(connector, srv, { ssl: false, serverHostname: `b${i}.test` });
    expect(await resumed(connector, srv, verified)).toBe(false);
  });

  it("keeps no sessions of pinned connections, so they never push other keys' sessions out", async () => {
    await using srv = await startHttpsServer(ok);
    await using connector = new TCPConnector({ forceClose: true });
    const verified = { ssl: { ca: srv.ca } };
    expect(await resumed(connector, srv, verified)).toBe(false);
    const pin = new Fingerprint(srv.certificate.sha256);
    for (let i = 0; i < 101; i++) {
      expect(await resumed(connector, srv, { ssl: pin, serverHostname: `p${i}.test` })).toBe(false);
    }
    expect(await resumed(connector, srv, verified)).toBe(true);
  });
});
