import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { cookieHeader } from "@x/cookies";
import { testCookieJar } from "@x/cookies/testing";
import { ClientConnectionError, ClientError } from "@x/errors";
import { type RedisServer, router, startHttpServer, startRedis } from "@x/fixtures";
import { ClientSession } from "@x/session";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisClient, RedisCookieJar } from "../src/index.js";

// Every test here talks to a real redis-server (Debian's), started on a free loopback port.

let redis: RedisServer;
let client: RedisClient;

function connectClient(url: string): Promise<RedisClient> {
  const c = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 50 } });
  c.on("error", () => {
    // Failures reach the operations; the test asserts on those.
  });
  return c.connect();
}

beforeAll(async () => {
  redis = await startRedis();
  client = await connectClient(redis.url);
});

afterAll(async () => {
  client?.destroy();
  await redis?.close();
});

let run = 0;
testCookieJar(
  "RedisCookieJar",
  (options) => new RedisCookieJar({ client, prefix: `conformance:${run++}:`, ...options }),
);

describe("stored the way a Redis user expects", () => {
  it("a key per cookie holding its JSON record, with the cookie's expiry as the key's TTL, and a set per domain", async () => {
    const jar = new RedisCookieJar({ client, prefix: "layout:" });
    await jar.updateCookiesFromHeaders(
      ["sid=abc; Path=/; HttpOnly", "pref=dark; Path=/app; Max-Age=60"],
      new URL("https://app.example.com/login"),
    );
    expect((await client.keys("layout:*")).sort()).toEqual([
      "layout:app.example.com/;sid",
      "layout:app.example.com/app;pref",
      "layout:index:app.example.com",
    ]);
    expect(JSON.parse((await client.get("layout:app.example.com/;sid"))!)).toMatchObject({
      name: "sid",
      value: "abc",
      domain: "app.example.com",
      path: "/",
      httpOnly: true,
      hostOnly: true,
      expires: null,
    });
    expect(await client.pTTL("layout:app.example.com/;sid")).toBe(-1);
    const ttl = await client.pTTL("layout:app.example.com/app;pref");
    expect(ttl).toBeGreaterThan(58_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect((await client.sMembers("layout:index:app.example.com")).sort()).toEqual([
      "layout:app.example.com/;sid",
      "layout:app.example.com/app;pref",
    ]);
    // The index holds a session cookie, so it does not expire.
    expect(await client.pTTL("layout:index:app.example.com")).toBe(-1);
  });

  it("Redis itself removes a cookie when it expires, and an index once all its cookies have", async () => {
    const jar = new RedisCookieJar({ client, prefix: "ttl:" });
    await jar.updateCookiesFromHeaders(["brief=1; Max-Age=1"], new URL("https://example.org/"));
    expect(await client.exists(["ttl:example.org/;brief", "ttl:index:example.org"])).toBe(2);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await client.keys("ttl:*")).toEqual([]);
  });

  it("a response's cookies are written as one: a concurrent reader never sees half of them", async () => {
    const jar = new RedisCookieJar({ client, prefix: "atomic:" });
    const reader = new RedisCookieJar({ client: await connectClient(redis.url), prefix: "atomic:" });
    const url = new URL("https://example.com/");
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 300; i++) await jar.updateCookiesFromHeaders([`a=${i}`, `b=${i}`, `c=${i}`], url);
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const sent = await reader.filterCookies(url);
      const values = new Set([...sent.values()].map((c) => c.value));
      expect(values.size).toBeLessThanOrEqual(1);
      reads++;
    }
    await writer;
    expect(reads).toBeGreaterThan(10);
  });
});

describe("when Redis goes away", () => {
  it("fails with a ClientConnectionError whose cause is Redis's error, and works again once Redis is back", async () => {
    const jar = new RedisCookieJar({ client, prefix: "outage:" });
    const url = new URL("https://example.com/");
    await jar.updateCookiesFromHeaders(["sid=1"], url);
    await redis.stop();
    const reading = await Promise.resolve(jar.filterCookies(url)).catch((e: unknown) => e);
    expect(reading).toBeInstanceOf(ClientConnectionError);
    expect(reading).toBeInstanceOf(ClientError);
    expect((reading as Error).message).toMatch(
      /^cookie store unavailable: Redis failed while reading cookies/,
    );
    expect((reading as Error).cause).toBeInstanceOf(Error);
    expect((reading as Error).cause).not.toBeInstanceOf(ClientError);
    const writing = await Promise.resolve(jar.updateCookiesFromHeaders(["sid=2"], url)).catch(
      (e: unknown) => e,
    );
    expect(writing).toBeInstanceOf(ClientConnectionError);
    expect((writing as Error).message).toMatch(/while storing cookies/);
    const listing = await (async () => {
      for await (const _ of jar) return "listed";
    })().catch((e: unknown) => e);
    expect(listing).toBeInstanceOf(ClientConnectionError);

    await redis.start();
    if (!client.isReady) await once(client, "ready");
    await jar.updateCookiesFromHeaders(["sid=3"], url);
    expect(cookieHeader(await jar.filterCookies(url))).toBe("sid=3");
  });

  it("through a session: the request fails with the jar's ClientError, nothing half-written, and the next one works", async () => {
    let hits = 0;
    let stopBeforeAnswering = false;
    await using server = await startHttpServer(async (req, res) => {
      hits++;
      // Redis goes away while this response is on its way: storing its cookies must fail.
      if (stopBeforeAnswering) await redis.stop();
      res.setHeader("set-cookie", [`a=${hits}; Path=/`, `b=${hits}; Path=/`]);
      res.end(req.headers.cookie ?? "");
    });
    const jar = new RedisCookieJar({ client, prefix: "outage-session:", unsafe: true });
    await using session = new ClientSession({ cookieJar: jar });
    expect(await (await session.get(server.url("/"))).text()).toBe("");
    expect(await (await session.get(server.url("/"))).text()).toBe("a=1; b=1");
    stopBeforeAnswering = true;
    const storing = await session.get(server.url("/")).catch((e: unknown) => e);
    expect(storing).toBeInstanceOf(ClientConnectionError);
    expect((storing as Error).message).toMatch(
      /^cookie store unavailable: Redis failed while storing cookies/,
    );
    expect((storing as Error).cause).toBeInstanceOf(Error);
    stopBeforeAnswering = false;
    // With Redis still away, asking the jar for cookies fails before anything is sent.
    const reading = await session.get(server.url("/")).catch((e: unknown) => e);
    expect(reading).toBeInstanceOf(ClientConnectionError);
    expect(hits).toBe(3);
    await redis.start();
    if (!client.isReady) await once(client, "ready");
    // This redis-server keeps nothing across a restart: the store is empty, not half of a response.
    expect(await (await session.get(server.url("/"))).text()).toBe("");
    expect(await (await session.get(server.url("/"))).text()).toBe("a=4; b=4");
  });
});

describe("four processes share one login through Redis", () => {
  const worker = fileURLToPath(new URL("./cookie-worker.ts", import.meta.url));
  const root = fileURLToPath(new URL("../../..", import.meta.url));
  const tsx = pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;

  interface Reply {
    status: number;
    body: string;
    sent: string;
    error?: string;
  }

  function startWorker(origin: string, prefix: string): Promise<ChildProcess> {
    const child = fork(worker, [redis.url, prefix, origin], {
      execArgv: ["--import", tsx, "--conditions=@x/source"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    return new Promise((resolve, reject) => {
      child.once("message", () => resolve(child));
      child.once("exit", (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
    });
  }

  let nextId = 0;
  function ask(child: ChildProcess, path: string): Promise<Reply> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const onMessage = (msg: Reply & { id: number }) => {
        if (msg.id !== id) return;
        child.off("message", onMessage);
        if (msg.error) reject(new Error(msg.error));
        else resolve(msg);
      };
      child.on("message", onMessage);
      child.send({ id, path });
    });
  }

  it("one logs in, the others are let in; a logout and an expiry are seen by all four", async () => {
    let session: string | undefined;
    const cookiesSeen: string[] = [];
    await using server = await startHttpServer(
      router({
        "/login": (_req, res) => {
          session = `s${Math.random().toString(36).slice(2)}`;
          res.setHeader("set-cookie", `sid=${session}; Path=/; HttpOnly`);
          res.end("welcome");
        },
        "/me": (req, res) => {
          cookiesSeen.push(req.headers.cookie ?? "");
          const sid = /(?:^|; )sid=([^;]*)/.exec(req.headers.cookie ?? "")?.[1];
          res.statusCode = session !== undefined && sid === session ? 200 : 401;
          res.end(res.statusCode === 200 ? "in" : "out");
        },
        "/logout": (_req, res) => {
          session = undefined;
          res.setHeader("set-cookie", "sid=; Path=/; Max-Age=0");
          res.end("bye");
        },
        "/flash": (_req, res) => {
          res.setHeader("set-cookie", "flash=hello; Path=/; Max-Age=1");
          res.end("flashed");
        },
        "/seen": (req, res) => res.end(req.headers.cookie ?? ""),
      }),
    );
    const prefix = "workers:";
    const workers = await Promise.all([0, 1, 2, 3].map(() => startWorker(server.origin, prefix)));
    try {
      const all = async (path: string) => Promise.all(workers.map((w) => ask(w, path)));

      expect((await all("/me")).map((r) => r.status)).toEqual([401, 401, 401, 401]);

      const login = await ask(workers[0]!, "/login");
      expect(login.status).toBe(200);
      const others = await Promise.all(workers.slice(1).map((w) => ask(w, "/me")));
      expect(others.map((r) => [r.status, r.sent])).toEqual(
        others.map(() => [200, `sid=${/sid=([^;]*)/.exec(cookiesSeen.at(-1)!)![1]}`]),
      );
      expect(new Set(others.map((r) => r.sent)).size).toBe(1);

      expect((await ask(workers[2]!, "/logout")).status).toBe(200);
      cookiesSeen.length = 0;
      const after = await all("/me");
      expect(after.map((r) => [r.status, r.sent])).toEqual([
        [401, ""],
        [401, ""],
        [401, ""],
        [401, ""],
      ]);
      expect(cookiesSeen).toEqual(["", "", "", ""]);
      expect(await client.keys(`${prefix}*`)).toEqual([]);

      expect((await ask(workers[3]!, "/flash")).status).toBe(200);
      expect((await all("/seen")).map((r) => r.body)).toEqual([
        "flash=hello",
        "flash=hello",
        "flash=hello",
        "flash=hello",
      ]);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await all("/seen")).map((r) => r.body)).toEqual(["", "", "", ""]);
    } finally {
      await Promise.all(
        workers.map(async (w) => {
          if (w.exitCode !== null || w.signalCode !== null) return;
          const exited = once(w, "exit");
          w.send({ exit: true });
          const timer = setTimeout(() => w.kill("SIGKILL"), 5000);
          await exited;
          clearTimeout(timer);
        }),
      );
    }
  }, 60_000);
});
