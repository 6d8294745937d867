export {
  type AbstractCookieJar,
  type CookieAttributes,
  type CookieInput,
  type CookieRecord,
  cookieHeader,
} from "./abstract-cookie-jar.js";
export { CookieJar, type CookieJarOptions } from "./cookie-jar.js";
export { DummyCookieJar } from "./dummy-cookie-jar.js";
export { parseSetCookie } from "./parse.js";
export { quoteCookieValue } from "./quote.js";
