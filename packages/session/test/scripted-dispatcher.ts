import { Dispatcher } from "undici";

/** What a scripted response does with the handler: the controller it got is passed along. */
export type Script = (handler: Dispatcher.DispatchHandler, controller: Dispatcher.DispatchController) => void;

/**
 * A dispatcher of a user's own, as the session must take one: each request is answered by
 * `script` (called a tick after dispatch, after `onRequestStart`), with no socket and no undici
 * parser in between — so it can hand over what undici's own would never pass on.
 */
export class ScriptedDispatcher extends Dispatcher {
  readonly #script: Script;
  /** What each request asked to send, in order (its options as dispatch() got them). */
  readonly seen: Dispatcher.DispatchOptions[] = [];

  constructor(script: Script) {
    super();
    this.#script = script;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.seen.push(options);
    const controller: Dispatcher.DispatchController = {
      aborted: false,
      paused: false,
      reason: null,
      rawHeaders: undefined,
      rawTrailers: undefined,
      abort() {},
      pause() {},
      resume() {},
    } as unknown as Dispatcher.DispatchController;
    setImmediate(() => {
      handler.onRequestStart?.(controller, {});
      this.#script(handler, controller);
    });
    return true;
  }

  override async close(): Promise<void> {}
  override async destroy(): Promise<void> {}
}
