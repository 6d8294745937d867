import { type CookieJar, DummyCookieJar } from "@x/cookies";
import { describe, expectTypeOf, it } from "vitest";
import type { RetryInfo } from "../src/index.js";
import {
  type ClientResponse,
  ClientSession,
  type RequestOptions,
  type WSMessage,
  WSMsgType,
  type WSMsgTypeName,
} from "../src/index.js";

// Type tests: checked by `tsc` in the package's typecheck step (run in CI). Each
// `@ts-expect-error` fails the check if the line it guards stops being an error.

describe("what TypeScript infers and refuses", () => {
  it("options: misspelled and mistyped ones are errors", () => {
    // @ts-expect-error — `allowRedirect` is not an option (`allowRedirects` is).
    const misspelled: RequestOptions = { allowRedirect: false };
    // @ts-expect-error — timeouts are numbers of milliseconds, not strings.
    const mistyped: RequestOptions = { timeout: { total: "5s" } };
    // @ts-expect-error — the session has no `maxRedirect`.
    new ClientSession({ maxRedirect: 3 });
    const fine: RequestOptions = { params: { page: 2, q: null }, headers: { "X-N": 1, "X-Off": undefined } };
    expectTypeOf(misspelled).toEqualTypeOf<RequestOptions>();
    expectTypeOf(mistyped).toEqualTypeOf<RequestOptions>();
    expectTypeOf(fine).toEqualTypeOf<RequestOptions>();
  });

  it("responses and their bodies", async () => {
    const session = new ClientSession();
    const get = () => session.get("http://127.0.0.1:9/");
    expectTypeOf(get).returns.resolves.toEqualTypeOf<ClientResponse>();
    type User = { id: number; name: string };
    const user = async (resp: ClientResponse) => resp.json<User>();
    expectTypeOf(user).returns.resolves.toEqualTypeOf<User>();
    const text = async (resp: ClientResponse) => resp.text();
    expectTypeOf(text).returns.resolves.toEqualTypeOf<string>();
    const bytes = async (resp: ClientResponse) => resp.read();
    expectTypeOf(bytes).returns.resolves.toEqualTypeOf<Buffer>();
    expectTypeOf<ClientResponse["status"]>().toEqualTypeOf<number>();
    expectTypeOf<ClientResponse["headers"]>().toEqualTypeOf<Headers>();
    await session.close();
  });

  it("the session keeps the type of the jar it was given", async () => {
    const plain = new ClientSession();
    expectTypeOf(plain.cookieJar).toEqualTypeOf<CookieJar>();
    const dummy = new ClientSession({ cookieJar: new DummyCookieJar() });
    expectTypeOf(dummy.cookieJar).toEqualTypeOf<DummyCookieJar>();
    await plain.close();
    await dummy.close();
  });

  it("websocket messages narrow on type", () => {
    const handle = (msg: WSMessage) => {
      if (msg.type === WSMsgType.TEXT) expectTypeOf(msg.data).toEqualTypeOf<string>();
      if (msg.type === WSMsgType.BINARY) expectTypeOf(msg.data).toEqualTypeOf<Buffer>();
      if (msg.type === WSMsgType.ERROR) expectTypeOf(msg.data).toEqualTypeOf<Error>();
      if (msg.type === WSMsgType.CLOSE) expectTypeOf(msg.data).toEqualTypeOf<number>();
    };
    expectTypeOf(handle).parameter(0).toEqualTypeOf<WSMessage>();
    expectTypeOf(WSMsgType[1]).toEqualTypeOf<WSMsgTypeName | undefined>();
  });

  it("a retry's error is an Error", () => {
    const onRetry = (info: RetryInfo) => info.error?.name;
    expectTypeOf(onRetry).returns.toEqualTypeOf<string | undefined>();
  });
});
