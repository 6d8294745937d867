import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";
import { errors as undiciErrors } from "undici";

/** undici's controller-based handler: the only handler API anything inside this package speaks. */
export type ControllerHandler = Pick<
  Dispatcher.DispatchHandler,
  | "onRequestStart"
  | "onRequestUpgrade"
  | "onResponseStart"
  | "onResponseData"
  | "onResponseEnd"
  | "onResponseError"
> & {
  /** A piece of the request body went out (undici 8 calls it; undici 7 does not for this API). */
  onBodySent?(chunk: unknown): void;
  /** The whole request went out (undici 8 calls it; undici 7 does not for this API). */
  onRequestSent?(): void;
  onResponseStarted?(): void;
};

/** undici 7's callback handler, as undici 7's own `request()`, `stream()`, `fetch()` … still pass. */
interface CallbackHandler {
  onConnect?(abort: (err?: Error) => void, context?: unknown): void;
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: Buffer[] | string[] | null): void;
  onError?(err: Error): void;
  onUpgrade?(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void;
  onBodySent?(chunk: unknown, totalBytesSent?: number): void;
  onRequestSent?(): void;
  onResponseStarted?(): void;
}

/**
 * The caller's handler in the controller-based API. undici 7's own `request()`, `stream()`,
 * `pipeline()`, `upgrade()` and `fetch()`, and the `fetch` bundled with Node 20–24, still hand
 * dispatchers handlers written against undici 7's callback API (undici 8 dropped it); such a
 * handler is wrapped once, here at `dispatch()`, as undici 8 does at its own legacy boundary.
 * @throws undici's `InvalidArgumentError` for something that is not a handler object.
 */
export function controllerHandler(handler: unknown): ControllerHandler {
  if (!handler || typeof handler !== "object") {
    throw new undiciErrors.InvalidArgumentError("handler must be an object");
  }
  return typeof (handler as ControllerHandler).onRequestStart === "function"
    ? (handler as ControllerHandler)
    : new CallbackCaller(handler as CallbackHandler);
}

type Raw = Buffer[] | string[] | null;

function rawOf(value: Raw | object): Raw {
  if (Array.isArray(value)) return value as Raw;
  // Parsed headers only (a controller without raw ones): rebuild the pairs.
  const raw: string[] = [];
  for (const [name, v] of Object.entries(value as Record<string, string | string[]>)) {
    for (const item of Array.isArray(v) ? v : [v]) raw.push(name, item);
  }
  return raw;
}

/** A callback-API handler seen through the controller API. */
class CallbackCaller implements ControllerHandler {
  readonly #handler: CallbackHandler;
  #controller: Dispatcher.DispatchController | undefined;
  readonly #resume = (): void => this.#controller?.resume();

  constructor(handler: CallbackHandler) {
    this.#handler = handler;
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#controller = controller;
    this.#handler.onConnect?.(
      (reason) => controller.abort(reason ?? new undiciErrors.RequestAbortedError()),
      context,
    );
  }

  onResponseStarted(): void {
    this.#handler.onResponseStarted?.();
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusText: string,
  ): void {
    const raw = rawOf(controller.rawHeaders ?? headers) as Buffer[];
    if (this.#handler.onHeaders?.(statusCode, raw, this.#resume, statusText) === false) controller.pause();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#handler.onData?.(chunk) === false) controller.pause();
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Record<string, unknown>): void {
    this.#handler.onComplete?.(rawOf(controller.rawTrailers ?? trailers));
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    if (!this.#handler.onError) throw err;
    this.#handler.onError(err);
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, unknown>,
    socket: Duplex,
  ): void {
    this.#handler.onUpgrade?.(statusCode, rawOf(controller.rawHeaders ?? headers), socket);
  }

  onBodySent(chunk: unknown): void {
    this.#handler.onBodySent?.(chunk);
  }

  onRequestSent(): void {
    this.#handler.onRequestSent?.();
  }
}
