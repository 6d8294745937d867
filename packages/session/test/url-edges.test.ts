import { ClientResponseError, InvalidUrlClientError } from "@x/errors";
import { echo, startHttpServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession, TraceConfig } from "../src/index.js";

// URL edges a user meets: what the server's request line says, what `resp.url` shows, and the
// errors (class, message, cause) for URLs that cannot be requested.

/** The request targets a server received, in order. */
async function targets() {
  const seen: string[] = [];
  const srv = await startHttpServer((req, res) => {
    seen.push(req.url ?? "");
    res.end("ok");
  });
  return { srv, seen };
}

async function failure(run: () => unknown): Promise<Error> {
  try {
    await run();
  } catch (err) {
    return err as Error;
  }
  throw new Error("nothing failed");
}

describe("malformed http(s) and ws(s) URLs", () => {
  it("a relative reference whose query holds a URL with a scheme still resolves against baseUrl", async () => {
    const { srv, seen } = await targets();
    await using _srv = srv;
    await using session = new ClientSession({ baseUrl: srv.url("/api/") });
    expect((await session.get("next?to=http:x&back=https:")).status).toBe(200);
    expect(seen).toEqual(["/api/next?to=http:x&back=https:"]);
  });

  it("a redirect to a path whose query holds http: is followed", async () => {
    await using srv = await startHttpServer((req, res) => {
      if (req.url === "/from") res.writeHead(302, { location: "/to?u=http:/x" }).end();
      else echo(req, res);
    });
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/from"));
    expect([resp.status, resp.url.pathname, resp.url.search]).toEqual([200, "/to", "?u=http:/x"]);
  });

  it.each([
    ["ws:x", "ws: must be followed by // and a host"],
    ["WS:/127.0.0.1:9/", "WS: must be followed by // and a host"],
    ["wss:x", "wss: must be followed by // and a host"],
  ])("%s is refused as malformed, not taken as a host", async (url, description) => {
    await using session = new ClientSession();
    const err = await failure(() => session.get(url));
    expect(err).toBeInstanceOf(InvalidUrlClientError);
    expect(err).toMatchObject({ url, description });
  });

  it("ws:/host without // is refused for a websocket too", async () => {
    await using session = new ClientSession();
    const err = await failure(() => session.wsConnect("ws:/127.0.0.1:9/chat"));
    expect(err).toBeInstanceOf(InvalidUrlClientError);
    expect(err).toMatchObject({ description: "ws: must be followed by // and a host" });
  });

  it.each(["/a//?x=1", "/a///b", "/a//#top"])(
    "a path holding // before /, ? or # (%s) is not an empty host",
    async (path) => {
      const { srv, seen } = await targets();
      await using _srv = srv;
      await using session = new ClientSession();
      expect((await session.get(`${srv.origin}${path}`)).status).toBe(200);
      expect(seen).toEqual([path.replace(/#.*$/, "")]);
    },
  );

  it("a path that ends in // is no empty host", async () => {
    const seen: string[] = [];
    await using srv = await startHttpServer((req, res) => {
      seen.push(req.url ?? "");
      res.end("ok");
    });
    await using session = new ClientSession();
    await using resp = await session.get(`http://127.0.0.1:${srv.port}//`);
    expect(resp.status).toBe(200);
    expect(seen).toEqual(["//"]);
  });
});

describe("errors carry the parser's reason", () => {
  it("an unparsable baseUrl: InvalidUrlClientError caused by the URL parser's TypeError", async () => {
    const err = await failure(() => new ClientSession({ baseUrl: "api/" }));
    expect(err).toBeInstanceOf(InvalidUrlClientError);
    expect(err).toMatchObject({ url: "api/", description: "baseUrl must be an absolute URL" });
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it.each([
    [undefined, "not a valid absolute URL"],
    ["http://127.0.0.1:9/api/", "not a valid URL reference"],
  ])("an unparsable URL (baseUrl %s): caused by the URL parser's TypeError", async (baseUrl, description) => {
    await using session = new ClientSession({ baseUrl });
    const err = await failure(() => session.get("http://[::1/x"));
    expect(err).toBeInstanceOf(InvalidUrlClientError);
    expect(err).toMatchObject({ url: "http://[::1/x", description });
    expect(err.cause).toBeInstanceOf(TypeError);
  });
});

describe("params", () => {
  it("params: null adds nothing", async () => {
    const { srv, seen } = await targets();
    await using _srv = srv;
    await using session = new ClientSession();
    expect((await session.get(srv.url("/p?k=1"), { params: null as never })).status).toBe(200);
    expect(seen).toEqual(["/p?k=1"]);
  });

  it("a params string loses one leading ? only; a ? inside it is sent as it is", async () => {
    const { srv, seen } = await targets();
    await using _srv = srv;
    await using session = new ClientSession();
    await (await session.get(srv.url("/p"), { params: "a=1?b=2" })).read();
    await (await session.get(srv.url("/p?k=1"), { params: "?a=1?b" })).read();
    expect(seen).toEqual(["/p?a=1?b=2", "/p?k=1&a=1?b"]);
  });
});

describe("credentials in the URL", () => {
  it("a password without a login becomes Basic auth and leaves resp.url", async () => {
    const auth: Array<string | undefined> = [];
    await using srv = await startHttpServer((req, res) => {
      auth.push(req.headers.authorization);
      res.end("ok");
    });
    await using session = new ClientSession();
    const url = `http://:s3cret@127.0.0.1:${srv.port}/x`;
    await using resp = await session.get(url);
    expect(auth).toEqual([`Basic ${Buffer.from(":s3cret").toString("base64")}`]);
    expect(resp.url.href).toBe(srv.url("/x"));
    expect(resp.requestInfo.url.href).toBe(srv.url("/x"));
    expect(resp.realUrl.href).toBe(srv.url("/x"));
  });

  it("leaves realUrl (in results, errors and traces) without credentials, as aiohttp; the fragment stays", async () => {
    const auth: Array<string | undefined> = [];
    await using srv = await startHttpServer((req, res) => {
      auth.push(req.headers.authorization);
      if (req.url === "/hop") {
        res.statusCode = 302;
        res.setHeader("location", `http://ada:second@127.0.0.1:${srv.port}/fail`);
      } else if (req.url === "/fail") res.statusCode = 500;
      res.end("ok");
    });
    const started: string[] = [];
    const trace = new TraceConfig();
    trace.onRequestStart.append((_s, _c, p) => {
      started.push(p.url.href);
    });
    await using session = new ClientSession({ traceConfigs: [trace] });
    await using resp = await session.get(`http://ada:s3cret@127.0.0.1:${srv.port}/x#part`);
    expect(resp.realUrl.href).toBe(`${srv.url("/x")}#part`);
    expect(resp.requestInfo.realUrl.href).toBe(`${srv.url("/x")}#part`);
    expect(started).toEqual([`${srv.url("/x")}#part`]);
    const err = await session
      .get(`http://ada:s3cret@127.0.0.1:${srv.port}/hop`, { raiseForStatus: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientResponseError);
    expect((err as ClientResponseError).requestInfo.realUrl.href).toBe(srv.url("/fail"));
    expect(auth).toEqual([
      `Basic ${Buffer.from("ada:s3cret").toString("base64")}`,
      `Basic ${Buffer.from("ada:s3cret").toString("base64")}`,
      `Basic ${Buffer.from("ada:second").toString("base64")}`,
    ]);
  });
});
