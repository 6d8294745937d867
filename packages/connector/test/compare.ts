import { sleep } from "@x/fixtures";
import { Agent, type Dispatcher, errors, request } from "undici";
import { TCPConnector } from "../src/index.js";

// Runs one scenario on undici's own Agent and on a TCPConnector, so a test can expect both to
// give the result undici documents (the dispatcher contract and the interceptor tests).

export type Name = "Agent" | "TCPConnector";
export type Results<T> = Record<Name, T>;
/** A dispatcher with undici's `closed` and `destroyed` flags, as Agent and TCPConnector have. */
export type Subject = Dispatcher & { readonly closed: boolean; readonly destroyed: boolean };

const defaults: Record<Name, () => Subject> = {
  Agent: () => new Agent(),
  TCPConnector: () => new TCPConnector(),
};

export interface CompareOptions {
  /** How to make either dispatcher, when the defaults will not do. */
  make?: Partial<Record<Name, () => Subject>>;
  /**
   * Run both at once: for scenarios that wait for one of undici's timeouts, whose timers tick
   * about once a second. An uncaught exception then fails both runs.
   */
  parallel?: boolean;
  /** Most ms a run may take. */
  ms?: number;
}

/** What `compare` must return for the test to pass: the same `expected` from both dispatchers. */
export function both<T>(expected: T): Results<T> {
  return { Agent: expected, TCPConnector: expected };
}

/**
 * Runs `scenario` on a fresh Agent, then on a fresh TCPConnector (each destroyed afterwards), and
 * returns what each run returned. A run fails the test, naming its dispatcher, when it throws,
 * raises an uncaught exception or an unhandled rejection, or has no outcome within `ms`.
 */
export async function compare<T>(
  scenario: (dispatcher: Subject) => Promise<T>,
  options: CompareOptions = {},
): Promise<Results<T>> {
  const ms = options.ms ?? 2000;
  const runOne = (name: Name) => run(name, (options.make?.[name] ?? defaults[name])(), scenario, ms);
  if (options.parallel) {
    const [agent, connector] = await Promise.all([runOne("Agent"), runOne("TCPConnector")]);
    return { Agent: agent, TCPConnector: connector };
  }
  const agent = await runOne("Agent");
  return { Agent: agent, TCPConnector: await runOne("TCPConnector") };
}

async function run<T>(
  name: Name,
  dispatcher: Subject,
  scenario: (dispatcher: Subject) => Promise<T>,
  ms: number,
): Promise<T> {
  let fail: (err: Error) => void = () => {};
  const failed = new Promise<never>((_resolve, reject) => {
    fail = reject;
  });
  const onUncaught = (err: unknown) => fail(new Error(`${name}: uncaught ${String(err)}`, { cause: err }));
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUncaught);
  const timer = setTimeout(() => fail(new Error(`${name}: no outcome within ${ms} ms`)), ms);
  const outcome = scenario(dispatcher);
  try {
    const result = await Promise.race([outcome, failed]);
    // A callback that throws after the outcome (from a microtask, say) still fails the run.
    await Promise.race([sleep(10), failed]);
    return result;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(`${name}: `)) throw err;
    throw new Error(`${name}: ${String(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
    await dispatcher.destroy().catch(() => {});
    // A run cut short still disposes of its servers once the dispatcher is gone.
    await Promise.race([outcome.catch(() => {}), sleep(1000)]);
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUncaught);
  }
}

export interface Reply {
  status: number;
  body: string;
}

export interface Failure {
  /** The class name; undici's own classes (by identity) as `undici.Name`. */
  error: string;
  code?: string;
  syscall?: string;
  statusCode?: number;
  body?: unknown;
}

export function failure(err: unknown): Failure {
  if (!(err instanceof Error)) return { error: `non-error ${String(err)}` };
  const e = err as Error & { code?: unknown; syscall?: unknown; statusCode?: unknown; body?: unknown };
  const undiciName = Object.entries(errors).find(([, cls]) => e.constructor === cls)?.[0];
  const out: Failure = { error: undiciName ? `undici.${undiciName}` : e.constructor.name };
  if (typeof e.code === "string") out.code = e.code;
  if (typeof e.syscall === "string") out.syscall = e.syscall;
  if (typeof e.statusCode === "number") out.statusCode = e.statusCode;
  if (e.body !== undefined) out.body = e.body;
  return out;
}

export type RequestOptions = NonNullable<Parameters<typeof request>[1]>;

/** `undici.request` through `dispatcher`: the reply, or how the request or its body failed. */
export async function fetchText(
  dispatcher: Dispatcher,
  url: string,
  options: RequestOptions = {},
): Promise<Reply | Failure> {
  try {
    const res = await request(url, { ...options, dispatcher });
    return { status: res.statusCode, body: await res.body.text() };
  } catch (err) {
    return failure(err);
  }
}
