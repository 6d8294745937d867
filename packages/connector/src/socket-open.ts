import { connect as netConnect, type Socket } from "node:net";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { ConnectionTimeoutError, ServerFingerprintMismatch } from "@x/errors";
import { type ConnectTarget, tcpError, tlsError } from "./error-mapping.js";
import { Fingerprint } from "./fingerprint.js";
import type { ResolvedTls } from "./ssl.js";

/** Runs `start` until it settles, the deadline passes, or `signal` aborts; cleans up on loss. */
export function within<T extends Socket>(
  socket: T,
  events: {
    ok: string;
    timeout: number | null;
    signal: AbortSignal;
    onTimeout: () => Error;
    mapError: (err: unknown) => Error;
  },
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (err: unknown) => {
      clearTimeout(timer);
      socket.off(events.ok, onOk);
      socket.off("error", onError);
      events.signal.removeEventListener("abort", onAbort);
      if (err === undefined) {
        resolve(socket);
      } else {
        socket.destroy();
        reject(err);
      }
    };
    const onOk = () => done(undefined);
    const onError = (err: unknown) => done(events.mapError(err));
    const onAbort = () => done(events.signal.reason);
    socket.once(events.ok, onOk);
    socket.once("error", onError);
    // done() takes it off again.
    events.signal.addEventListener("abort", onAbort);
    if (events.timeout !== null && events.timeout > 0) {
      timer = setTimeout(() => done(events.onTimeout()), events.timeout);
    }
  });
}

/** Where and how to open one TCP connection. */
export interface TcpTarget extends ConnectTarget {
  /** The IP address (or, for Unix sockets, nothing) to connect to. */
  address: string;
  family: 4 | 6;
  localAddress?: string | undefined;
  localPort?: number | undefined;
}

/** Opens a TCP connection to `target.address`, mapping failures to `ClientConnectorError`. */
export function openTcp(target: TcpTarget, signal: AbortSignal, timeout: number | null): Promise<Socket> {
  signal.throwIfAborted();
  const socket = netConnect({
    // highWaterMark is a stream option Node's net.Socket honours but its connect typings omit.
    ...({ highWaterMark: 64 * 1024 } as object),
    host: target.address,
    port: target.port,
    family: target.family,
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: 60_000,
    // net.connect takes undefined as not given.
    localAddress: target.localAddress,
    localPort: target.localPort,
  });
  return within(socket, {
    ok: "connect",
    timeout,
    signal,
    onTimeout: () =>
      new ConnectionTimeoutError(`Connection timeout after ${timeout} ms`, {
        host: target.host,
        port: target.port,
      }),
    mapError: (err) => tcpError(err, target),
  });
}

const sessions = new Map<string, Buffer>();
const MAX_SESSIONS = 100;

/** Secures `socket` with TLS per `tls`, checking the pin; failures map to the TLS error classes. */
export async function secureSocket(
  socket: Socket,
  target: ConnectTarget & { servername: string | undefined; sessionKey: string },
  tls: ResolvedTls,
  signal: AbortSignal,
  timeout: number | null,
  alpn: readonly string[],
): Promise<TLSSocket> {
  const servername = target.servername;
  // Pinned connections always do a full handshake, so the pin is checked on a fresh certificate.
  const resumable = tls.fingerprint === undefined;
  const session = resumable ? sessions.get(target.sessionKey) : undefined;
  const secure = tlsConnect({
    // Read in 64 KiB pieces, as undici's own connector does: far fewer reads for large bodies.
    ...({ highWaterMark: 64 * 1024 } as object),
    ALPNProtocols: [...alpn],
    ...tls.options,
    socket,
    host: target.host,
    ...(servername !== undefined ? { servername } : {}),
    ...(session ? { session } : {}),
  });
  if (resumable) {
    secure.on("session", (data: Buffer) => {
      sessions.delete(target.sessionKey);
      sessions.set(target.sessionKey, data);
      if (sessions.size > MAX_SESSIONS) sessions.delete(sessions.keys().next().value as string);
    });
  }
  await within(secure, {
    ok: "secureConnect",
    timeout,
    signal,
    onTimeout: () =>
      new ConnectionTimeoutError(`TLS handshake timeout after ${timeout} ms`, {
        host: target.host,
        port: target.port,
      }),
    mapError: (err) => tlsError(err, target),
  });
  const pin = tls.fingerprint;
  if (pin) {
    const der = secure.getPeerX509Certificate()?.raw ?? Buffer.alloc(0);
    if (!pin.matches(der)) {
      secure.destroy();
      throw new ServerFingerprintMismatch({
        expected: pin.fingerprint,
        got: Fingerprint.digest(der),
        host: target.host,
        port: target.port,
      });
    }
  }
  return secure;
}
