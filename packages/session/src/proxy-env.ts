import { isIP } from "node:net";

/**
 * The proxy the environment names for `url` (`trustEnv`): `HTTP_PROXY`, `HTTPS_PROXY`, `WS_PROXY`
 * or `WSS_PROXY` by the URL's scheme, unless `NO_PROXY` lists the host — read as Python's
 * `urllib.request.getproxies()` reads them for aiohttp: a lower-case name that is set wins, even
 * empty (`http_proxy=` turns an `HTTP_PROXY` off), and a CGI program (`REQUEST_METHOD` set) never
 * takes `HTTP_PROXY`, which a client's `Proxy:` request header would set ("httpoxy").
 */
export function proxyFromEnv(url: URL, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const scheme = url.protocol.slice(0, -1);
  const lower = env[`${scheme}_proxy`];
  const upper =
    scheme === "http" && env.REQUEST_METHOD !== undefined ? undefined : env[`${scheme.toUpperCase()}_PROXY`];
  const value = lower ?? upper;
  if (!value) return undefined;
  const noProxy = env.no_proxy ?? env.NO_PROXY ?? "";
  return bypassesProxy(url, noProxy) ? undefined : value;
}

interface Ip {
  readonly value: bigint;
  readonly bits: 32 | 128;
}

/**
 * An IP address as a number; an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, `::ffff:7f00:1`)
 * is the IPv4 address it maps, so NO_PROXY's IPv4 entries catch it too. An IPv6 zone is ignored.
 */
function ipOf(text: string): Ip | undefined {
  const v = isIP(text);
  if (v === 4) {
    return { value: text.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n), bits: 32 };
  }
  if (v !== 6) return undefined;
  // A zone (`fe80::1%eth0`) says which interface, not which address: the address is before it.
  const bare = text.replace(/%.*/, "");
  // isIP() passed it: a dotted quad can only come last.
  const dotted = /(\d+\.\d+\.\d+\.\d+)/.exec(bare);
  let body = bare;
  if (dotted) {
    const v4 = ipOf(dotted[1]!)!.value;
    body = `${bare.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const cut = body.indexOf("::");
  let groups = body.split(":");
  if (cut >= 0) {
    const h = cut > 0 ? body.slice(0, cut).split(":") : [];
    const t = cut + 2 < body.length ? body.slice(cut + 2).split(":") : [];
    groups = [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  }
  const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
  if (value >> 32n === 0xffffn) return { value: value & 0xffffffffn, bits: 32 };
  return { value, bits: 128 };
}

function sameNetwork(host: Ip, cidr: string): boolean {
  const slash = cidr.indexOf("/");
  const net = cidr.slice(0, slash).replace(/^\[|\]$/g, "");
  const network = ipOf(net);
  let len = Number(cidr.slice(slash + 1));
  if (!network || !Number.isInteger(len)) return false;
  // An IPv4-mapped IPv6 network (::ffff:10.0.0.0/104) is the IPv4 one (10.0.0.0/8).
  if (network.bits === 32 && isIP(net) === 6) len -= 96;
  // Never across families: an IPv6 network does not hold an IPv4 host, nor the other way round.
  if (network.bits !== host.bits || len < 0 || len > host.bits) return false;
  const shift = BigInt(host.bits - len);
  return host.value >> shift === network.value >> shift;
}

/** A host as NO_PROXY compares it: lower case, without IPv6 brackets or a trailing dot. */
function normalHost(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
}

/**
 * True when `NO_PROXY` excludes `url`: `*`; a host name (itself and its subdomains); a domain
 * with a leading dot (its subdomains); `host:port`; an IP address (IPv4, or IPv6 with or without
 * brackets, `[::1]:8080` with a port); or a CIDR block of either family. A trailing dot on the
 * host or an entry changes nothing (`localhost.` is `localhost`), and an IPv4-mapped IPv6 host
 * (`[::ffff:127.0.0.1]`) is the IPv4 address it maps — so neither can slip past an entry.
 */
export function bypassesProxy(url: URL, noProxy: string): boolean {
  const host = normalHost(url.hostname);
  const hostIp = ipOf(host);
  const port = url.port || (url.protocol === "https:" || url.protocol === "wss:" ? "443" : "80");
  for (const raw of noProxy.split(/[,\s]/)) {
    let entry = raw.toLowerCase();
    if (!entry) continue;
    if (entry === "*") return true;
    if (entry.includes("/")) {
      if (hostIp && sameNetwork(hostIp, entry)) return true;
      continue;
    }
    let entryPort: string | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      entry = bracketed[1]!;
      entryPort = bracketed[2];
    } else if ((entry.match(/:/g) ?? []).length === 1) {
      const colon = entry.indexOf(":");
      entryPort = entry.slice(colon + 1);
      entry = entry.slice(0, colon);
    }
    if (entryPort !== undefined && entryPort !== port) continue;
    entry = normalHost(entry);
    const entryIp = ipOf(entry);
    if (entryIp) {
      if (hostIp && hostIp.bits === entryIp.bits && hostIp.value === entryIp.value) return true;
      continue;
    }
    if (entry.startsWith(".")) {
      if (host.endsWith(entry) || host === entry.slice(1)) return true;
    } else if (host === entry || host.endsWith(`.${entry}`)) {
      return true;
    }
  }
  return false;
}
