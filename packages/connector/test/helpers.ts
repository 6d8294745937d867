import type { AbstractResolver, AddressFamily, ResolvedHost } from "../src/index.js";

/** A resolver over a fixed table that counts its lookups and can be slowed down. */
export class TableResolver implements AbstractResolver {
  readonly calls: string[] = [];
  closed = false;
  constructor(
    private readonly table: Record<string, string[]>,
    private readonly delayMs = 0,
  ) {}

  async resolve(host: string, port: number, family: AddressFamily): Promise<ResolvedHost[]> {
    this.calls.push(host);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const ips = this.table[host];
    if (!ips)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), {
        code: "ENOTFOUND",
        syscall: "getaddrinfo",
      });
    return ips
      .map((ip) => ({ hostname: host, host: ip, port, family: (ip.includes(":") ? 6 : 4) as 4 | 6 }))
      .filter((a) => family === 0 || a.family === family);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
