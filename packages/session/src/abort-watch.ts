interface Watch {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

const watches = new WeakMap<AbortSignal, Watch>();

/**
 * Calls `onAbort` once when `signal` aborts, and returns what stops watching. However many calls
 * watch one signal at once — a signal shared by 10,000 concurrent requests — the signal carries a
 * single `abort` listener (no `MaxListenersExceededWarning`), removed when the last watcher stops.
 */
export function watchAbort(signal: AbortSignal, onAbort: () => void): () => void {
  let watch = watches.get(signal);
  if (!watch) {
    const callbacks = new Set<() => void>();
    const listener = () => {
      watches.delete(signal);
      for (const callback of [...callbacks]) callback();
      callbacks.clear();
    };
    watch = { callbacks, listener };
    watches.set(signal, watch);
    signal.addEventListener("abort", listener, { once: true });
  }
  const current = watch;
  current.callbacks.add(onAbort);
  return () => {
    if (!current.callbacks.delete(onAbort) || current.callbacks.size > 0) return;
    if (watches.get(signal) === current) watches.delete(signal);
    signal.removeEventListener("abort", current.listener);
  };
}
