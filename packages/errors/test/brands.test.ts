import { describe, expect, it } from "vitest";
import * as errors from "../src/index.js";
import {
  ClientConnectionResetError,
  ClientConnectorError,
  ClientError,
  ClientOSError,
  InvalidURL,
  OSError,
  RedirectClientError,
  ServerTimeoutError,
  SocketTimeoutError,
  TimeoutError,
  ValueError,
} from "../src/index.js";

const classes = Object.entries(errors).filter(([, v]) => typeof v === "function") as [
  string,
  typeof ClientError,
][];

describe("the Symbol.for brands are a fixed contract between installed copies", () => {
  it("an error made by another version of the package matches the documented @x/errors:<Name> key", () => {
    // What an older or newer copy puts on its prototypes: only the registry keys, no shared code.
    const proto = Object.create(Error.prototype);
    for (const name of ["ClientError", "ClientConnectionError", "ClientOSError", "ClientConnectorError"]) {
      proto[Symbol.for(`@x/errors:${name}`)] = true;
    }
    proto[Symbol.for("@x/errors:trait:OSError")] = true;
    const foreign: unknown = Object.create(proto);
    expect(foreign instanceof ClientConnectorError).toBe(true);
    expect(foreign instanceof ClientError).toBe(true);
    expect(foreign instanceof OSError).toBe(true);
    expect(foreign instanceof errors.ClientSSLError).toBe(false);
    expect(foreign instanceof TimeoutError).toBe(false);
  });

  it("every trait answers to its own documented key, and to no other trait's", () => {
    const traits = { OSError, TimeoutError, ValueError, RedirectClientError };
    for (const [name, trait] of Object.entries(traits)) {
      expect(trait.name).toBe(name);
      const marked = { [Symbol.for(`@x/errors:trait:${name}`)]: true };
      for (const [otherName, other] of Object.entries(traits)) {
        expect(marked instanceof other, `${name} mark instanceof ${otherName}`).toBe(other === trait);
      }
    }
  });

  it("a key without the package prefix is someone else's and matches nothing", () => {
    for (const name of ["ClientError", "ClientConnectorError", "trait:OSError", "trait:TimeoutError"]) {
      const stranger = { [Symbol.for(name)]: true };
      expect(stranger instanceof ClientError).toBe(false);
      expect(stranger instanceof ClientConnectorError).toBe(false);
      expect(stranger instanceof OSError).toBe(false);
      expect(stranger instanceof TimeoutError).toBe(false);
    }
  });

  it("agree with the ordinary prototype check for any value, functions included", () => {
    const obj = Object.create(ClientConnectorError.prototype);
    const fn = Object.setPrototypeOf(() => {}, ClientConnectorError.prototype);
    for (const value of [obj, fn]) {
      expect(value instanceof ClientConnectorError).toBe(true);
      expect(value instanceof ClientOSError).toBe(true);
      expect(value instanceof OSError).toBe(true);
      expect(value instanceof errors.ClientSSLError).toBe(false);
    }
    const timeoutFn = Object.setPrototypeOf(() => {}, ServerTimeoutError.prototype);
    expect(timeoutFn instanceof TimeoutError).toBe(true);
  });
});

describe("brands stay out of sight", () => {
  it.each(classes)("%s has no enumerable static keys beyond Error's own", (_name, cls) => {
    expect(Object.keys(cls)).toEqual([]);
    const seen: string[] = [];
    for (const key in cls) seen.push(key);
    const native: string[] = [];
    for (const key in Error) native.push(key);
    expect(seen).toEqual(native);
  });

  it.each(classes)("copying the prototype of %s does not copy its identity", (_name, cls) => {
    const copy: unknown = { ...cls.prototype };
    expect(copy instanceof ClientError).toBe(false);
    expect(copy instanceof cls).toBe(false);
    expect(copy instanceof OSError || copy instanceof TimeoutError || copy instanceof ValueError).toBe(false);
    expect(Object.getOwnPropertySymbols(copy as object)).toEqual([]);
  });

  it("a for…in walk over an error sees its own fields only, as with a built-in Error", () => {
    const err = new ClientConnectorError({ host: "h", port: 1, ssl: false });
    const keys: string[] = [];
    for (const key in err) keys.push(key);
    expect(keys).not.toContain("name");
    expect(keys).not.toContain("code");
    expect(keys.sort()).toEqual(Object.keys(err).sort());
  });
});

describe("name and code behave like Error.prototype.name", () => {
  const native = Object.getOwnPropertyDescriptor(Error.prototype, "name");

  it.each(classes)("%s: writable, configurable, not enumerable", (name, cls) => {
    for (const key of ["name", "code"]) {
      const d = Object.getOwnPropertyDescriptor(cls.prototype, key);
      expect(d, `${name}.prototype.${key}`).toEqual({ ...native, value: d?.value });
    }
  });

  it("a user subclass may set its own name and code in the constructor, as with any Error", () => {
    class QuotaError extends ClientError {
      constructor(message: string) {
        super(message);
        this.name = "QuotaError";
        (this as { code: string }).code = "APP_QUOTA";
      }
    }
    const err = new QuotaError("over quota");
    expect(err.name).toBe("QuotaError");
    expect(err.code).toBe("APP_QUOTA");
    expect(String(err)).toBe("QuotaError: over quota");
    expect(err instanceof ClientError).toBe(true);
    // The parent's values are untouched.
    expect(new ClientError("x").name).toBe("ClientError");
    expect(new ClientError("x").code).toBe("X_CLIENT_ERROR");
  });

  it("a single instance may be renamed by assignment", () => {
    const err = new SocketTimeoutError();
    err.name = "ReadTimeout";
    expect(String(err)).toBe("ReadTimeout: Timeout on reading data from socket");
    expect(err instanceof TimeoutError).toBe(true);
  });
});

describe("traits on the classes that need them", () => {
  it("ClientConnectionResetError is an OSError, as in aiohttp", () => {
    expect(new ClientConnectionResetError("reset by peer") instanceof OSError).toBe(true);
    expect(new ClientConnectionResetError("reset by peer") instanceof TimeoutError).toBe(false);
  });

  it("InvalidURL is a ValueError but not a redirect error", () => {
    expect(new InvalidURL("x") instanceof ValueError).toBe(true);
    expect(new InvalidURL("x") instanceof RedirectClientError).toBe(false);
  });
});
