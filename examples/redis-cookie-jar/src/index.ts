export { type RedisClient, RedisCookieJar, type RedisCookieJarOptions } from "./redis-cookie-jar.js";
