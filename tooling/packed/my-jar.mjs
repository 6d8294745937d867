// A user's own cookie jar, in about 20 lines and asynchronous (as one in a database would be):
// the two methods of AbstractCookieJar, one map per host, Set-Cookie parsed by @x/cookies.
import { parseSetCookie } from "@x/cookies";

export class MyJar {
  #byHost = new Map(); // host ("" for shared cookies) → name → value
  async updateCookiesFromHeaders(headers, responseUrl) {
    const host = responseUrl?.hostname ?? "";
    const cookies = this.#byHost.get(host) ?? new Map();
    for (const header of headers) {
      const c = parseSetCookie(header);
      if (!c) continue;
      if (c.expires && c.expires.getTime() <= Date.now()) cookies.delete(c.name);
      else cookies.set(c.name, c.value);
    }
    this.#byHost.set(host, cookies);
  }
  async filterCookies(requestUrl) {
    const out = new Map();
    for (const host of ["", requestUrl.hostname])
      for (const [name, value] of this.#byHost.get(host) ?? []) out.set(name, { name, value });
    return out;
  }
}
