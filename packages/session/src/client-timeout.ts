import { InvalidArgumentError } from "@x/errors";

/**
 * aiohttp's `ClientTimeout`, in milliseconds. `null` or `0` switches a timeout off.
 * - `total`: the whole request — connecting, sending, redirects, retries, and reading the body.
 * - `connect`: waiting for a free connection in the pool plus opening it.
 * - `sockConnect`: each connection attempt, TLS handshake included.
 * - `sockRead`: the gap between two reads from the socket (headers, then each piece of the body).
 */
export interface ClientTimeout {
  total?: number | null;
  connect?: number | null;
  sockConnect?: number | null;
  sockRead?: number | null;
}

/** A timeout with every field decided; `null` = off. */
export type ResolvedTimeout = { readonly [K in keyof ClientTimeout]-?: number | null };

/** aiohttp 3.10's defaults: 5 minutes in all, 30 s per connection attempt. */
export const DEFAULT_TIMEOUT: ResolvedTimeout = Object.freeze({
  total: 300_000,
  connect: null,
  sockConnect: 30_000,
  sockRead: null,
});

function field(name: string, value: unknown): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(
      `timeout.${name} must be a non-negative number of milliseconds or null, got ${String(value)}`,
    );
  }
  // 0 is no limit, as in aiohttp.
  return value === 0 ? null : value;
}

/**
 * Lays `override` over `base` field by field (an omitted field keeps the base's). A number is a
 * `total`, as the seed's per-request `timeout` was.
 */
export function resolveTimeout(
  base: ResolvedTimeout,
  override: ClientTimeout | number | null | undefined,
): ResolvedTimeout {
  if (override === undefined) return base;
  if (override === null) return { total: null, connect: null, sockConnect: null, sockRead: null };
  if (typeof override === "number") return { ...base, total: field("total", override) ?? null };
  if (typeof override !== "object")
    throw new InvalidArgumentError("timeout must be a ClientTimeout object or a number");
  const out = { ...base };
  for (const key of ["total", "connect", "sockConnect", "sockRead"] as const) {
    const v = field(key, override[key]);
    if (v !== undefined) out[key] = v;
  }
  return out;
}
