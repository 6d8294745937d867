// session.get() + full read against undici.request, fetch, axios, got and node:http, all with
// keep-alive, on the same loopback server (its own process). Small and 1 MiB bodies, concurrency
// 1 and 64. Prints req/s, CPU seconds per 10k requests, and each client's ratio to undici.request.
// Goals: @x/session ≤ 1.15× undici.request's CPU per request; ≥ 2.5× the throughput of axios and got.
//   pnpm bench:session [-- --ms 2000 --rounds 3]
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { parseArgs } from "node:util";
import { TCPConnector } from "@x/connector";
import { ClientSession } from "@x/session";
import axios from "axios";
import got from "got";
import { Agent, request } from "undici";
import { type Client, compare, report, save, startServer } from "./harness.js";

const { values } = parseArgs({
  allowPositionals: true,
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    ms: { type: "string", default: "2000" },
    rounds: { type: "string", default: "3" },
    only: { type: "string" },
  },
});
const ms = Number(values.ms);
const rounds = Number(values.rounds);

const server = await startServer();
const origin = `http://127.0.0.1:${server.port}`;

for (const path of ["/", "/big"]) {
  for (const concurrency of [1, 64]) {
    const undiciAgent = new Agent({ connections: concurrency, keepAliveTimeout: 60_000 });
    const fetchAgent = new Agent({ connections: concurrency, keepAliveTimeout: 60_000 });
    const session = new ClientSession({
      connector: new TCPConnector({ limit: concurrency, keepaliveTimeout: 60_000 }),
    });
    const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
    const axiosClient = axios.create({ httpAgent, responseType: "arraybuffer" });
    const gotClient = got.extend({ agent: { http: httpAgent }, retry: { limit: 0 } });

    const clients: Record<string, Client> = {
      "undici.request": async (p) => {
        const res = await request(`${origin}${p}`, { dispatcher: undiciAgent });
        await res.body.arrayBuffer();
      },
      "@x/session": async (p) => {
        const resp = await session.get(`${origin}${p}`);
        await resp.read();
      },
      fetch: async (p) => {
        const res = await fetch(`${origin}${p}`, { dispatcher: fetchAgent } as unknown as RequestInit);
        await res.arrayBuffer();
      },
      "node:http": (p) =>
        new Promise<void>((resolve, reject) => {
          httpRequest(`${origin}${p}`, { agent: httpAgent }, (res) => {
            res.on("data", () => {});
            res.on("end", resolve);
            res.on("error", reject);
          })
            .on("error", reject)
            .end();
        }),
      axios: async (p) => {
        await axiosClient.get(`${origin}${p}`);
      },
      got: async (p) => {
        await gotClient.get(`${origin}${p}`).buffer();
      },
    };
    const chosen = values.only
      ? Object.fromEntries(
          Object.entries(clients).filter(
            ([k]) => values.only!.split(",").includes(k) || k === "undici.request",
          ),
        )
      : clients;
    const results = await compare(chosen, { concurrency, ms, path, rounds });
    report(
      `${path === "/" ? "small body (17 B)" : "1 MiB body"}, concurrency ${concurrency} (${rounds}×${ms} ms, median)`,
      results,
      "undici.request",
    );
    await Promise.all([undiciAgent.close(), fetchAgent.close(), session.close()]);
    httpAgent.destroy();
  }
}
server.stop();
save("session");
