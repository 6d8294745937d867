import { createHook } from "node:async_hooks";
import { getEventListeners } from "node:events";
import type { ServerResponse } from "node:http";
import { TCPConnector } from "@x/connector";
import { ClientConnectorError, ClientOSError, ServerDisconnectedError } from "@x/errors";
import { closedPort, sleep, startHttpServer, startRawServer } from "@x/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClientResponse, ClientSession } from "../src/index.js";

/**
 * A call owns a total-timeout timer and one listener on the caller's AbortSignal, and gives both
 * up when the response it returned closes, whoever produced it — or at once when it fails.
 */

const TOTAL = 60_000;
const CALLS = 1000;

// Timers of exactly TOTAL ms alive right now — the calls' total timers, unref'd or not
// (process.getActiveResourcesInfo() does not list unref'd timers, and a call unrefs its timer
// once the caller holds the response).
const totalTimers = new Set<number>();
const hook = createHook({
  init(id, type, _trigger, resource) {
    if (type === "Timeout" && (resource as { _idleTimeout?: number })._idleTimeout === TOTAL)
      totalTimers.add(id);
  },
  destroy(id) {
    totalTimers.delete(id);
  },
});
beforeAll(() => {
  hook.enable();
});
afterAll(() => {
  hook.disable();
});

const activeTimeouts = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
const abortListeners = (signal: AbortSignal) => getEventListeners(signal, "abort").length;

/** Lets promise callbacks, socket closes and queued async_hooks destroy callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface Kind {
  name: string;
  setup(): Promise<{
    session: ClientSession;
    /** One call with the caller's options; resolves once it has fully settled. */
    call(options: { signal: AbortSignal; timeout: { total: number } }): Promise<void>;
    close(): Promise<void>;
  }>;
}

const kinds: Kind[] = [
  {
    name: "from the wire, body read",
    setup: async () => {
      const srv = await startHttpServer((_req, res) => res.end("hello"));
      const session = new ClientSession();
      return {
        session,
        call: async (options) => {
          const resp = await session.get(srv.url("/"), options);
          expect(await resp.text()).toBe("hello");
        },
        close: async () => {
          await session.close();
          await srv.close();
        },
      };
    },
  },
  {
    name: "from a middleware that answers without calling next",
    setup: async () => {
      const srv = await startHttpServer((_req, res) => res.end("cached"));
      const session = new ClientSession();
      // A response obtained earlier from another call, its body already read.
      const cached: ClientResponse = await session.get(srv.url("/"));
      expect(await cached.text()).toBe("cached");
      const answering = new ClientSession({ middlewares: [async () => cached] });
      return {
        session: answering,
        call: async (options) => {
          const resp = await answering.get("http://never.invalid/", options);
          expect(resp).toBe(cached);
        },
        close: async () => {
          await answering.close();
          await session.close();
          await srv.close();
        },
      };
    },
  },
  {
    name: "from a middleware that throws",
    setup: async () => {
      const boom = new Error("middleware failed");
      const session = new ClientSession({
        middlewares: [
          async () => {
            throw boom;
          },
        ],
      });
      return {
        session,
        call: async (options) => {
          await expect(session.get("http://never.invalid/", options)).rejects.toBe(boom);
        },
        close: () => session.close(),
      };
    },
  },
  {
    name: "failing on the wire: connection refused",
    setup: async () => {
      const port = await closedPort();
      const session = new ClientSession();
      return {
        session,
        call: async (options) => {
          await expect(session.get(`http://127.0.0.1:${port}/`, options)).rejects.toBeInstanceOf(
            ClientConnectorError,
          );
        },
        close: () => session.close(),
      };
    },
  },
  {
    name: "failing on the wire: the server resets",
    setup: async () => {
      const raw = await startRawServer(async (conn) => {
        await conn.readHead();
        conn.reset();
      });
      const session = new ClientSession();
      return {
        session,
        call: async (options) => {
          const err = await session.get(raw.url("/"), options).catch((e: unknown) => e);
          expect(err instanceof ServerDisconnectedError || err instanceof ClientOSError, String(err)).toBe(
            true,
          );
        },
        close: async () => {
          await session.close();
          await raw.close();
        },
      };
    },
  },
];

describe("a call leaves no timer and no abort listener behind", () => {
  it("its total timer and its signal listener live exactly as long as the response it returned", async () => {
    // The counters the loops below rely on can see a leak: a response still streaming holds both.
    const ends: Array<() => void> = [];
    await using srv = await startHttpServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("part-");
      ends.push(() => res.end("end"));
    });
    await using session = new ClientSession();
    const signal = new AbortController().signal;
    await settle();
    const baseline = totalTimers.size;
    expect(abortListeners(signal)).toBe(0);

    const read = await session.get(srv.url("/"), { signal, timeout: { total: TOTAL } });
    await settle();
    expect(totalTimers.size).toBe(baseline + 1);
    expect(abortListeners(signal)).toBe(1);
    ends.shift()?.();
    expect(await read.text()).toBe("part-end");
    await settle();
    expect(totalTimers.size).toBe(baseline);
    expect(abortListeners(signal)).toBe(0);

    // Released unread: closed all the same.
    const dropped = await session.get(srv.url("/"), { signal, timeout: { total: TOTAL } });
    await settle();
    expect(totalTimers.size).toBe(baseline + 1);
    expect(abortListeners(signal)).toBe(1);
    dropped.release();
    await settle();
    expect(totalTimers.size).toBe(baseline);
    expect(abortListeners(signal)).toBe(0);
  });

  it.each(kinds)(`after ${CALLS} calls $name`, async (kind) => {
    const env = await kind.setup();
    try {
      const signal = new AbortController().signal;
      const options = { signal, timeout: { total: TOTAL } };
      // Warm up (first connection, lazy state), then take the baseline.
      await env.call(options);
      await settle();
      const baseline = { active: activeTimeouts(), total: totalTimers.size };
      expect(abortListeners(signal)).toBe(0);
      let peakListeners = 0;
      for (let i = 0; i < CALLS; i++) {
        const pending = env.call(options);
        peakListeners = Math.max(peakListeners, abortListeners(signal));
        await pending;
      }
      await settle();
      expect(abortListeners(signal)).toBe(0);
      // Measured while each call was in flight: one listener, never more.
      expect(peakListeners).toBe(1);
      expect(totalTimers.size).toBe(baseline.total);
      // Ref'd timers of anyone (the test runner's included) may only have gone away since.
      expect(activeTimeouts()).toBeLessThanOrEqual(baseline.active);
    } finally {
      await env.close();
    }
  });
});

describe("one AbortSignal shared by 10,000 concurrent calls", () => {
  const N = 10_000;

  it("still aborts the calls left running after another call on it has finished", async () => {
    const held: ServerResponse[] = [];
    await using srv = await startHttpServer((req, res) => {
      if (req.url === "/slow") held.push(res);
      else res.end("quick");
    });
    await using session = new ClientSession();
    const controller = new AbortController();
    const signal = controller.signal;
    const slow = session.get(srv.url("/slow"), { signal }).then(
      () => "resolved",
      (err: unknown) => err,
    );
    expect(await (await session.get(srv.url("/quick"), { signal })).text()).toBe("quick");
    await settle();
    // The finished call let go of its watch; the slow one still holds the one listener.
    expect(abortListeners(signal)).toBe(1);
    const reason = new Error("stop the slow one");
    controller.abort(reason);
    expect(await slow).toBe(reason);
    expect(abortListeners(signal)).toBe(0);
  });

  it("carries one abort listener while they run, none after, and no MaxListenersExceededWarning", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    const controller = new AbortController();
    const signal = controller.signal;
    let seenByServer = 0;
    let maxListeners = 0;
    await using srv = await startHttpServer((_req, res) => {
      // Sampled while calls are in flight: every request the server sees is one of them.
      maxListeners = Math.max(maxListeners, abortListeners(signal));
      seenByServer++;
      setTimeout(() => res.end("ok"), 2);
    });
    await using session = new ClientSession();
    try {
      const calls: Array<Promise<string>> = [];
      for (let i = 0; i < N; i++) calls.push(session.get(srv.url(`/${i}`), { signal }).then((r) => r.text()));
      expect(abortListeners(signal)).toBe(1);
      const bodies = await Promise.all(calls);
      expect(bodies.every((b) => b === "ok")).toBe(true);
      expect(seenByServer).toBe(N);
      expect(maxListeners).toBe(1);
      await settle();
      expect(abortListeners(signal)).toBe(0);
      await sleep(10); // emitWarning reports on a later tick
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  }, 120_000);

  it("aborting it mid-flight fails every call with the signal's reason", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    const held: ServerResponse[] = [];
    await using srv = await startHttpServer((_req, res) => {
      // Held: no call can finish before the abort.
      held.push(res);
    });
    await using session = new ClientSession({ connector: new TCPConnector({ limit: 100 }) });
    const controller = new AbortController();
    const signal = controller.signal;
    const reason = new Error("shared signal aborted");
    try {
      const outcomes: Array<Promise<unknown>> = [];
      for (let i = 0; i < N; i++) {
        outcomes.push(
          session.get(srv.url(`/${i}`), { signal }).then(
            () => "resolved",
            (err: unknown) => err,
          ),
        );
      }
      expect(abortListeners(signal)).toBe(1);
      // Mid-flight: the pool's connections are all busy on the server, the rest wait for one.
      const until = Date.now() + 20_000;
      while (held.length < 100 && Date.now() < until) await sleep(5);
      expect(held.length).toBe(100);
      controller.abort(reason);
      const results = await Promise.all(outcomes);
      expect(results.filter((r) => r !== reason)).toEqual([]);
      await settle();
      expect(abortListeners(signal)).toBe(0);
      await sleep(10);
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  }, 120_000);
});
