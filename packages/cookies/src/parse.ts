import { Cookie } from "tough-cookie";
import type { CookieRecord } from "./abstract-cookie-jar.js";
import { fixExpiry, sameSiteOf } from "./cookie-rules.js";

/**
 * Parses one `Set-Cookie` header value into a cookie record (the domain is `""` when the header
 * names none; host-only is then `true`; `expires` is absolute, Max-Age counted from now, and in
 * the past for a cookie that deletes). Returns `undefined` for a header that is not a cookie.
 * `@x/session` builds `resp.cookies` with it.
 */
export function parseSetCookie(header: string): CookieRecord | undefined {
  const c = Cookie.parse(header);
  if (!c) return undefined;
  fixExpiry(c, Date.now());
  const expires = c.isPersistent() ? c.expiryDate() : undefined;
  return {
    name: c.key,
    value: c.value,
    domain: (c.domain ?? "").replace(/^\./, ""),
    path: c.path ?? "",
    expires: expires && Number.isFinite(expires.getTime()) ? expires : null,
    secure: c.secure,
    httpOnly: c.httpOnly,
    sameSite: sameSiteOf(c.sameSite),
    hostOnly: !c.domain,
  };
}
