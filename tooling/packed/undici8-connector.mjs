// undici 8 hands requests to TCPConnector (packed.mjs runs this on Node 24 and 26, in a project
// with undici@8 beside our packages, and again in one whose overrides put our packages on undici 8):
//   a. TCPConnector as the `dispatcher` of undici 8's request, fetch, stream and pipeline;
//   b. TCPConnector composed with undici 8's interceptors (retry, redirect, dns, responseError,
//      decompress, cache): each result must equal what undici 8's own Agent gives under the same
//      interceptor;
//   c. on a Node that bundles undici 8 (26): Node's global fetch with `dispatcher: connector`.
import { createRequire } from "node:module";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { TCPConnector } from "@x/connector";
import * as undici from "undici";
import { CheckFailure, check, done, expectEqual, startOrigin } from "./undici8-harness.mjs";

const require = createRequire(import.meta.url);
const undiciVersion = require("undici/package.json").version;
const connectorUndici = createRequire(fileURLToPath(import.meta.resolve("@x/connector")))(
  "undici/package.json",
).version;

await check("environment: undici 8 installed", async () => {
  if (!undiciVersion.startsWith("8."))
    throw new CheckFailure(`"undici" resolves to ${undiciVersion}, not 8.x`);
  // packed.mjs sets it in the overrides project, where the connector itself must run on undici 8.
  const expected = process.env.X_EXPECT_CONNECTOR_UNDICI;
  if (expected && !connectorUndici.startsWith(`${expected}.`))
    throw new CheckFailure(`@x/connector's undici is ${connectorUndici}, not ${expected}.x`);
  return `node ${process.version}, undici ${undiciVersion}, @x/connector's undici ${connectorUndici}, Node's bundled undici ${process.versions.undici}`;
});

const server = await startOrigin();
const { origin } = server;

/** A TCPConnector whose dispatch() calls are recorded (path and handler style), unchanged otherwise. */
function spiedConnector() {
  const connector = new TCPConnector();
  const calls = [];
  const dispatch = connector.dispatch;
  connector.dispatch = function (opts, handler) {
    calls.push({
      path: opts.path,
      style: typeof handler.onRequestStart === "function" ? "controller" : "legacy",
    });
    return dispatch.call(this, opts, handler);
  };
  return { connector, calls };
}
const styles = (calls) => [...new Set(calls.map((c) => c.style))].join("+") || "none";

// a. undici 8's API functions with the connector as dispatcher.
const api = {
  async request(dispatcher) {
    const res = await undici.request(`${origin}/hello/request`, { dispatcher });
    return { status: res.statusCode, body: await res.body.text() };
  },
  async fetch(dispatcher) {
    const res = await undici.fetch(`${origin}/hello/fetch`, { dispatcher });
    return { status: res.status, body: await res.text() };
  },
  async stream(dispatcher) {
    const chunks = [];
    let status;
    await undici.stream(`${origin}/hello/stream`, { dispatcher }, ({ statusCode }) => {
      status = statusCode;
      return new Writable({
        write(chunk, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      });
    });
    return { status, body: Buffer.concat(chunks).toString() };
  },
  async pipeline(dispatcher) {
    let status;
    const duplex = undici.pipeline(
      `${origin}/echo`,
      { dispatcher, method: "POST" },
      ({ statusCode, body }) => {
        status = statusCode;
        return body;
      },
    );
    duplex.end("ping");
    const chunks = [];
    for await (const chunk of duplex) chunks.push(chunk);
    return { status, body: Buffer.concat(chunks).toString() };
  },
};
const apiExpected = {
  request: { status: 200, body: "hello /hello/request" },
  fetch: { status: 200, body: "hello /hello/fetch" },
  stream: { status: 200, body: "hello /hello/stream" },
  pipeline: { status: 200, body: "echo: ping" },
};
for (const [name, call] of Object.entries(api)) {
  await check(`undici.${name}() with dispatcher: TCPConnector`, async () => {
    const { connector, calls } = spiedConnector();
    try {
      expectEqual(await call(connector), apiExpected[name], name);
      if (calls.length === 0) throw new CheckFailure("the connector's dispatch() was never called");
      return `${calls.length} dispatch, ${styles(calls)} handler`;
    } finally {
      await connector.close();
    }
  });
}

// b. interceptors: the connector composed with each must give what undici 8's Agent gives.
const lookup = (origin, _opts, cb) =>
  origin.hostname === "x-packed.test"
    ? cb(null, [{ address: "127.0.0.1", family: 4, ttl: 60_000 }])
    : cb(Object.assign(new Error(`unexpected lookup of ${origin.hostname}`), { code: "ENOTFOUND" }));
const { interceptors, cacheStores } = undici;
const interceptorCases = {
  retry: {
    make: () =>
      interceptors.retry({
        maxRetries: 3,
        minTimeout: 1,
        maxTimeout: 10,
        timeoutFactor: 1,
        statusCodes: [503],
      }),
    run: async (d, k) => {
      const res = await undici.request(`${origin}/flaky?k=${k}`, { dispatcher: d });
      return { status: res.statusCode, body: await res.body.text() };
    },
    expected: { status: 200, body: "ok after 3 attempts" },
  },
  redirect: {
    make: () => interceptors.redirect({ maxRedirections: 3 }),
    run: async (d) => {
      const res = await undici.request(`${origin}/redirect`, { dispatcher: d });
      return { status: res.statusCode, body: await res.body.text() };
    },
    expected: { status: 200, body: "target reached" },
  },
  dns: {
    make: () => interceptors.dns({ lookup, dualStack: false, affinity: 4 }),
    run: async (d) => {
      const res = await undici.request(`http://x-packed.test:${server.port}/host`, { dispatcher: d });
      return { status: res.statusCode, body: await res.body.text() };
    },
    expected: { status: 200, body: `x-packed.test:${server.port}` },
  },
  responseError: {
    make: () => interceptors.responseError(),
    run: async (d) => {
      try {
        const res = await undici.request(`${origin}/status/404`, { dispatcher: d });
        return { resolved: res.statusCode, body: await res.body.text() };
      } catch (err) {
        return {
          name: err.name,
          code: err.code,
          statusCode: err.statusCode,
          message: err.message,
          body: err.body,
        };
      }
    },
    expected: undefined, // whatever undici 8's Agent gives (a ResponseError with statusCode 404)
    validate: (r) => {
      if (r.statusCode !== 404 || !/ResponseError/.test(r.name))
        throw new CheckFailure(`not a 404 ResponseError: ${JSON.stringify(r)}`);
    },
  },
  decompress: {
    make: () => interceptors.decompress(),
    run: async (d) => {
      const res = await undici.request(`${origin}/gzip`, { dispatcher: d });
      return {
        status: res.statusCode,
        contentEncoding: res.headers["content-encoding"] ?? null,
        body: await res.body.text(),
      };
    },
    expected: undefined,
    validate: (r) => {
      if (r.body !== "hello gzip") throw new CheckFailure(`body not decoded: ${JSON.stringify(r)}`);
    },
  },
  cache: {
    make: () => interceptors.cache({ store: new cacheStores.MemoryCacheStore() }),
    run: async (d, k) => {
      const bodies = [];
      for (let i = 0; i < 2; i++) {
        const res = await undici.request(`${origin}/cached?k=${k}`, { dispatcher: d });
        bodies.push(await res.body.text());
      }
      return { bodies, originHits: server.counts.get(`cached:${k}`) ?? 0 };
    },
    expected: { bodies: ["hit 1", "hit 1"], originHits: 1 },
  },
};
for (const [name, c] of Object.entries(interceptorCases)) {
  await check(
    `interceptors.${name}(): TCPConnector.compose() gives what undici 8's Agent gives`,
    async () => {
      const agent = new undici.Agent().compose(c.make());
      let reference;
      try {
        reference = await c.run(agent, `agent-${name}`);
      } finally {
        await agent.close();
      }
      if (c.expected !== undefined) expectEqual(reference, c.expected, "undici 8's Agent (the reference)");
      c.validate?.(reference);
      const { connector, calls } = spiedConnector();
      const composed = connector.compose(c.make());
      try {
        const got = await c.run(composed, `connector-${name}`);
        expectEqual(got, reference, "TCPConnector vs undici 8's Agent");
        if (calls.length === 0) throw new CheckFailure("the connector's dispatch() was never called");
        return `${JSON.stringify(got)}; ${calls.length} dispatch, ${styles(calls)} handler`;
      } finally {
        await connector.close();
      }
    },
  );
}

// c. Node's own fetch, where Node bundles undici 8.
if (Number(process.versions.undici?.split(".")[0]) >= 8) {
  await check(
    `Node's global fetch (bundled undici ${process.versions.undici}) with dispatcher: TCPConnector`,
    async () => {
      const { connector, calls } = spiedConnector();
      try {
        const res = await fetch(`${origin}/hello/global`, { dispatcher: connector });
        expectEqual(
          { status: res.status, body: await res.text() },
          { status: 200, body: "hello /hello/global" },
          "fetch",
        );
        if (calls.length === 0) throw new CheckFailure("the connector's dispatch() was never called");
        return `${calls.length} dispatch, ${styles(calls)} handler`;
      } finally {
        await connector.close();
      }
    },
  );
}

server.close();
done();
