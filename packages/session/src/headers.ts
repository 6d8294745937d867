import { checkHeaderName, checkHeaderValue } from "@x/connector";
import { InvalidArgumentError } from "@x/errors";

/** A header value as a caller may give it: numbers and booleans become text, `null`/`undefined` leave it out. */
export type HeaderValue = string | number | boolean | null | undefined;

/** Headers as a caller may give them. */
export type HeadersInput =
  | Headers
  | Iterable<readonly [string, HeaderValue]>
  | Readonly<Record<string, HeaderValue | readonly HeaderValue[]>>;

/**
 * An ordered, case-insensitive list of request headers that keeps duplicates and the caller's
 * spelling. Every name and value is checked on the way in.
 */
export class HeaderList {
  /** [name, value] pairs in order; `lower` mirrors the names in lower case. */
  readonly #names: string[] = [];
  readonly #lower: string[] = [];
  readonly #values: string[] = [];

  static from(input: HeadersInput | undefined): HeaderList {
    const list = new HeaderList();
    if (input) list.extend(input);
    return list;
  }

  get size(): number {
    return this.#names.length;
  }

  /** Adds every header of `input`. */
  extend(input: HeadersInput): void {
    // A WHATWG Headers is an iterable of [name, value] pairs too.
    if (typeof (input as Iterable<unknown>)[Symbol.iterator] === "function") {
      for (const pair of input as Iterable<readonly [string, HeaderValue]>) {
        if (!Array.isArray(pair) || pair.length !== 2)
          throw new InvalidArgumentError("headers must be [name, value] pairs");
        if (pair[1] === undefined || pair[1] === null) continue;
        this.append(pair[0], pair[1]);
      }
      return;
    }
    // from() passes no null: only a truthy input gets here.
    if (typeof input !== "object") throw new InvalidArgumentError("headers must be an object");
    for (const [name, value] of Object.entries(input)) {
      // undefined and null mean "leave it out", as everywhere a record is taken.
      if (value === undefined || value === null) continue;
      if (Array.isArray(value)) {
        for (const v of value) if (v !== undefined && v !== null) this.append(name, v);
      } else this.append(name, value as string | number | boolean);
    }
  }

  append(name: string, value: string | number | boolean): void {
    checkHeaderName(name);
    const v = typeof value === "number" || typeof value === "boolean" ? String(value) : value;
    if (typeof v !== "string") {
      throw new InvalidArgumentError(`header ${name} must be a string, number or boolean, got ${typeof v}`);
    }
    checkHeaderValue(name, v);
    this.#names.push(name);
    this.#lower.push(name.toLowerCase());
    this.#values.push(v);
  }

  /** Replaces every header called `name` with one. */
  set(name: string, value: string): void {
    this.delete(name);
    this.append(name, value);
  }

  has(name: string): boolean {
    return this.#lower.includes(name.toLowerCase());
  }

  get(name: string): string | undefined {
    return this.#values[this.#lower.indexOf(name.toLowerCase())];
  }

  /** Removes every header called `name` (any letter case). */
  delete(name: string): void {
    const lower = name.toLowerCase();
    for (let i = this.#lower.indexOf(lower); i >= 0; i = this.#lower.indexOf(lower, i)) {
      this.#names.splice(i, 1);
      this.#lower.splice(i, 1);
      this.#values.splice(i, 1);
    }
  }

  /** Appends every header of `other`, repeats included, after this list's own. */
  appendAll(other: HeaderList): void {
    this.#names.push(...other.#names);
    this.#lower.push(...other.#lower);
    this.#values.push(...other.#values);
  }

  clone(): HeaderList {
    const copy = new HeaderList();
    copy.#names.push(...this.#names);
    copy.#lower.push(...this.#lower);
    copy.#values.push(...this.#values);
    return copy;
  }

  /** `[name, value, name, value, …]`, the form undici takes. */
  toFlat(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.#names.length; i++) out.push(this.#names[i]!, this.#values[i]!);
    return out;
  }

  toHeaders(): Headers {
    const h = new Headers();
    for (let i = 0; i < this.#names.length; i++) h.append(this.#names[i]!, this.#values[i]!);
    return h;
  }

  *[Symbol.iterator](): Iterator<[string, string]> {
    for (let i = 0; i < this.#names.length; i++) yield [this.#names[i]!, this.#values[i]!];
  }
}
