import { isIP } from "node:net";

/**
 * The proxy the environment names for `url` (`trustEnv`): `HTTP_PROXY`, `HTTPS_PROXY`, `WS_PROXY`
 * or `WSS_PROXY` by the URL's scheme (lower-case names win), unless `NO_PROXY` lists the host.
 */
export function proxyFromEnv(url: URL, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const scheme = url.protocol.slice(0, -1);
  const value = env[`${scheme}_proxy`] || env[`${scheme.toUpperCase()}_PROXY`];
  if (!value) return undefined;
  const noProxy = env.no_proxy ?? env.NO_PROXY ?? "";
  return bypassesProxy(url, noProxy) ? undefined : value;
}

function ipToBigInt(ip: string): { value: bigint; bits: number } | undefined {
  const v = isIP(ip);
  if (v === 4) {
    return { value: ip.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n), bits: 32 };
  }
  if (v === 6) {
    const [head = "", tail = ""] = ip.split("::");
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
    return {
      value: groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g || "0", 16)), 0n),
      bits: 128,
    };
  }
  return undefined;
}

function inCidr(host: string, cidr: string): boolean {
  const [net = "", lenText = ""] = cidr.split("/");
  const a = ipToBigInt(host);
  const b = ipToBigInt(net);
  const len = Number(lenText);
  if (!a || !b || a.bits !== b.bits || !Number.isInteger(len) || len < 0 || len > a.bits) return false;
  const shift = BigInt(a.bits - len);
  return a.value >> shift === b.value >> shift;
}

/**
 * True when `NO_PROXY` excludes `url`: `*`; a host name (itself and its subdomains); a domain
 * with a leading dot (its subdomains); `host:port`; an IP address; or a CIDR block.
 */
export function bypassesProxy(url: URL, noProxy: string): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port || (url.protocol === "https:" || url.protocol === "wss:" ? "443" : "80");
  for (const raw of noProxy.split(/[,\s]+/)) {
    let entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === "*") return true;
    if (entry.includes("/")) {
      if (inCidr(host, entry)) return true;
      continue;
    }
    let entryPort: string | undefined;
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(entry);
    if (m && (entry.startsWith("[") || !entry.slice(0, entry.lastIndexOf(":")).includes(":"))) {
      entry = m[1] ?? "";
      entryPort = m[2];
    }
    entry = entry.replace(/^\[|\]$/g, "");
    if (entryPort !== undefined && entryPort !== port) continue;
    if (entry.startsWith(".")) {
      if (host.endsWith(entry) || host === entry.slice(1)) return true;
    } else if (host === entry || host.endsWith(`.${entry}`)) {
      return true;
    }
  }
  return false;
}
