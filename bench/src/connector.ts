// undici.request through TCPConnector vs undici's own Agent and Pool, on the same keep-alive
// loopback server. Goal: TCPConnector within 5 % of undici's Pool, in requests per second and in
// CPU per request, at concurrency 1 and 64.
// Runs against the built packages (dist), as users get them: `pnpm bench:connector` builds first.
//   pnpm bench:connector [-- --ms 3000 --rounds 5]
import { parseArgs } from "node:util";
import { TCPConnector } from "@x/connector";
import { Agent, Pool, request } from "undici";
import { compare, report, save, startServer } from "./harness.js";

const { values } = parseArgs({
  allowPositionals: true,
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: { ms: { type: "string", default: "3000" }, rounds: { type: "string", default: "5" } },
});
const ms = Number(values.ms);
const rounds = Number(values.rounds);

const server = await startServer();
const origin = `http://127.0.0.1:${server.port}`;

for (const concurrency of [1, 64]) {
  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 60_000 });
  const pool = new Pool(origin, { connections: concurrency, keepAliveTimeout: 60_000 });
  const connector = new TCPConnector({ limit: concurrency, keepaliveTimeout: 60_000 });
  const via = (dispatcher: Agent | Pool | TCPConnector) => async (path: string) => {
    const res = await request(`${origin}${path}`, { dispatcher });
    await res.body.dump();
  };
  const results = await compare(
    { "undici Agent": via(agent), "undici Pool": via(pool), "@x TCPConnector": via(connector) },
    { concurrency, ms, path: "/", rounds },
  );
  report(
    `undici.request, small body, concurrency ${concurrency} (${rounds}×${ms} ms, median)`,
    results,
    "undici Pool",
  );
  await Promise.all([agent.close(), pool.close(), connector.close()]);
}
server.stop();
save("connector");
