import { connect, type Socket } from "node:net";
import { ClientConnectorError, ConnectionTimeoutError, InvalidArgumentError } from "@x/errors";
import { BaseConnector, type BaseConnectorOptions, type ConnectAttempt } from "./base-connector.js";
import type { PoolKey } from "./pool-key.js";
import { within } from "./socket-open.js";

/**
 * A connector whose every connection goes to one Unix domain socket (aiohttp's `UnixConnector`):
 * the URL's host is only what the `Host` header says. Requests are plain HTTP over the socket.
 *
 * @example
 * const docker = new UnixConnector("/var/run/docker.sock");
 * const res = await fetch("http://localhost/version", { dispatcher: docker });
 */
export class UnixConnector extends BaseConnector {
  readonly #path: string;

  constructor(path: string, options: BaseConnectorOptions = {}) {
    if (typeof path !== "string" || path.length === 0) {
      throw new InvalidArgumentError("UnixConnector needs the socket path as a non-empty string");
    }
    super(options);
    this.#path = path;
  }

  /** The Unix socket path every connection goes to. */
  get path(): string {
    return this.#path;
  }

  protected override openSocket(key: PoolKey, attempt: ConnectAttempt): Promise<Socket> {
    attempt.signal.throwIfAborted();
    const target = { host: key.hostname, port: key.port, ssl: false };
    return within(connect({ path: this.#path, ...({ highWaterMark: 64 * 1024 } as object) }), {
      ok: "connect",
      timeout: attempt.timeout,
      signal: attempt.signal,
      onTimeout: () => new ConnectionTimeoutError(`Connection timeout after ${attempt.timeout} ms`, target),
      mapError: (err) =>
        new ClientConnectorError({
          ...target,
          osError: err,
          message: `Cannot connect to unix socket ${this.#path} [${(err as Error).message}]`,
        }),
    });
  }
}
