import { Readable } from "node:stream";
import { gunzipSync, inflateSync } from "node:zlib";
import {
  ClientStateError,
  InvalidArgumentError,
  InvalidUrlClientError,
  NonHttpUrlClientError,
} from "@x/errors";
import { type EchoReply, echo, echoHeader, readBody, startHttpServer, startRawServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

async function echoJson(resp: Awaited<ReturnType<ClientSession["get"]>>): Promise<EchoReply> {
  return (await resp.json()) as EchoReply;
}

describe("verbs and URLs", () => {
  it.each(["get", "post", "put", "patch", "delete", "options"] as const)(
    "%s sends its method",
    async (verb) => {
      await using srv = await startHttpServer(echo);
      await using session = new ClientSession();
      expect((await echoJson(await session[verb](srv.url("/v")))).method).toBe(verb.toUpperCase());
    },
  );

  it("head() gets no body", async () => {
    await using srv = await startHttpServer((_req, res) => res.end("body"));
    await using session = new ClientSession();
    const resp = await session.head(srv.url());
    expect(resp.method).toBe("HEAD");
    expect((await resp.read()).length).toBe(0);
  });

  it("each method helper sends its method; head() alone stops at a redirect unless asked", async () => {
    await using srv = await startHttpServer((req, res) => {
      if (req.url === "/moved") res.writeHead(307, { location: "/here" }).end();
      else res.end(`${req.method} ${req.url}`);
    });
    await using session = new ClientSession();
    const helpers = [
      ["get", (u: string) => session.get(u)],
      ["post", (u: string) => session.post(u)],
      ["put", (u: string) => session.put(u)],
      ["patch", (u: string) => session.patch(u)],
      ["delete", (u: string) => session.delete(u)],
      ["options", (u: string) => session.options(u)],
    ] as const;
    for (const [name, send] of helpers) {
      const resp = await send(srv.url("/moved"));
      expect(await resp.text(), name).toBe(`${name.toUpperCase()} /here`);
    }
    const head = await session.head(srv.url("/moved"));
    expect([head.status, head.method, head.url.pathname]).toEqual([307, "HEAD", "/moved"]);
    const followed = await session.head(srv.url("/moved"), { allowRedirects: true });
    expect([followed.status, followed.url.pathname]).toEqual([200, "/here"]);
  });

  it("request() takes any token method, upper-cased", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    expect((await echoJson(await session.request("propfind", srv.url())))?.method).toBe("PROPFIND");
  });

  it.each([
    [{ q: "a b", n: 1, flag: true }, "/p?q=a+b&n=1&flag=true"],
    [{ tag: ["x", "y"] }, "/p?tag=x&tag=y"],
    [
      [
        ["k", "1"],
        ["k", "2"],
      ],
      "/p?k=1&k=2",
    ],
    [new URLSearchParams("a=1&b=%20"), "/p?a=1&b=+"],
    ["already=encoded%20here", "/p?already=encoded%20here"],
  ])("params %j", async (params, path) => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    expect((await echoJson(await session.get(srv.url("/p"), { params: params as never }))).url).toBe(path);
  });

  it("appends params to an existing query", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    expect((await echoJson(await session.get(srv.url("/p?x=1"), { params: { y: 2 } }))).url).toBe(
      "/p?x=1&y=2",
    );
  });

  it("refuses unusable URLs before any I/O, saying what is wrong", async () => {
    await using srv = await startRawServer(async () => {});
    await using session = new ClientSession();
    await using based = new ClientSession({ baseUrl: `http://127.0.0.1:${srv.port}/api/` });
    const cases: [ClientSession, unknown, typeof InvalidUrlClientError, string][] = [
      [session, "not a url", InvalidUrlClientError, "not a valid absolute URL"],
      [based, "http://[::1/x", InvalidUrlClientError, "not a valid URL reference"],
      [
        session,
        "ftp://example.test/",
        NonHttpUrlClientError,
        "unsupported scheme ftp: (expected http: or https:)",
      ],
      [
        session,
        "file:///etc/passwd",
        NonHttpUrlClientError,
        "unsupported scheme file: (expected http: or https:)",
      ],
      [session, "http:/x", InvalidUrlClientError, "http: must be followed by // and a host"],
      [based, " HTTPS:x", InvalidUrlClientError, "HTTPS: must be followed by // and a host"],
      [session, "http:\\\\x", InvalidUrlClientError, "http: must be followed by // and a host"],
      [session, "http://", InvalidUrlClientError, "the URL has an empty host"],
      [session, "http:///x", InvalidUrlClientError, "the URL has an empty host"],
      [session, "https://?q=1", InvalidUrlClientError, "the URL has an empty host"],
      [based, "http://#f", InvalidUrlClientError, "the URL has an empty host"],
      [session, 42, InvalidUrlClientError, "the URL must be a string or a URL"],
      [session, "http://h.test/\nX: 1", InvalidUrlClientError, "CR, LF and NUL are not allowed in a URL"],
    ];
    for (const [s, input, cls, description] of cases) {
      const err = await s.get(input as string).catch((e: unknown) => e);
      expect(err, String(input)).toBeInstanceOf(cls);
      expect(err, String(input)).toMatchObject({ url: String(input), description });
    }
    expect(srv.stats.accepted).toBe(0);
  });

  it("refuses params it cannot send, saying why", async () => {
    await using session = new ClientSession();
    const bad: [unknown, string][] = [
      ["a=1\r\nX: 2", "params must not contain CR, LF or NUL"],
      [[["a"]], "params must be [name, value] pairs"],
      [[["a", "1", "2"]], "params must be [name, value] pairs"],
      [["ab"], "params must be [name, value] pairs"],
      [{ a: { b: 1 } }, 'param "a" must be a string, number or boolean'],
      [{ list: [1, Symbol("s")] }, 'param "list" must be a string, number or boolean'],
    ];
    for (const [params, message] of bad) {
      const err = await session
        .get("http://127.0.0.1:9/", { params: params as never })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toBe(message);
    }
  });

  it("takes params as text, with or without its ?, and leaves the query alone when there are none", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const url = async (path: string, params: unknown) =>
      (await echoJson(await session.get(srv.url(path), { params: params as never }))).url;
    expect(await url("/p", "?a=1&b=%20")).toBe("/p?a=1&b=%20");
    expect(await url("/p?x=1", "a=1")).toBe("/p?x=1&a=1");
    expect(await url("/p?x=1", "?")).toBe("/p?x=1");
    expect(await url("/p", "")).toBe("/p");
    expect(await url("/p", {})).toBe("/p");
    expect(await url("/p?x=1", { a: null, b: undefined, c: [null, undefined] })).toBe("/p?x=1");
    expect(await url("/p", { a: [1, null, true] })).toBe("/p?a=1&a=true");
    expect(await url("/p", new URLSearchParams([["q", "a b"]]))).toBe("/p?q=a+b");
    expect(await url("/p", new Map([["m", 1]]))).toBe("/p?m=1");
  });
});

describe("CR, LF and NUL never reach the wire", () => {
  it.each([
    ["method", (s: ClientSession, url: string) => s.request("GET\r\nX: y", url)],
    ["URL path", (s: ClientSession, url: string) => s.get(`${url}a\r\nX-Injected: 1`)],
    ["URL query", (s: ClientSession, url: string) => s.get(`${url}?q=\n`)],
    [
      "header value",
      (s: ClientSession, url: string) => s.get(url, { headers: { "X-A": "1\r\nX-Injected: 1" } }),
    ],
    ["header name", (s: ClientSession, url: string) => s.get(url, { headers: { "X-A\r\nX-B": "1" } })],
    ["NUL in header", (s: ClientSession, url: string) => s.get(url, { headers: { "X-A": "a\0b" } })],
    ["params string", (s: ClientSession, url: string) => s.get(url, { params: "a=1\r\nX: 2" })],
  ])("%s", async (_what, send) => {
    await using srv = await startRawServer(async () => {});
    await using session = new ClientSession();
    const err = await send(session, srv.url("/")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toMatch(/^X_(INVALID_ARGUMENT|INVALID_URL_CLIENT_ERROR)$/);
    expect(srv.received().length).toBe(0);
    expect(srv.stats.accepted).toBe(0);
  });
});

describe("auto headers", () => {
  it("sends Host first, then Accept, Accept-Encoding and a User-Agent naming the library and Node", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const reply = await echoJson(await session.get(srv.url()));
    expect(reply.headers[0]).toEqual(["host", `127.0.0.1:${srv.port}`]);
    expect(echoHeader(reply, "accept")).toBe("*/*");
    expect(echoHeader(reply, "accept-encoding")).toMatch(/^gzip, deflate, br(, zstd)?$/);
    expect(echoHeader(reply, "user-agent")).toMatch(/^Node\.js\/\d+\.\d+\.\d+ x-session\/\d+\.\d+\.\d+/);
  });

  it("skips each auto header on request, per session or per request", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession({ skipAutoHeaders: ["User-Agent"] });
    const reply = await echoJson(
      await session.post(srv.url(), {
        data: "x",
        skipAutoHeaders: ["accept", "Accept-Encoding", "content-type"],
      }),
    );
    for (const h of ["user-agent", "accept", "accept-encoding", "content-type"])
      expect(echoHeader(reply, h)).toBeUndefined();
  });

  it("lets given headers win over auto ones, and request headers over session ones", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession({
      headers: { "User-Agent": "mine/1", "X-Session": "s", "X-Both": "session" },
    });
    const reply = await echoJson(
      await session.get(srv.url(), { headers: { "x-both": "request", Accept: "text/html" } }),
    );
    expect(echoHeader(reply, "user-agent")).toBe("mine/1");
    expect(echoHeader(reply, "x-session")).toBe("s");
    expect(reply.headers.filter(([n]) => n.toLowerCase() === "x-both")).toEqual([["x-both", "request"]]);
    expect(echoHeader(reply, "accept")).toBe("text/html");
  });

  it("keeps repeated headers", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const reply = await echoJson(
      await session.get(srv.url(), {
        headers: [
          ["X-Multi", "a"],
          ["X-Multi", "b"],
        ],
      }),
    );
    expect(reply.headers.filter(([n]) => n === "X-Multi").map(([, v]) => v)).toEqual(["a", "b"]);
  });

  it("keeps a session's repeated headers beside a request's own, and a request's replace them all", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession({
      headers: [
        ["X-Multi", "s1"],
        ["X-Multi", "s2"],
        ["X-Other", "o"],
      ],
    });
    const multi = async (headers?: Record<string, string>) =>
      (await echoJson(await session.get(srv.url(), { headers }))).headers
        .filter(([n]) => n.toLowerCase() === "x-multi" || n.toLowerCase() === "x-request")
        .map(([n, v]) => `${n}: ${v}`);
    expect(await multi()).toEqual(["X-Multi: s1", "X-Multi: s2"]);
    expect(await multi({ "X-Request": "r" })).toEqual(["X-Request: r", "X-Multi: s1", "X-Multi: s2"]);
    expect(await multi({ "x-multi": "r" })).toEqual(["x-multi: r"]);
  });

  it("POST, PUT and PATCH without a body say Content-Length: 0 and octet-stream", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const reply = await echoJson(await session.post(srv.url()));
    expect(echoHeader(reply, "content-length")).toBe("0");
    expect(echoHeader(reply, "content-type")).toBe("application/octet-stream");
    const get = await echoJson(await session.get(srv.url()));
    expect(echoHeader(get, "content-length")).toBeUndefined();
    expect(echoHeader(get, "content-type")).toBeUndefined();
  });
});

describe("bodies", () => {
  it.each([
    ["a string", "héllo", "text/plain; charset=utf-8", "héllo"],
    ["bytes", Buffer.from("raw"), "application/octet-stream", "raw"],
    ["a Uint8Array", new Uint8Array([104, 105]), "application/octet-stream", "hi"],
    ["an ArrayBuffer", new Uint8Array([104, 105]).buffer, "application/octet-stream", "hi"],
    [
      "a form record",
      { a: "1", b: ["x", "y"], n: 2 },
      "application/x-www-form-urlencoded",
      "a=1&b=x&b=y&n=2",
    ],
    [
      "form pairs",
      [
        ["a", "1"],
        ["a", "2"],
      ],
      "application/x-www-form-urlencoded",
      "a=1&a=2",
    ],
    ["URLSearchParams", new URLSearchParams({ q: "x y" }), "application/x-www-form-urlencoded", "q=x+y"],
    ["a Blob", new Blob(["blob!"], { type: "text/x-blob" }), "text/x-blob", "blob!"],
  ])("data as %s", async (_kind, data, type, body) => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const reply = await echoJson(await session.post(srv.url(), { data: data as never }));
    expect(echoHeader(reply, "content-type")).toBe(type);
    expect(reply.body).toBe(body);
    expect(echoHeader(reply, "content-length")).toBe(String(Buffer.byteLength(body)));
  });

  it.each([
    ["a Node Readable", () => Readable.from([Buffer.from("str"), Buffer.from("eam")])],
    ["a web ReadableStream", () => new Blob(["str", "eam"]).stream()],
    [
      "an async iterable",
      () =>
        (async function* () {
          yield "str";
          yield new TextEncoder().encode("eam");
        })(),
    ],
  ])("streams %s chunked", async (_kind, make) => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const reply = await echoJson(await session.put(srv.url(), { data: make() as never }));
    expect(reply.body).toBe("stream");
    expect(echoHeader(reply, "transfer-encoding")).toBe("chunked");
    expect(echoHeader(reply, "content-type")).toBe("application/octet-stream");
  });

  it("sends FormData as multipart, with files", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const form = new FormData();
    form.append("field", "value");
    form.append("file", new Blob(["file body"], { type: "text/plain" }), "a.txt");
    const reply = await echoJson(await session.post(srv.url(), { data: form }));
    const type = echoHeader(reply, "content-type") ?? "";
    expect(type).toMatch(/^multipart\/form-data; boundary=/);
    expect(reply.body).toContain('name="field"');
    expect(reply.body).toContain('filename="a.txt"');
    expect(reply.body).toContain("file body");
  });

  it("json sends application/json through the session's serializer", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession({ jsonSerialize: (v) => JSON.stringify(v, null, 1) });
    const reply = await echoJson(await session.post(srv.url(), { json: { a: [1] } }));
    expect(echoHeader(reply, "content-type")).toBe("application/json");
    expect(reply.body).toBe('{\n "a": [\n  1\n ]\n}');
  });

  it("data with json is an error", async () => {
    await using session = new ClientSession();
    await expect(session.post("http://127.0.0.1:1/", { data: "x", json: {} })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it("chunked sends a known-length body with Transfer-Encoding: chunked", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const reply = await echoJson(await session.post(srv.url(), { data: "chunky", chunked: true }));
    expect(echoHeader(reply, "transfer-encoding")).toBe("chunked");
    expect(reply.body).toBe("chunky");
    await expect(
      session.post(srv.url(), { data: "x", chunked: true, headers: { "Content-Length": "1" } }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it.each([
    [true, "deflate", inflateSync],
    ["gzip", "gzip", gunzipSync],
  ] as const)("compress %s deflates the body and says so", async (how, encoding, undo) => {
    const bodies: Buffer[] = [];
    await using srv = await startHttpServer(async (req, res) => {
      bodies.push(await readBody(req));
      res.end(
        JSON.stringify({ encoding: req.headers["content-encoding"], te: req.headers["transfer-encoding"] }),
      );
    });
    await using session = new ClientSession();
    const resp = await session.post(srv.url(), { data: "squeeze me ".repeat(100), compress: how });
    expect(await resp.json({ contentType: null })).toEqual({ encoding, te: "chunked" });
    expect(undo(bodies[0]!).toString()).toBe("squeeze me ".repeat(100));
    await expect(
      session.post(srv.url(), { data: "x", compress: true, headers: { "Content-Encoding": "br" } }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("a Content-Length set by the caller truncates the body, as aiohttp does", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession();
    const reply = await echoJson(
      await session.post(srv.url(), { data: "0123456789", headers: { "Content-Length": "4" } }),
    );
    expect(reply.body).toBe("0123");
  });

  it("refuses data it cannot send", async () => {
    await using session = new ClientSession();
    await expect(session.post("http://127.0.0.1:1/", { data: 42 as never })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(session.post("http://127.0.0.1:1/", { data: new Map() as never })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(
      session.post("http://127.0.0.1:1/", { data: { nested: { a: 1 } } as never }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe("expect100", () => {
  it("sends the body only after 100 Continue", async () => {
    const events: string[] = [];
    await using srv = await startHttpServer(echo);
    srv.server.on("checkContinue", (req, res) => {
      events.push(`expect: ${req.headers.expect}`);
      res.writeContinue();
      echo(req, res);
    });
    await using session = new ClientSession();
    const resp = await session.post(srv.url("/up"), { data: "the body", expect100: true });
    const reply = await echoJson(resp);
    expect(events).toEqual(["expect: 100-continue"]);
    expect(reply.body).toBe("the body");
  });

  it("never sends the body when the server refuses", async () => {
    let received = -1;
    await using srv = await startHttpServer(echo);
    srv.server.on("checkContinue", (req, res) => {
      req.on("data", () => {});
      res.statusCode = 417;
      res.end("no thanks");
      readBody(req).then((b) => (received = b.length));
    });
    await using session = new ClientSession();
    const resp = await session.post(srv.url(), { data: Buffer.alloc(100_000), expect100: true });
    expect(resp.status).toBe(417);
    expect(await resp.text()).toBe("no thanks");
    expect(received).toBeLessThanOrEqual(0);
  });
});

describe("version 1.0", () => {
  it("asks the server to close, and refuses bodies of unknown length", async () => {
    await using srv = await startHttpServer(echo);
    await using session = new ClientSession({ version: "1.0" });
    expect(echoHeader(await echoJson(await session.get(srv.url())), "connection")).toBe("close");
    await expect(session.post(srv.url(), { data: Readable.from(["x"]) })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(() => new ClientSession({ version: "2.0" as never })).toThrow(InvalidArgumentError);
  });
});

describe("a closed session", () => {
  it("refuses requests with ClientStateError", async () => {
    const session = new ClientSession();
    await session.close();
    expect(session.closed).toBe(true);
    await expect(session.get("http://127.0.0.1:1/")).rejects.toBeInstanceOf(ClientStateError);
    await expect(session.get("http://127.0.0.1:1/")).rejects.toThrow("Session is closed");
  });
});
