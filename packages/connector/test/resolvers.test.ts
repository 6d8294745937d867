import { createSocket } from "node:dgram";
import { startDnsServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { AsyncResolver, DefaultResolver, ThreadedResolver } from "../src/index.js";

/** A UDP "DNS server" on loopback that records every query and never answers. */
async function startSilentDns(): Promise<{ address: string; queries: () => number } & AsyncDisposable> {
  const socket = createSocket("udp4");
  let count = 0;
  socket.on("message", () => {
    count++;
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  return {
    address: `127.0.0.1:${port}`,
    queries: () => count,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** `promise`'s outcome, or "pending" if it has not settled within `ms`. */
async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ value?: T; error?: unknown } | "pending"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => resolve("pending"), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe("ThreadedResolver", () => {
  it("is the DefaultResolver", () => {
    expect(DefaultResolver).toBe(ThreadedResolver);
  });

  it("reports each address with its family", async () => {
    const resolver = new ThreadedResolver();
    expect(await resolver.resolve("::1", 443, 0)).toEqual([
      { hostname: "::1", host: "::1", port: 443, family: 6 },
    ]);
    expect(await resolver.resolve("127.0.0.1", 80)).toEqual([
      { hostname: "127.0.0.1", host: "127.0.0.1", port: 80, family: 4 },
    ]);
    await resolver.close();
  });

  it("rejects with the lookup's error for a name that does not resolve", async () => {
    // A name past 255 characters: getaddrinfo refuses it without asking any DNS server.
    const name = "x".repeat(300);
    const outcome = await within(new ThreadedResolver().resolve(name, 80, 0), 4000);
    expect(outcome).not.toBe("pending");
    const { error } = outcome as { error?: NodeJS.ErrnoException & { hostname?: string } };
    expect(error).toBeInstanceOf(Error);
    expect(error?.syscall).toBe("getaddrinfo");
    expect(error?.hostname).toBe(name);
  });
});

describe("AsyncResolver", () => {
  it("asks only for A records with family 4", async () => {
    await using dns = await startDnsServer({ "svc.test": { A: ["127.0.0.1", "127.0.0.2"], AAAA: ["::1"] } });
    const resolver = new AsyncResolver({ servers: [dns.address], timeout: 1000, tries: 1 });
    expect(await resolver.resolve("svc.test", 8080, 4)).toEqual([
      { hostname: "svc.test", host: "127.0.0.1", port: 8080, family: 4 },
      { hostname: "svc.test", host: "127.0.0.2", port: 8080, family: 4 },
    ]);
    expect(dns.queries).toEqual(["A svc.test"]);
    await resolver.close();
  });

  it("reports a name without addresses with the resolver's own error", async () => {
    await using dns = await startDnsServer({ "empty.test": {} });
    const resolver = new AsyncResolver({ servers: [dns.address], timeout: 1000, tries: 1 });
    await expect(resolver.resolve("empty.test", 80, 4)).rejects.toMatchObject({
      code: "ENODATA",
      syscall: "queryA",
    });
    await resolver.close();
  });

  it("gives up after `tries` queries of `timeout` ms each", async () => {
    await using silent = await startSilentDns();
    const resolver = new AsyncResolver({ servers: [silent.address], timeout: 100, tries: 2 });
    try {
      const outcome = await within(resolver.resolve("slow.test", 80, 4), 3000);
      expect(outcome).not.toBe("pending");
      expect((outcome as { error?: { code?: string } }).error?.code).toBe("ETIMEOUT");
      expect(silent.queries()).toBe(2);
    } finally {
      await resolver.close();
    }
  });

  it("gives up after one try when told so", async () => {
    await using silent = await startSilentDns();
    const resolver = new AsyncResolver({ servers: [silent.address], timeout: 100, tries: 1 });
    try {
      const outcome = await within(resolver.resolve("slow.test", 80, 4), 3000);
      expect((outcome as { error?: { code?: string } }).error?.code).toBe("ETIMEOUT");
      expect(silent.queries()).toBe(1);
    } finally {
      await resolver.close();
    }
  });

  it("close() cancels the queries still waiting for an answer", async () => {
    await using silent = await startSilentDns();
    const resolver = new AsyncResolver({ servers: [silent.address], timeout: 5000, tries: 1 });
    const pending = resolver.resolve("slow.test", 80, 0);
    await new Promise((r) => setTimeout(r, 20));
    await resolver.close();
    const outcome = await within(pending, 1000);
    expect(outcome).not.toBe("pending");
    expect((outcome as { error?: { code?: string } }).error?.code).toBe("ECANCELLED");
  });
});
