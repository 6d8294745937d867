export {
  type AbstractCookieJar,
  type CookieAttributes,
  type CookieInput,
  type CookieRecord,
  type CookiesToSend,
  checkCookieJar,
  cookieHeader,
  type MaybePromise,
  type SendableCookie,
} from "./abstract-cookie-jar.js";
export { toSetCookieHeaders } from "./cookie-input.js";
export { CookieJar, type CookieJarOptions } from "./cookie-jar.js";
export type { SecureOrigins } from "./cookie-rules.js";
export { DummyCookieJar } from "./dummy-cookie-jar.js";
export {
  type CookieRules,
  isSecureOrigin,
  requestCookies,
  selectCookies,
  storableCookie,
} from "./jar-rules.js";
export { parseSetCookie } from "./parse.js";
export { quoteCookieValue } from "./quote.js";
