import type { RequestListener, Server } from "node:http";
import { createServer } from "node:http";
import type { Socket } from "node:net";
import { ConnectorClosedError } from "@x/errors";
import { type Dispatcher, request } from "undici";
import { describe, expect, it } from "vitest";
import type { BaseConnectorOptions, ConnectRequest } from "../base-connector.js";

/** The surface a connector must have for {@link testConnector}: a Dispatcher plus aiohttp's pool API. */
export type TestableConnector = Dispatcher & PoolSurface;

/** aiohttp's connector API, as the suite uses it. */
export interface PoolSurface {
  readonly closed: boolean;
  readonly limit: number;
  readonly limitPerHost: number;
  readonly forceClose: boolean;
  readonly destroyed: boolean;
  connect(request: ConnectRequest): Promise<{
    readonly closed: boolean;
    readonly transport: Socket | null;
    release(): void;
    close(): void;
    detach(): void;
  }>;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/** What a factory returns: the connector under test and the base URL that reaches the server. */
export interface ConnectorUnderTest {
  connector: TestableConnector;
  /** e.g. `http://127.0.0.1:1234` for TCP, `http://localhost` for a Unix socket. */
  url: string;
}

/**
 * Makes `server` listen where the connector will reach it (a TCP port, a Unix path, …) and
 * returns a connector built with `options`.
 */
export type ConnectorFactory = (server: Server, options: BaseConnectorOptions) => Promise<ConnectorUnderTest>;

interface Harness extends AsyncDisposable {
  connector: TestableConnector;
  url(path?: string): string;
  /** Sockets the server accepted. */
  accepted(): number;
  /** Most sockets open at once. */
  maxOpen(): number;
  /** Sockets open now. */
  open(): number;
  /** Every request the server saw, in order of arrival. */
  paths: string[];
}

async function harness(
  factory: ConnectorFactory,
  options: BaseConnectorOptions,
  handler: RequestListener,
): Promise<Harness> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let maxOpen = 0;
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? "");
    handler(req, res);
  });
  server.keepAliveTimeout = 10_000;
  server.on("connection", (socket: Socket) => {
    accepted++;
    sockets.add(socket);
    maxOpen = Math.max(maxOpen, sockets.size);
    socket.on("close", () => sockets.delete(socket));
  });
  const { connector, url } = await factory(server, options);
  return {
    connector,
    url: (path = "/") => new URL(path, url).href,
    accepted: () => accepted,
    maxOpen: () => maxOpen,
    open: () => sockets.size,
    paths,
    async [Symbol.asyncDispose]() {
      await connector.destroy();
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const hello: RequestListener = (req, res) => {
  res.setHeader("content-type", "text/plain");
  res.end(`hello ${req.url}`);
};

async function get(
  h: Harness,
  path: string,
  extra: Partial<Dispatcher.RequestOptions> = {},
): Promise<string> {
  const res = await request(h.url(path), { dispatcher: h.connector, ...extra } as Parameters<
    typeof request
  >[1]);
  return res.body.text();
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * The conformance suite every connector must pass: the Dispatcher contract (`fetch`,
 * `undici.request`), keep-alive reuse, `limit`, `limitPerHost`, FIFO waiters, `forceClose`,
 * `connect()` with `release`/`close`/`detach`, and undici's `close()` (graceful) and `destroy()`
 * (abrupt), each leaving no socket open.
 *
 * Call it inside a vitest test file:
 * @example
 * testConnector("MyConnector", async (server, options) => {
 *   await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
 *   const { port } = server.address() as AddressInfo;
 *   return { connector: new MyConnector(options), url: `http://127.0.0.1:${port}` };
 * });
 */
export function testConnector(name: string, factory: ConnectorFactory): void {
  describe(`connector conformance: ${name}`, () => {
    it("serves fetch() and undici.request() as a Dispatcher", async () => {
      await using h = await harness(factory, {}, hello);
      const res = await fetch(h.url("/fetch"), { dispatcher: h.connector } as unknown as RequestInit);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("hello /fetch");
      expect(await get(h, "/request")).toBe("hello /request");
    });

    it("reuses one keep-alive connection for sequential requests", async () => {
      await using h = await harness(factory, {}, hello);
      for (let i = 0; i < 5; i++) expect(await get(h, `/${i}`)).toBe(`hello /${i}`);
      expect(h.accepted()).toBe(1);
    });

    it("never has more than `limit` connections open", async () => {
      await using h = await harness(factory, { limit: 3 }, (req, res) =>
        setTimeout(() => hello(req, res), 10),
      );
      expect(h.connector.limit).toBe(3);
      const bodies = await Promise.all(Array.from({ length: 30 }, (_, i) => get(h, `/${i}`)));
      expect(bodies[29]).toBe("hello /29");
      expect(h.maxOpen()).toBe(3);
    });

    it("applies `limitPerHost` to one endpoint", async () => {
      await using h = await harness(factory, { limit: 10, limitPerHost: 2 }, (req, res) =>
        setTimeout(() => hello(req, res), 10),
      );
      expect(h.connector.limitPerHost).toBe(2);
      await Promise.all(Array.from({ length: 12 }, (_, i) => get(h, `/${i}`)));
      expect(h.maxOpen()).toBe(2);
    });

    it("serves waiters first come, first served", async () => {
      let releaseFirst!: () => void;
      const gate = new Promise<void>((r) => (releaseFirst = r));
      await using h = await harness(factory, { limit: 1 }, (req, res) => {
        if (req.url === "/first") gate.then(() => hello(req, res));
        else hello(req, res);
      });
      const first = get(h, "/first");
      await until(() => h.paths.length === 1);
      const order: string[] = [];
      const rest = ["/a", "/b", "/c", "/d"].map((p) => get(h, p).then(() => order.push(p)));
      releaseFirst();
      await Promise.all([first, ...rest]);
      expect(h.paths).toEqual(["/first", "/a", "/b", "/c", "/d"]);
      expect(order).toEqual(["/a", "/b", "/c", "/d"]);
    });

    it("opens a new connection per request with `forceClose`", async () => {
      await using h = await harness(factory, { forceClose: true }, hello);
      expect(h.connector.forceClose).toBe(true);
      for (let i = 0; i < 3; i++) await get(h, `/${i}`);
      expect(h.accepted()).toBe(3);
      await until(() => h.open() === 0);
    });

    it("does not reuse a connection whose response was not read to the end", async () => {
      await using h = await harness(factory, {}, (req, res) => {
        if (req.url === "/big") {
          res.write(Buffer.alloc(64 * 1024, 1));
          setTimeout(() => res.end(Buffer.alloc(64 * 1024, 2)), 50);
        } else hello(req, res);
      });
      const ac = new AbortController();
      const res = await request(h.url("/big"), { dispatcher: h.connector, signal: ac.signal });
      ac.abort();
      await res.body.text().catch(() => {});
      expect(await get(h, "/next")).toBe("hello /next");
      expect(h.accepted()).toBe(2);
    });

    it("fails a queued request that is aborted, without disturbing the others", async () => {
      let releaseFirst!: () => void;
      const gate = new Promise<void>((r) => (releaseFirst = r));
      await using h = await harness(factory, { limit: 1 }, (req, res) => {
        if (req.url === "/hold") gate.then(() => hello(req, res));
        else hello(req, res);
      });
      const held = get(h, "/hold");
      await until(() => h.paths.length === 1);
      const ac = new AbortController();
      const queued = get(h, "/aborted", { signal: ac.signal });
      const after = get(h, "/after");
      ac.abort();
      await expect(queued).rejects.toThrow();
      releaseFirst();
      expect(await held).toBe("hello /hold");
      expect(await after).toBe("hello /after");
      expect(h.paths).toEqual(["/hold", "/after"]);
    });

    it("connect() hands out a Connection with a socket; release() pools it, close() does not", async () => {
      await using h = await harness(factory, {}, hello);
      const conn = await h.connector.connect({ url: h.url() });
      expect(conn.closed).toBe(false);
      expect(conn.transport).not.toBeNull();
      conn.release();
      expect(conn.closed).toBe(true);
      const again = await h.connector.connect({ url: h.url() });
      expect(h.accepted()).toBe(1);
      again.close();
      expect(again.closed).toBe(true);
      await until(() => h.open() === 0);
      const third = await h.connector.connect({ url: h.url() });
      expect(h.accepted()).toBe(2);
      third.close();
    });

    it("detach() frees the slot but leaves the socket to the caller", async () => {
      await using h = await harness(factory, { limit: 1 }, hello);
      const conn = await h.connector.connect({ url: h.url() });
      const socket = conn.transport!;
      conn.detach();
      expect(conn.closed).toBe(true);
      expect(socket.destroyed).toBe(false);
      // The slot is free even though the detached socket is still open.
      expect(await get(h, "/free")).toBe("hello /free");
      expect(h.open()).toBe(2);
      socket.destroy();
    });

    it("destroy() fails running and waiting requests, closes every socket, and refuses new requests", async () => {
      const h = await harness(factory, { limit: 1 }, (req, res) => {
        if (req.url === "/idle") hello(req, res);
        // "/busy" never answers.
      });
      await get(h, "/idle");
      const busy = get(h, "/busy").catch((err: unknown) => err);
      await until(() => h.paths.length === 2);
      const waiting = get(h, "/waiting").catch((err: unknown) => err);
      await h.connector.destroy();
      expect(h.connector.destroyed).toBe(true);
      // undici's contract: requests in flight fail with ClientDestroyedError.
      expect(await busy).toMatchObject({ code: "UND_ERR_DESTROYED" });
      expect(await waiting).toMatchObject({ code: "UND_ERR_DESTROYED" });
      await expect(get(h, "/late")).rejects.toMatchObject({ code: "UND_ERR_DESTROYED" });
      await expect(h.connector.connect({ url: h.url() })).rejects.toBeInstanceOf(ConnectorClosedError);
      await until(() => h.open() === 0);
      await h[Symbol.asyncDispose]();
    });

    it("close() lets running and waiting requests finish, refuses new ones, then closes every socket", async () => {
      let answer!: () => void;
      const gate = new Promise<void>((r) => (answer = r));
      await using h = await harness(factory, { limit: 1 }, (req, res) => {
        if (req.url === "/busy") gate.then(() => hello(req, res));
        else hello(req, res);
      });
      const busy = get(h, "/busy");
      await until(() => h.paths.length === 1);
      const waiting = get(h, "/waiting");
      const closing = h.connector.close();
      expect([h.connector.closed, h.connector.destroyed]).toEqual([true, false]);
      await expect(get(h, "/late")).rejects.toMatchObject({ code: "UND_ERR_CLOSED" });
      answer();
      expect([await busy, await waiting]).toEqual(["hello /busy", "hello /waiting"]);
      await closing;
      expect([h.connector.closed, h.connector.destroyed]).toEqual([true, true]);
      expect(h.paths).toEqual(["/busy", "/waiting"]);
      await until(() => h.open() === 0);
    });

    it("close() called twice at once resolves both; once it has finished, close() rejects", async () => {
      await using h = await harness(factory, {}, hello);
      await get(h, "/");
      await Promise.all([h.connector.close(), h.connector.close()]);
      expect(h.connector.closed).toBe(true);
      await expect(h.connector.close()).rejects.toMatchObject({ code: "UND_ERR_DESTROYED" });
      await h.connector.destroy();
    });
  });
}
