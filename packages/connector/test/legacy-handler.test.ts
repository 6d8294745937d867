import type { Duplex } from "node:stream";
import { type RawConnection, startHttp2Server, startRawServer } from "@x/fixtures";
import { errors as undiciErrors } from "undici";
import { describe, expect, it } from "vitest";
import { TCPConnector } from "../src/index.js";

// undici 7's callback handlers (what its own request()/stream()/fetch() pass) given straight to
// dispatch(), as a user's own code written against undici 7 does: what each callback receives.

type Raw = Array<Buffer | string>;

interface Seen {
  events: string[];
  status?: number;
  statusText?: string;
  headers?: Raw;
  body: string;
  trailers?: Raw;
  upgrade?: { status: number; headers: Raw; socket: Duplex };
}

/** Dispatches with a callback-API handler and resolves with what it saw once the request ends. */
function dispatchLegacy(connector: TCPConnector, opts: Record<string, unknown>): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const seen: Seen = { events: [], body: "" };
    const handler = {
      onConnect(abort: unknown) {
        seen.events.push(`connect:${typeof abort}`);
      },
      onResponseStarted() {
        seen.events.push("started");
      },
      onHeaders(status: number, raw: Raw, resume: unknown, statusText: string) {
        seen.events.push(`headers:${typeof resume}`);
        Object.assign(seen, { status, headers: raw, statusText });
        return true;
      },
      onData(chunk: Buffer) {
        seen.body += chunk.toString("latin1");
        return true;
      },
      onComplete(trailers: Raw) {
        seen.events.push("complete");
        seen.trailers = trailers;
        resolve(seen);
      },
      onUpgrade(status: number, headers: Raw, socket: Duplex) {
        seen.events.push("upgrade");
        seen.upgrade = { status, headers, socket };
        resolve(seen);
      },
      onError: reject,
    };
    connector.dispatch({ method: "GET", path: "/", ...opts } as never, handler as never);
  });
}

const bytes = (raw: Raw | undefined) =>
  raw?.map((item) => (Buffer.isBuffer(item) ? `buf:${item.toString("latin1")}` : `str:${item}`));

describe("an undici 7 callback handler", () => {
  it.each<[string, unknown]>([
    ["null", null],
    ["a string", "handler"],
    ["a function", () => {}],
  ])("is refused when it is %s, with undici's InvalidArgumentError", async (_what, handler) => {
    await using connector = new TCPConnector();
    let err: unknown;
    try {
      connector.dispatch({ origin: "http://127.0.0.1:9", path: "/", method: "GET" }, handler as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(undiciErrors.InvalidArgumentError);
    expect((err as Error).message).toBe("handler must be an object");
  });

  it("gets HTTP/1.1 headers and trailers raw, as the server wrote them", async () => {
    await using srv = await startRawServer(async (conn: RawConnection) => {
      await conn.readHead();
      await conn.write(
        "HTTP/1.1 200 Fine\r\nX-Case: Mixed\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trailer-Case\r\n\r\n" +
          "2\r\nhi\r\n0\r\nX-Trailer-Case: Yes\r\n\r\n",
      );
      await conn.readToEnd().catch(() => {});
    });
    await using connector = new TCPConnector();
    const seen = await dispatchLegacy(connector, { origin: srv.origin });
    expect(seen.events).toEqual(["connect:function", "started", "headers:function", "complete"]);
    expect([seen.status, seen.statusText, seen.body]).toEqual([200, "Fine", "hi"]);
    expect(bytes(seen.headers)).toEqual([
      "buf:X-Case",
      "buf:Mixed",
      "buf:Transfer-Encoding",
      "buf:chunked",
      "buf:Trailer",
      "buf:X-Trailer-Case",
    ]);
    expect(bytes(seen.trailers)).toEqual(["buf:X-Trailer-Case", "buf:Yes"]);
  });

  it("gets HTTP/2 trailers as name/value pairs, and none as an empty list", async () => {
    await using srv = await startHttp2Server((req, res) => {
      if (req.url === "/trailers") res.addTrailers({ "x-trailer": "yes", "x-other": "2" });
      res.end("h2");
    });
    await using connector = new TCPConnector({ allowH2: true, ssl: { ca: srv.ca } });
    const withTrailers = await dispatchLegacy(connector, { origin: srv.origin, path: "/trailers" });
    expect(withTrailers.body).toBe("h2");
    expect(bytes(withTrailers.trailers)).toEqual(["str:x-trailer", "str:yes", "str:x-other", "str:2"]);
    const without = await dispatchLegacy(connector, { origin: srv.origin, path: "/none" });
    expect(without.trailers).toEqual([]);
    expect(srv.versions).toEqual(["2.0", "2.0"]);
  });

  it("gets an upgrade's headers raw, with the socket", async () => {
    await using srv = await startRawServer(async (conn: RawConnection) => {
      await conn.readHead();
      await conn.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: Echo\r\nConnection: Upgrade\r\nX-Case: Mixed\r\n\r\n",
      );
      const ping = await conn.readBytes(4);
      await conn.end(ping);
    });
    await using connector = new TCPConnector();
    const seen = await dispatchLegacy(connector, { origin: srv.origin, upgrade: "Echo" });
    const upgrade = seen.upgrade!;
    expect(upgrade.status).toBe(101);
    expect(bytes(upgrade.headers)).toEqual([
      "buf:Upgrade",
      "buf:Echo",
      "buf:Connection",
      "buf:Upgrade",
      "buf:X-Case",
      "buf:Mixed",
    ]);
    const echoed = new Promise<string>((r) => upgrade.socket.once("data", (d: Buffer) => r(d.toString())));
    upgrade.socket.write("ping");
    expect(await echoed).toBe("ping");
    upgrade.socket.destroy();
  });
});
