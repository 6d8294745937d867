// ClientSession with undici 8 dispatchers as its connector (packed.mjs runs this on Node 24 and 26
// in a project with undici@8 beside our packages, which keep undici 7 for themselves).
// Each of Agent, Pool, Client, MockAgent, ProxyAgent, EnvHttpProxyAgent, RetryAgent and an Agent
// composed with interceptors must: follow a redirect, keep a cookie, send BasicAuth, read a chunked
// body as it streams, fail a total timeout with @x/errors' TimeoutError, and fail an aborted request
// with the signal's reason. What a foreign dispatcher cannot do (websockets, `proxy:`, expect100)
// must be refused with @x/errors' InvalidArgumentError, with nothing sent anywhere.
import { createRequire } from "node:module";
import { BasicAuth } from "@x/auth";
import { CookieJar } from "@x/cookies";
import { ClientError, InvalidArgumentError, TimeoutError } from "@x/errors";
import { ClientSession } from "@x/session";
import * as undici from "undici";
import {
  BASIC,
  CheckFailure,
  check,
  describe,
  done,
  expectEqual,
  headerValue,
  STREAM_CHUNKS,
  startOrigin,
  startProxy,
} from "./undici8-harness.mjs";

const undiciVersion = createRequire(import.meta.url)("undici/package.json").version;
await check("environment: undici 8 beside @x/session", async () => {
  if (!undiciVersion.startsWith("8."))
    throw new CheckFailure(`"undici" resolves to ${undiciVersion}, not 8.x`);
  return `node ${process.version}, undici ${undiciVersion}`;
});

const server = await startOrigin();
const proxy = await startProxy();
const { interceptors } = undici;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Settles with the error, or fails when `promise` resolves. */
const rejection = (promise, what) =>
  promise.then(
    () => {
      throw new CheckFailure(`${what} resolved instead of failing`);
    },
    (err) => err,
  );
const newSession = (connector, extra = {}) =>
  new ClientSession({ connector, cookieJar: new CookieJar({ unsafe: true }), ...extra });
const closeWithin = (session, ms = 2000) => Promise.race([session.close().catch(() => {}), sleep(ms)]);

// The six behaviours every dispatcher must support; `base` is the origin requests go to.
const behaviours = {
  "follows a redirect": async (s, base) => {
    const resp = await s.get(`${base}/redirect`);
    const got = {
      status: resp.status,
      path: resp.url.pathname,
      history: resp.history.map((r) => r.status),
      body: await resp.text(),
    };
    expectEqual(got, { status: 200, path: "/target", history: [302], body: "target reached" }, "redirect");
  },
  "keeps a cookie": async (s, base) => {
    await (await s.get(`${base}/set-cookie`)).read();
    expectEqual(await (await s.get(`${base}/echo-cookie`)).text(), "sid=s1", "the Cookie sent back");
  },
  "sends auth: new BasicAuth(…)": async (s, base) => {
    const resp = await s.get(`${base}/private`, { auth: new BasicAuth("ada", "lovelace") });
    await resp.read();
    expectEqual(resp.status, 200, "status of /private");
  },
  "reads a chunked body as it streams": async (s, base) => {
    const resp = await s.get(`${base}/stream`);
    let text = "";
    let pieces = 0;
    for await (const chunk of resp.content) {
      text += chunk;
      pieces++;
    }
    expectEqual(
      { transferEncoding: resp.headers.get("transfer-encoding"), text },
      { transferEncoding: "chunked", text: STREAM_CHUNKS.join("") },
      "streamed body",
    );
    return `${pieces} piece(s)`;
  },
  "timeout: { total: 200 } → TimeoutError": async (s, base, hits) => {
    const before = hits("/slow");
    const t0 = performance.now();
    const err = await rejection(
      s.get(`${base}/slow`, { timeout: { total: 200 } }).then((r) => r.text()),
      "the slow request",
    );
    const ms = Math.round(performance.now() - t0);
    if (!(err instanceof TimeoutError))
      throw new CheckFailure(`after ${ms} ms: not @x/errors' TimeoutError but ${describe(err)}`, err);
    if (ms > 1500) throw new CheckFailure(`${err.name} only after ${ms} ms`);
    if (hits("/slow") === before)
      throw new CheckFailure(`${err.name}, but the request never reached the server`);
    return `${err.name} after ${ms} ms`;
  },
  "AbortSignal → the abort reason": async (s, base, hits) => {
    const before = hits("/slow");
    const controller = new AbortController();
    const reason = new Error("the user gave up");
    setTimeout(() => controller.abort(reason), 100);
    const err = await rejection(
      s.get(`${base}/slow`, { signal: controller.signal }).then((r) => r.text()),
      "the aborted request",
    );
    if (err !== reason)
      throw new CheckFailure(`rejected with ${describe(err)}, not the signal's reason`, err);
    if (hits("/slow") === before) throw new CheckFailure("aborted, but the request never reached the server");
  },
};

/** `hits(path)`: how many requests for `path` reached the server (or the mock) so far. */
async function runBehaviours(label, session, base, hits) {
  for (const [name, fn] of Object.entries(behaviours)) {
    await check(`ClientSession({ connector: ${label} }): ${name}`, () => fn(session, base, hits));
  }
}
const serverHits = (path) => server.seen.filter((line) => line === `GET ${path}`).length;

// Real dispatchers, against the origin server (directly, or through the local proxy).
const lookup = (origin, _opts, cb) =>
  origin.hostname === "x-packed.test"
    ? cb(null, [{ address: "127.0.0.1", family: 4, ttl: 60_000 }])
    : cb(Object.assign(new Error(`unexpected lookup of ${origin.hostname}`), { code: "ENOTFOUND" }));
/** Sets environment variables while `fn` runs (EnvHttpProxyAgent reads them when constructed). */
function withEnv(vars, fn) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
const realDispatchers = [
  { label: "new Agent()", make: () => new undici.Agent() },
  { label: "new Pool(origin)", make: () => new undici.Pool(server.origin) },
  { label: "new Client(origin)", make: () => new undici.Client(server.origin) },
  { label: "new ProxyAgent(proxy)", make: () => new undici.ProxyAgent(proxy.url), viaProxy: true },
  {
    label: "new EnvHttpProxyAgent() (http_proxy=proxy)",
    make: () =>
      withEnv(
        { http_proxy: proxy.url, HTTP_PROXY: proxy.url, no_proxy: "", NO_PROXY: "" },
        () => new undici.EnvHttpProxyAgent(),
      ),
    viaProxy: true,
  },
  { label: "new RetryAgent(new Agent())", make: () => new undici.RetryAgent(new undici.Agent()) },
  {
    label: "new Agent().compose(dns, retry, decompress)",
    make: () =>
      new undici.Agent().compose(
        interceptors.dns({ lookup, dualStack: false, affinity: 4 }),
        interceptors.retry({ maxRetries: 2, minTimeout: 1, maxTimeout: 10 }),
        interceptors.decompress(),
      ),
    // The dns interceptor resolves this name (to 127.0.0.1) on its own.
    base: `http://x-packed.test:${server.port}`,
  },
];
for (const { label, make, viaProxy, base = server.origin } of realDispatchers) {
  let session;
  try {
    session = newSession(make());
  } catch (err) {
    await check(`ClientSession({ connector: ${label} }): constructed`, () => Promise.reject(err));
    continue;
  }
  const proxied = proxy.requests.length;
  await runBehaviours(label, session, base, serverHits);
  if (viaProxy) {
    await check(`ClientSession({ connector: ${label} }): requests went through the proxy`, async () => {
      const asked = proxy.requests.slice(proxied);
      if (asked.length === 0) throw new CheckFailure("the proxy was asked nothing");
      return `the proxy was asked ${asked.length} times, first: ${asked[0]}`;
    });
  }
  await closeWithin(session);
}

// MockAgent: the same six behaviours from intercepts, plus an intercept's JSON, disableNetConnect
// and call history.
{
  const label = "MockAgent";
  const mockOrigin = "http://mock.test";
  const mock = new undici.MockAgent({ enableCallHistory: true });
  mock.disableNetConnect();
  const pool = mock.get(mockOrigin);
  pool
    .intercept({ path: "/redirect" })
    .reply(302, "", { headers: { location: "/target" } })
    .persist();
  pool.intercept({ path: "/target" }).reply(200, "target reached").persist();
  pool
    .intercept({ path: "/set-cookie" })
    .reply(200, "set", { headers: { "set-cookie": "sid=s1; Path=/" } })
    .persist();
  pool
    .intercept({ path: "/echo-cookie" })
    .reply((opts) => ({ statusCode: 200, data: headerValue(opts.headers, "cookie") ?? "none" }))
    .persist();
  pool
    .intercept({ path: "/private" })
    .reply((opts) => ({
      statusCode: headerValue(opts.headers, "authorization") === BASIC ? 200 : 401,
      data: "",
    }))
    .persist();
  pool
    .intercept({ path: "/stream" })
    .reply(200, STREAM_CHUNKS.join(""), { headers: { "transfer-encoding": "chunked" } })
    .persist();
  pool.intercept({ path: "/slow" }).reply(200, "late").delay(3000).persist();
  pool
    .intercept({ path: "/mocked" })
    .reply(200, { mocked: true }, { headers: { "content-type": "application/json" } })
    .persist();
  const session = newSession(mock);
  const mockHits = (path) => (mock.getCallHistory()?.calls() ?? []).filter((c) => c.path === path).length;
  await runBehaviours(label, session, mockOrigin, mockHits);
  await check(`ClientSession({ connector: ${label} }): an intercept answers`, async () => {
    const resp = await session.get(`${mockOrigin}/mocked`);
    expectEqual(await resp.json(), { mocked: true }, "the intercept's JSON");
  });
  await check(
    `ClientSession({ connector: ${label} }): disableNetConnect() refuses a real origin`,
    async () => {
      const seen = server.seen.length;
      const err = await rejection(
        session.get(`${server.origin}/hello/net`),
        "a request to an unmocked origin",
      );
      if (server.seen.length !== seen) throw new CheckFailure("the request reached the real server");
      const chain = [];
      for (let e = err; e instanceof Error && chain.length < 4; e = e.cause) chain.push(e.code ?? e.name);
      if (!chain.some((c) => /MOCK/.test(String(c))))
        throw new CheckFailure(`not undici's mock refusal: ${describe(err)}`, err);
      return `${err instanceof ClientError ? "" : "(not an @x/errors class) "}${describe(err)}`;
    },
  );
  await check(`ClientSession({ connector: ${label} }): call history records cookie and auth`, async () => {
    const calls = mock.getCallHistory()?.calls() ?? [];
    const cookie = calls.find((c) => c.path === "/echo-cookie");
    const auth = calls.find((c) => c.path === "/private");
    expectEqual(
      {
        cookie: headerValue(cookie?.headers, "cookie") ?? null,
        authorization: headerValue(auth?.headers, "authorization") ?? null,
      },
      { cookie: "sid=s1", authorization: BASIC },
      `call history (${calls.length} calls)`,
    );
    return `${calls.length} calls recorded`;
  });
  await closeWithin(session);
}

// What a foreign dispatcher cannot do: refused with @x/errors' InvalidArgumentError naming the
// connector, and nothing reaches the server or the proxy (no silent private pool).
const wsUrl = `ws://127.0.0.1:${server.port}/ws`;
const refusals = {
  "session.wsConnect(url)": (s) => s.wsConnect(wsUrl),
  "request option proxy:": (s) => s.get(`${server.origin}/hello/proxied`, { proxy: proxy.url }),
  "session option proxy:": async () => {
    const s = newSession(new undici.Agent(), { proxy: proxy.url });
    try {
      return await s.get(`${server.origin}/hello/proxied`);
    } finally {
      await closeWithin(s);
    }
  },
  "expect100: true": (s) => s.post(`${server.origin}/echo`, { data: "x", expect100: true }),
};
{
  const session = newSession(new undici.Agent());
  for (const [what, fn] of Object.entries(refusals)) {
    await check(`ClientSession({ connector: new Agent() }): ${what} → InvalidArgumentError`, async () => {
      const before = {
        seen: server.seen.length,
        upgrades: server.upgrades.length,
        proxied: proxy.requests.length,
      };
      const outcome = await (async () => fn(session))().then(
        (value) => ({ value }),
        (err) => ({ err }),
      );
      const traffic = [
        server.upgrades.length > before.upgrades ? "the server got a websocket upgrade" : "",
        server.seen.length > before.seen ? "the server got a request" : "",
        proxy.requests.length > before.proxied ? "the proxy was asked" : "",
      ].filter(Boolean);
      if ("value" in outcome) {
        await Promise.race([outcome.value?.close?.(), sleep(1000)]);
        throw new CheckFailure(
          `it succeeded (through a private pool?): ${traffic.join(", ") || "no traffic seen"}`,
        );
      }
      const { err } = outcome;
      if (!(err instanceof InvalidArgumentError))
        throw new CheckFailure(`not @x/errors' InvalidArgumentError: ${describe(err)}`, err);
      if (!/connector/i.test(err.message))
        throw new CheckFailure(`the message does not name the connector: ${err.message}`);
      if (traffic.length > 0)
        throw new CheckFailure(`refused, but only after traffic: ${traffic.join(", ")}`);
      return err.message;
    });
  }
  await closeWithin(session);
}

server.close();
proxy.close();
done();
