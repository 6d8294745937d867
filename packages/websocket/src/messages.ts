import { InvalidArgumentError } from "@x/errors";

const TYPES = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  PING: 0x9,
  PONG: 0xa,
  CLOSE: 0x8,
  /** The client started the closing handshake. */
  CLOSING: 0x100,
  /** The connection is closed; every later `receive()` returns this. */
  CLOSED: 0x101,
  /** The connection failed; `data` is the error. */
  ERROR: 0x102,
} as const;

/** The name of a {@link WSMsgType} value. */
export type WSMsgTypeName = keyof typeof TYPES;

/**
 * Websocket message types, with aiohttp's values (the frame opcodes, plus three of its own).
 * As a Python `IntEnum`, it also names a value: `WSMsgType[msg.type]` is `"TEXT"`.
 */
export const WSMsgType: typeof TYPES & { readonly [type: number]: WSMsgTypeName | undefined } = Object.freeze(
  {
    ...TYPES,
    ...Object.fromEntries(Object.entries(TYPES).map(([name, value]) => [value, name])),
  },
) as typeof TYPES & { readonly [type: number]: WSMsgTypeName | undefined };

/** One of the {@link WSMsgType} values. */
export type WSMsgType = (typeof TYPES)[WSMsgTypeName];

/** The name of a message type (`wsMsgTypeName(msg.type)` → `"TEXT"`), as `WSMsgType[type]`. */
export function wsMsgTypeName(type: WSMsgType): WSMsgTypeName {
  return WSMsgType[type] as WSMsgTypeName;
}

interface Base {
  /** Parses `data` as JSON (for TEXT and BINARY messages). */
  json<T = unknown>(loads?: (text: string) => unknown): T;
}

/** A message from `receive()`: a discriminated union on `type`. */
export type WSMessage =
  | (Base & { readonly type: typeof WSMsgType.TEXT; readonly data: string; readonly extra: null })
  | (Base & { readonly type: typeof WSMsgType.BINARY; readonly data: Buffer; readonly extra: null })
  | (Base & {
      readonly type: typeof WSMsgType.PING | typeof WSMsgType.PONG;
      readonly data: Buffer;
      readonly extra: null;
    })
  | (Base & {
      readonly type: typeof WSMsgType.CLOSE;
      /** The close code. */
      readonly data: number;
      /** The close reason. */
      readonly extra: string;
    })
  | (Base & {
      readonly type: typeof WSMsgType.CLOSING | typeof WSMsgType.CLOSED;
      readonly data: null;
      readonly extra: null;
    })
  | (Base & { readonly type: typeof WSMsgType.ERROR; readonly data: Error; readonly extra: null });

class Message implements Base {
  readonly type: WSMsgType;
  readonly data: unknown;
  readonly extra: unknown;

  constructor(type: WSMsgType, data: unknown, extra: unknown) {
    this.type = type;
    this.data = data;
    this.extra = extra;
  }

  json<T = unknown>(loads: (text: string) => unknown = JSON.parse): T {
    if (typeof this.data === "string") return loads(this.data) as T;
    if (Buffer.isBuffer(this.data)) return loads(this.data.toString("utf8")) as T;
    throw new InvalidArgumentError(`a ${typeName(this.type)} message holds no JSON`);
  }
}

/** Makes a message object. */
export function message(type: WSMsgType, data: unknown = null, extra: unknown = null): WSMessage {
  return new Message(type, data, extra) as unknown as WSMessage;
}

/** The name of a message type, for error messages. */
export function typeName(type: WSMsgType): string {
  return WSMsgType[type] ?? String(type);
}

export const CLOSED_MESSAGE = message(WSMsgType.CLOSED);
export const CLOSING_MESSAGE = message(WSMsgType.CLOSING);
