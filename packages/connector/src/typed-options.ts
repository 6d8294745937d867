import type { Dispatcher } from "undici";
import type { ConnectorDispatchOptions } from "./dispatch-options.js";

/** The type of the `dispatcher` option of Node's global `fetch`, in the installed `@types/node`. */
export type FetchDispatcher = RequestInit extends { dispatcher?: infer D } ? NonNullable<D> : never;

/**
 * `{ dispatcher }` for Node's global `fetch`, typed for whichever `@types/node` is installed: its
 * `RequestInit` describes the undici bundled with that Node (6 for Node 20 and 22), which
 * TypeScript does not let an undici 7 dispatcher stand for, although `fetch` accepts it at run
 * time.
 *
 * @example
 * const res = await fetch(url, { ...fetchDispatcher(connector), method: "POST", body: "x" });
 */
export function fetchDispatcher(dispatcher: Dispatcher): { dispatcher: FetchDispatcher } {
  return { dispatcher } as unknown as { dispatcher: FetchDispatcher };
}

/**
 * `{ connectorOptions }` for undici's own `request()`, `stream()` and `pipeline()`, whose option
 * types do not know the connector's per-request settings (a spread is not checked for unknown
 * properties, an object literal is).
 *
 * @example
 * await request(url, { dispatcher: connector, ...withConnectorOptions({ ssl: false, timeout: { connect: 2000 } }) });
 */
export function withConnectorOptions(options: ConnectorDispatchOptions): {
  connectorOptions: ConnectorDispatchOptions;
} {
  return { connectorOptions: options };
}
