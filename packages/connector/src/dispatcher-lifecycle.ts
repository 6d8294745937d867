import { errors as undiciErrors } from "undici";

/**
 * undici's `close()`/`destroy()` contract for a dispatcher, apart from what is closed:
 * - `close()` is graceful: `closed` from the call; it waits until every request dispatched has
 *   ended, then destroys; once destroyed (that teardown has begun, or `destroy()` was called),
 *   `close()` rejects with `ClientDestroyedError`;
 * - `destroy(err)` is abrupt: `destroyed` from the call; the teardown fails whatever still runs.
 * Both are idempotent while they run, as undici's `DispatcherBase`.
 */
export class DispatcherLifecycle {
  readonly #teardown: (err: Error) => Promise<void>;
  #inflight = 0;
  /** Resolves the wait of `close()` for the requests in flight (resolving again does nothing). */
  #idle: (() => void) | undefined;
  #closed = false;
  #destroyed = false;
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;

  /** @param teardown Closes every connection, failing what runs with `err`. */
  constructor(teardown: (err: Error) => Promise<void>) {
    this.#teardown = teardown;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** undici's error for a request dispatched now, or `undefined` when it may go ahead. */
  refusal(): Error | undefined {
    if (this.#destroyed) return new undiciErrors.ClientDestroyedError();
    if (this.#closed) return new undiciErrors.ClientClosedError();
    return undefined;
  }

  /** A request was dispatched. */
  started(): void {
    this.#inflight++;
  }

  /** A request dispatched has ended. */
  ended(): void {
    this.#inflight--;
    if (this.#inflight === 0) this.#idle?.();
  }

  close(): Promise<void> {
    // undici's rule: once destroyed — by destroy(), or by a close() that has reached its teardown —
    // close() rejects, even while an earlier close() has not finished.
    if (this.#destroyed) return Promise.reject(new undiciErrors.ClientDestroyedError());
    this.#closing ??= (async () => {
      this.#closed = true;
      // Even with nothing in flight the teardown starts later, as undici's: a request dispatched
      // right after close() is refused as closed, and `destroyed` stays false until then.
      await (this.#inflight > 0
        ? new Promise<void>((resolve) => {
            this.#idle = resolve;
          })
        : undefined);
      await this.destroy(null);
    })();
    return this.#closing;
  }

  destroy(err: Error | null): Promise<void> {
    this.#destroying ??= (async () => {
      this.#destroyed = true;
      await this.#teardown(err ?? new undiciErrors.ClientDestroyedError());
    })();
    return this.#destroying;
  }
}
