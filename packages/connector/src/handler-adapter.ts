import type { Duplex } from "node:stream";
import { type Dispatcher, util as undiciUtil } from "undici";

/** undici's callback-style handler, which its `Client` speaks internally. */
export interface LegacyHandler {
  onConnect?(abort: (err?: Error) => void, context?: unknown): void;
  onResponseStarted?(): void;
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: Buffer[] | string[] | null): void;
  onError?(err: Error): void;
  onUpgrade?(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void;
  onBodySent?(chunk: unknown, totalBytesSent?: number): void;
  onRequestSent?(): void;
}

type ModernHandler = Required<Pick<Dispatcher.DispatchHandler, "onRequestStart">> &
  Dispatcher.DispatchHandler;

class Controller implements Dispatcher.DispatchController {
  #paused = false;
  #aborted = false;
  #reason: Error | null = null;
  readonly #abort: (err?: Error) => void;
  resumeFn: (() => void) | null = null;
  rawHeaders: Buffer[] | null = null;
  rawTrailers: Buffer[] | string[] | null = null;

  constructor(abort: (err?: Error) => void) {
    this.#abort = abort;
  }
  get aborted(): boolean {
    return this.#aborted;
  }
  get paused(): boolean {
    return this.#paused;
  }
  get reason(): Error | null {
    return this.#reason;
  }
  abort(reason: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#abort(reason);
  }
  pause(): void {
    this.#paused = true;
  }
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.resumeFn?.();
  }
}

/**
 * Lets the pool speak undici's callback-style handler API to a handler written in the
 * controller style (`onRequestStart`, `onResponseStart`, …), as interceptors produce.
 */
class ModernToLegacy implements LegacyHandler {
  readonly #handler: ModernHandler;
  #controller: Controller | undefined;

  constructor(handler: ModernHandler) {
    this.#handler = handler;
  }

  onConnect(abort: (err?: Error) => void, context?: unknown): void {
    this.#controller = new Controller(abort);
    this.#handler.onRequestStart(this.#controller, context);
  }

  onResponseStarted(): void {
    (this.#handler as LegacyHandler).onResponseStarted?.();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    const controller = this.#controller!;
    controller.resumeFn = resume;
    controller.rawHeaders = rawHeaders;
    this.#handler.onResponseStart?.(controller, statusCode, undiciUtil.parseHeaders(rawHeaders), statusText);
    return !controller.paused;
  }

  onData(chunk: Buffer): boolean {
    const controller = this.#controller!;
    this.#handler.onResponseData?.(controller, chunk);
    return !controller.paused;
  }

  onComplete(trailers: Buffer[] | string[] | null): void {
    const controller = this.#controller!;
    controller.rawTrailers = trailers;
    this.#handler.onResponseEnd?.(controller, undiciUtil.parseHeaders((trailers ?? []) as Buffer[]));
  }

  onError(err: Error): void {
    this.#controller ??= new Controller(() => {});
    this.#handler.onResponseError?.(this.#controller, err);
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    const controller = this.#controller!;
    this.#handler.onRequestUpgrade?.(
      controller,
      statusCode,
      undiciUtil.parseHeaders((rawHeaders ?? []) as Buffer[]),
      socket,
    );
  }

  onBodySent(chunk: unknown): void {
    (this.#handler as LegacyHandler).onBodySent?.(chunk);
  }
}

/** Returns a callback-style view of any undici handler. */
export function toLegacyHandler(handler: Dispatcher.DispatchHandler): LegacyHandler {
  return typeof handler.onRequestStart === "function"
    ? new ModernToLegacy(handler as ModernHandler)
    : (handler as LegacyHandler);
}
