import type { ClientRequest } from "./client-request.js";
import type { ClientResponse } from "./client-response.js";

/** Sends a request: the next middleware, or the wire. */
export type ClientHandler = (request: ClientRequest) => Promise<ClientResponse>;

/**
 * A client middleware (aiohttp 3.12's): sees each request on its way out and its response on the
 * way back, in onion order — the first middleware is the outermost. It runs once per redirect
 * hop and once per retry. It may change the request, answer without calling `next`, or call
 * `next` more than once (the body must then be re-readable).
 *
 * @example
 * const timing: ClientMiddleware = async (request, next) => {
 *   const started = performance.now();
 *   const response = await next(request);
 *   console.log(request.method, request.url.href, response.status, performance.now() - started);
 *   return response;
 * };
 */
export type ClientMiddleware = (request: ClientRequest, next: ClientHandler) => Promise<ClientResponse>;

/** Wraps `handler` in `middlewares`, the first outermost. */
export function compose(middlewares: readonly ClientMiddleware[], handler: ClientHandler): ClientHandler {
  let next = handler;
  for (let i = middlewares.length - 1; i >= 0; i--) {
    const middleware = middlewares[i]!;
    const inner = next;
    next = (request) => middleware(request, inner);
  }
  return next;
}
