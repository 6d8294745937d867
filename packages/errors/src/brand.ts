/**
 * Brands make `instanceof` work across two installed copies of `@x/errors`: every class and
 * trait is identified by a `Symbol.for` key that both copies share, not by object identity.
 */

const PREFIX = "@x/errors:";

/** The registry symbol that marks instances of the class or trait called `name`. */
export function brandSymbol(name: string): symbol {
  return Symbol.for(PREFIX + name);
}

/** True when `value` carries `brand` on itself or its prototype chain. */
export function hasBrand(value: unknown, brand: symbol): boolean {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    (value as Record<symbol, unknown>)[brand] === true
  );
}

/**
 * A second parent that aiohttp expresses with multiple inheritance (`OSError`, `TimeoutError`,
 * `ValueError`, `RedirectClientError`). JavaScript classes have one parent, so these are
 * checked with `err instanceof TimeoutError`, which TypeScript narrows like a class.
 */
export interface ErrorTrait<T> {
  /** The `Symbol.for` key carried by every error that has this trait. */
  readonly brand: symbol;
  /** The trait's name, as it appears in the docs. */
  readonly name: string;
  [Symbol.hasInstance](value: unknown): value is T;
}

export function defineTrait<T>(name: string, alsoMatches?: (value: unknown) => boolean): ErrorTrait<T> {
  const brand = brandSymbol(`trait:${name}`);
  return Object.freeze({
    brand,
    name,
    [Symbol.hasInstance](value: unknown): value is T {
      return hasBrand(value, brand) || (alsoMatches?.(value) ?? false);
    },
  });
}

interface BrandableClass {
  readonly prototype: object;
}

/**
 * Stamps a class: its own brand (used by `instanceof`), the brands of its traits, and the
 * `name` and `code` every instance reports. All live on the prototype, so they cost nothing
 * per instance and a subclass inherits its parents' brands.
 */
export function brandClass(
  cls: BrandableClass,
  name: string,
  code: string,
  traits: readonly ErrorTrait<unknown>[] = [],
): void {
  const brand = brandSymbol(name);
  Object.defineProperty(cls, "brand", { value: brand, enumerable: false });
  const proto = cls.prototype;
  Object.defineProperty(proto, brand, { value: true, enumerable: false });
  for (const trait of traits) Object.defineProperty(proto, trait.brand, { value: true, enumerable: false });
  Object.defineProperty(proto, "name", {
    value: name,
    enumerable: false,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(proto, "code", {
    value: code,
    enumerable: false,
    writable: true,
    configurable: true,
  });
}
