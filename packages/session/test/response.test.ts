import v8 from "node:v8";
import vm from "node:vm";
import { ClientConnectionError, ClientPayloadError, ClientResponseError, ContentTypeError } from "@x/errors";
import { router, sleep, startHttpServer, startRawServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

const handler = router({
  "/json": (_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end('{"a":1}');
  },
  "/problem": (_req, res) => {
    res.setHeader("content-type", "application/problem+json");
    res.end('{"title":"nope"}');
  },
  "/html": (_req, res) => {
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end("<p>hi</p>");
  },
  "/empty-json": (_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end("  \n");
  },
  "/latin1": (_req, res) => {
    res.setHeader("content-type", "text/plain; charset=ISO-8859-1");
    res.end(Buffer.from("café", "latin1"));
  },
  "/cp1251": (_req, res) => {
    res.setHeader("content-type", "text/plain; charset=windows-1251");
    res.end(Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]));
  },
  "/sjis": (_req, res) => {
    res.setHeader("content-type", "text/plain; charset=shift_jis");
    res.end(Buffer.from([0x82, 0xb1, 0x82, 0xf1, 0x82, 0xc9, 0x82, 0xbf, 0x82, 0xcd]));
  },
  "/nocharset": (_req, res) => res.end(Buffer.from("plain ü")),
  "/badutf8": (_req, res) => {
    res.setHeader("content-type", "text/plain; charset=utf-8");
    res.end(Buffer.from([0xff, 0xfe, 0x41]));
  },
  "/meta": (_req, res) => {
    res.writeHead(418, "I'm a teapot", [
      "X-First",
      "1",
      "Set-Cookie",
      "a=1; Path=/",
      "Set-Cookie",
      "b=2; Max-Age=60; HttpOnly",
      "Set-Cookie",
      "a=3",
      "Link",
      '</page/2>; rel="next", <https://other.test/x>; rel=prev; title="Back"',
      "Content-Length",
      "4",
    ]);
    res.end("body");
  },
  "/big": (_req, res) => {
    res.write(Buffer.alloc(256 * 1024, 1));
    setTimeout(() => res.end(Buffer.alloc(256 * 1024, 2)), 20);
  },
  "/404": (_req, res) => {
    res.statusCode = 404;
    res.end("missing");
  },
});

describe("ClientResponse fields", () => {
  it("reports status, reason, headers in wire order, cookies, links and length", async () => {
    await using srv = await startHttpServer(handler);
    await using session = new ClientSession();
    await using resp = await session.get(srv.url("/meta#frag"));
    expect(resp.status).toBe(418);
    expect(resp.reason).toBe("I'm a teapot");
    expect(resp.ok).toBe(false);
    expect(resp.method).toBe("GET");
    expect(resp.url.href).toBe(srv.url("/meta"));
    expect(resp.realUrl.href).toBe(srv.url("/meta#frag"));
    expect(resp.version).toEqual({ major: 1, minor: 1 });
    expect(resp.rawHeaders.slice(0, 4)).toEqual([
      ["X-First", "1"],
      ["Set-Cookie", "a=1; Path=/"],
      ["Set-Cookie", "b=2; Max-Age=60; HttpOnly"],
      ["Set-Cookie", "a=3"],
    ]);
    expect(resp.headers.get("x-first")).toBe("1");
    expect(resp.headers.getSetCookie()).toHaveLength(3);
    expect(resp.contentLength).toBe(4);
    expect(resp.contentType).toBe("application/octet-stream");
    expect(resp.charset).toBeNull();
    expect([...resp.cookies.keys()]).toEqual(["a", "b"]);
    expect(resp.cookies.get("a")?.value).toBe("3");
    expect(resp.cookies.get("b")?.httpOnly).toBe(true);
    const links = resp.links;
    expect(links.get("next")?.url.href).toBe(srv.url("/page/2"));
    expect(links.get("prev")?.params).toEqual({ rel: "prev", title: "Back" });
    expect(resp.requestInfo.method).toBe("GET");
    expect(resp.requestInfo.url.href).toBe(srv.url("/meta"));
    expect(resp.requestInfo.realUrl.href).toBe(srv.url("/meta#frag"));
    expect(resp.requestInfo.headers.get("accept")).toBe("*/*");
    expect(resp.history).toEqual([]);
    expect(await resp.text()).toBe("body");
  });

  it("ok is aiohttp's: below 400", async () => {
    await using srv = await startHttpServer((req, res) => {
      res.statusCode = Number(req.url?.slice(1));
      res.end();
    });
    await using session = new ClientSession();
    for (const [status, ok] of [
      [200, true],
      [302, true],
      [399, true],
      [400, false],
      [500, false],
    ] as const) {
      const resp = await session.get(srv.url(`/${status}`), { allowRedirects: false });
      expect(resp.ok, String(status)).toBe(ok);
      resp.release();
    }
  });
});

describe("reading the body", () => {
  it("read() returns the same bytes every time", async () => {
    await using srv = await startHttpServer(handler);
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/html"));
    const a = await resp.read();
    expect(a.toString()).toBe("<p>hi</p>");
    expect(await resp.read()).toBe(a);
    expect(await resp.text()).toBe("<p>hi</p>");
  });

  it.each([
    ["/latin1", "café", "iso-8859-1"],
    ["/cp1251", "Привет", "windows-1251"],
    ["/sjis", "こんにちは", "shift_jis"],
    ["/nocharset", "plain ü", "utf-8"],
  ])("text() decodes %s with the Content-Type's charset", async (path, text, encoding) => {
    await using srv = await startHttpServer(handler);
    await using session = new ClientSession();
    const resp = await session.get(srv.url(path));
    expect(await resp.text()).toBe(text);
    expect(resp.getEncoding()).toBe(encoding);
  });

  it("text(encoding) overrides, and invalid bytes are a ClientPayloadError", async () => {
    await using srv = await startHttpServer(handler);
    await using session = new ClientSession();
    expect(
      await (await session.get(srv.url("/latin1"))).text("utf-8").catch((e: unknown) => e),
    ).toBeInstanceOf(ClientPayloadError);
    expect(await (await session.get(srv.url("/badutf8"))).text("latin1")).toBe("ÿþA");
    await expect((await session.get(srv.url("/badutf8"))).text()).rejects.toBeInstanceOf(ClientPayloadError);
  });

  it("uses the session's fallbackCharsetResolver when the response names no charset", async () => {
    await using srv = await startHttpServer(handler);
    await using session = new ClientSession({
      fallbackCharsetResolver: (_resp, body) => (body.includes(0xfc) ? "latin1" : "utf-8"),
    });
    await using srv2 = await startHttpServer((_req, res) => res.end(Buffer.from("über", "latin1")));
    expect(await (await session.get(srv2.url())).text()).toBe("über");
    expect(await (await session.get(srv.url("/nocharset"))).text()).toBe("plain ü");
  });

  it("json() accepts application/json and +json, returns null for an empty body", async () => {
    await using srv = await startHttpServer(handler);
    await using session = new ClientSession();
    expect(await (await session.get(srv.url("/json"))).json()).toEqual({ a: 1 });
    expect(await (await session.get(srv.url("/problem"))).json()).toEqual({ title: "nope" });
    expect(await (await session.get(srv.url("/empty-json"))).json()).toBeNull();
    expect(await (await session.get(srv.url("/json"))).json({ loads: (t) => t.length })).toBe(7);
  });

  it("json() refuses another type with ContentTypeError, unless told not to check", async () => {
    await using srv = await startHttpServer(handler);
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/html"));
    const err = await resp.json().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContentTypeError);
    expect((err as ContentTypeError).status).toBe(200);
    // It names the type it got, and how to skip the check.
    expect((err as ContentTypeError).reason).toBe(
      "Attempt to decode JSON with unexpected mimetype: text/html (expected application/json; json({ contentType: null }) skips the check)",
    );
    expect((err as ContentTypeError).message).toContain(`GET ${srv.url("/html")}`);
    // What the server sent instead is on the error (the start of it, as text).
    expect((err as ContentTypeError).body).toBe("<p>hi</p>");
    await using srv2 = await startHttpServer((_req, res) => {
      res.setHeader("content-type", "text/plain");
      res.end("[1,2]");
    });
    expect(await (await session.get(srv2.url())).json({ contentType: null })).toEqual([1, 2]);
    expect(await (await session.get(srv2.url())).json({ contentType: "text/plain" })).toEqual([1, 2]);
  });

  it("keeps the type of a Content-Type MIMEType refuses when only whitespace around it is odd, as aiohttp", async () => {
    // A latin-1 no-break space (0xA0) is not HTTP whitespace, so WHATWG MIMEType refuses the
    // value; aiohttp's str.strip() drops it and keeps the type (its parameters are lost).
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end(
        "HTTP/1.1 200 OK\r\nContent-Type: Text/HTML\u00a0; charset=utf-8\r\nContent-Length: 0\r\n\r\n",
      );
    });
    await using session = new ClientSession();
    const resp = await session.get(srv.url());
    expect([resp.contentType, resp.charset]).toEqual(["text/html", null]);
  });

  it("json() takes the whole type as JSON or not: a longer name around json is not JSON", async () => {
    await using srv = await startHttpServer((req, res) => {
      res.setHeader("content-type", decodeURIComponent(req.url?.slice(1) ?? ""));
      res.end("[1]");
    });
    await using session = new ClientSession();
    const json = async (type: string) =>
      (await session.get(srv.url(`/${encodeURIComponent(type)}`))).json().then(
        (v: unknown) => v,
        (e: unknown) => (e instanceof ContentTypeError ? `refused ${type}` : e),
      );
    expect(await json("application/vnd.api+json")).toEqual([1]);
    expect(await json("application/json; charset=utf-8")).toEqual([1]);
    expect(await json("xapplication/json")).toBe("refused xapplication/json");
    expect(await json("application/jsonx")).toBe("refused application/jsonx");
    expect(await json("application/json+xml")).toBe("refused application/json+xml");
  });

  it("raiseForStatus() throws ClientResponseError for 4xx/5xx and releases", async () => {
    await using srv = await startHttpServer(handler);
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/404"));
    const err = (() => {
      try {
        resp.raiseForStatus();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ClientResponseError);
    expect((err as ClientResponseError).status).toBe(404);
    expect((err as ClientResponseError).reason).toBe("Not Found");
    expect(resp.closed).toBe(true);
    (await session.get(srv.url("/json"))).raiseForStatus();
  });
});

describe("connections and release", () => {
  it("a small body that arrived whole frees the connection before it is read", async () => {
    await using srv = await startHttpServer(handler);
    await using session = new ClientSession({
      connector: new (await import("@x/connector")).TCPConnector({ limit: 1 }),
    });
    const first = await session.get(srv.url("/json"));
    await sleep(20);
    const second = await session.get(srv.url("/html"));
    expect(await second.text()).toBe("<p>hi</p>");
    expect(await first.json()).toEqual({ a: 1 });
    expect(srv.stats.accepted).toBe(1);
  });

  it("release() of an unread body closes the connection; reading afterwards is a ClientConnectionError", async () => {
    await using srv = await startHttpServer(handler);
    await using session = new ClientSession();
    const resp = await session.get(srv.url("/big"));
    expect(resp.connection).not.toBeNull();
    resp.release();
    expect(resp.connection).toBeNull();
    await expect(resp.read()).rejects.toBeInstanceOf(ClientConnectionError);
    await expect(resp.content.read()).rejects.toBeInstanceOf(ClientConnectionError);
    await srv.stats.idle();
  });

  it("await using releases; a fully read body keeps its connection for the next request", async () => {
    await using srv = await startHttpServer(handler);
    await using session = new ClientSession();
    {
      await using resp = await session.get(srv.url("/big"));
      expect((await resp.read()).length).toBe(512 * 1024);
    }
    {
      await using resp = await session.get(srv.url("/big"));
      expect(resp.status).toBe(200);
    }
    expect(srv.stats.accepted).toBe(1);
    await using again = await session.get(srv.url("/json"));
    expect(srv.stats.accepted).toBe(2);
    expect(again.status).toBe(200);
  });

  it("a response dropped unread gives its connection back once collected (aiohttp's __del__)", async () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    await using srv = await startHttpServer(handler);
    await using session = new ClientSession({
      connector: new (await import("@x/connector")).TCPConnector({ limit: 1 }),
      timeout: { connect: 3000 },
    });
    const drop = async () => {
      const resp = await session.get(srv.url("/big"));
      expect(resp.status).toBe(200);
    };
    // Each 512 KiB body is far past readBufsize, so it holds the only connection until released.
    for (let i = 0; i < 3; i++) {
      await drop();
      await sleep(10);
      gc();
      await sleep(10);
    }
    const last = await session.get(srv.url("/json"));
    expect(await last.json()).toEqual({ a: 1 });
    expect(srv.stats.accepted).toBe(4);
  });

  it("a pending read keeps its response alive through collection", async () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    await using srv = await startHttpServer(async (_req, res) => {
      res.write("first ");
      await sleep(100);
      res.end("second");
    });
    await using session = new ClientSession();
    // Nothing but the pending read refers to the response or its reader.
    const text = (async () => (await session.get(srv.url())).text())();
    await sleep(30);
    gc();
    expect(await text).toBe("first second");
  });

  it("a body cut short is a ClientPayloadError", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
    });
    await using session = new ClientSession();
    const resp = await session.get(srv.url());
    await expect(resp.read()).rejects.toBeInstanceOf(ClientPayloadError);
  });

  it("HEAD, 204 and 304 carry no body whatever the headers say", async () => {
    await using srv = await startRawServer(async (conn) => {
      for (;;) {
        const head = await conn.readHead().catch(() => undefined);
        if (!head) return;
        const path = head.split(" ")[1];
        if (path === "/204") await conn.write("HTTP/1.1 204 No Content\r\n\r\n");
        else if (path === "/304") await conn.write("HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n");
        else if (path === "/204-cl") await conn.write("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
        else if (path === "/304-cl")
          await conn.write("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n");
        else
          await conn.write(
            `HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\n${head.startsWith("HEAD") ? "" : "hello"}`,
          );
      }
    });
    await using session = new ClientSession();
    for (const [method, path] of [
      ["HEAD", "/"],
      ["GET", "/204"],
      ["GET", "/304"],
      ["GET", "/"],
    ] as const) {
      const resp = await session.request(method, srv.url(path));
      const body = await resp.read();
      expect(body.toString(), `${method} ${path}`).toBe(method === "GET" && path === "/" ? "hello" : "");
    }
    expect(srv.connections).toHaveLength(1);
    // A 204/304 that claims a Content-Length still has no body, but undici closes its connection.
    for (const path of ["/204-cl", "/304-cl"])
      expect((await (await session.get(srv.url(path))).read()).length).toBe(0);
  });

  it("readUntilEof: false leaves a close-delimited body unread", async () => {
    await using srv = await startRawServer(async (conn) => {
      await conn.readHead();
      await conn.end("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close");
    });
    await using session = new ClientSession();
    expect(await (await session.get(srv.url())).text()).toBe("until close");
    expect(await (await session.get(srv.url(), { readUntilEof: false })).text()).toBe("");
  });

  it("refuses a header longer than maxFieldSize and a status line longer than maxLineSize", async () => {
    await using srv = await startRawServer(async (conn) => {
      const head = await conn.readHead();
      const reason = head.includes("/line") ? "R".repeat(200) : "OK";
      await conn.end(`HTTP/1.1 200 ${reason}\r\nX-Long: ${"v".repeat(300)}\r\nContent-Length: 0\r\n\r\n`);
    });
    await using session = new ClientSession({ maxFieldSize: 100 });
    const err = await session.get(srv.url()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientResponseError);
    expect((err as ClientResponseError).status).toBe(400);
    await using session2 = new ClientSession({ maxLineSize: 100, maxFieldSize: 1000 });
    await expect(session2.get(srv.url("/line"))).rejects.toBeInstanceOf(ClientResponseError);
    expect((await session2.get(srv.url("/ok"))).status).toBe(200);
  });

  it("reads Content-Type, charset, Content-Length and Link as aiohttp does, odd spellings included", async () => {
    const heads: Record<string, Record<string, string>> = {
      "/upper": { "content-type": "Text/HTML; Charset=UTF-8", "content-length": "2" },
      "/quoted": { "content-type": 'text/plain; charset="ISO-8859-1"; format=flowed' },
      "/broken": { "content-type": "text/plain; charset" },
      "/garbage": { "content-type": "no slash here" },
      "/word-before": { "content-type": "x text/html" },
      "/word-after": { "content-type": "text/html x" },
      "/length": { "x-length": "yes" },
      "/links": {
        link: '<a>; rel="next"; title="A, B", </b>; rel=prev,<c> ; REL = last ; x, <http://[bad>; rel=bad, <d>',
      },
      "/tight-links": { link: "<e>;rel=x,<f>;rel=y" },
    };
    await using srv = await startHttpServer((req, res) => {
      const head = heads[req.url ?? ""] ?? {};
      for (const [name, value] of Object.entries(head)) res.setHeader(name, value);
      if (req.url === "/length") {
        // A Content-Length with spaces around it, then one that is not a number.
        res.writeHead(200, { "Content-Length": " 2 " });
      }
      res.end("ok");
    });
    await using session = new ClientSession();
    const get = (path: string) => session.get(srv.url(path));
    const upper = await get("/upper");
    expect([upper.contentType, upper.charset, upper.contentLength]).toEqual(["text/html", "utf-8", 2]);
    const quoted = await get("/quoted");
    expect([quoted.contentType, quoted.charset]).toEqual(["text/plain", "iso-8859-1"]);
    expect((await get("/broken")).contentType).toBe("text/plain");
    expect((await get("/broken")).charset).toBeNull();
    expect((await get("/garbage")).contentType).toBe("application/octet-stream");
    expect((await get("/word-before")).contentType).toBe("application/octet-stream");
    expect((await get("/word-after")).contentType).toBe("application/octet-stream");
    const tight = (await get("/tight-links")).links;
    expect([...tight.keys()]).toEqual(["x", "y"]);
    expect(tight.get("y")?.url.href).toBe(srv.url("/f"));
    expect((await get("/length")).contentLength).toBe(2);
    const links = (await get("/links")).links;
    expect([...links.keys()]).toEqual(["next", "prev", "last", srv.url("/d")]);
    expect(links.get("next")?.params).toEqual({ rel: "next", title: "A, B" });
    expect(links.get("prev")?.url.href).toBe(srv.url("/b"));
    expect(links.get("last")?.params).toEqual({ rel: "last", x: "" });
    expect(links.get(srv.url("/d"))?.params).toEqual({});
  });

  it("a status error keeps text types' bodies as text, others as bytes, and an empty one as nothing", async () => {
    const bodies: Record<string, [string | undefined, string | Buffer]> = {
      "/plain": ["text/plain", "plain"],
      "/xml": ["application/xml", "<a/>"],
      "/svg": ["image/svg+xml", "<svg/>"],
      "/problem": ["application/problem+json", '{"t":1}'],
      "/form": ["application/x-www-form-urlencoded", "a=1"],
      "/charset": ["application/octet-stream; charset=latin1", Buffer.from([0x63, 0x61, 0x66, 0xe9])],
      "/bin": ["application/octet-stream", Buffer.from([0x61, 0x62])],
      "/none": [undefined, Buffer.from([0x61])],
      "/empty": ["text/plain", ""],
      "/bad-utf8": ["text/plain; charset=utf-8", Buffer.from([0x61, 0xff])],
    };
    await using srv = await startHttpServer((req, res) => {
      const [type, body] = bodies[req.url ?? ""]!;
      res.statusCode = 500;
      if (type) res.setHeader("content-type", type);
      else res.removeHeader("content-type");
      res.end(body);
    });
    await using session = new ClientSession({ raiseForStatus: true });
    const bodyOf = async (path: string) =>
      ((await session.get(srv.url(path)).catch((e: unknown) => e)) as ClientResponseError).body;
    expect(await bodyOf("/plain")).toBe("plain");
    expect(await bodyOf("/xml")).toBe("<a/>");
    expect(await bodyOf("/svg")).toBe("<svg/>");
    expect(await bodyOf("/problem")).toBe('{"t":1}');
    expect(await bodyOf("/form")).toBe("a=1");
    expect(await bodyOf("/charset")).toBe("caf\u00e9");
    expect(Buffer.from((await bodyOf("/bin")) as Uint8Array)).toEqual(Buffer.from("ab"));
    expect(Buffer.from((await bodyOf("/none")) as Uint8Array)).toEqual(Buffer.from("a"));
    expect(await bodyOf("/empty")).toBeUndefined();
    // Text that does not decode stays text, as TextDecoder replaces what it cannot read.
    expect(await bodyOf("/bad-utf8")).toBe("a\ufffd");
  });

  it("a status error says what was asked, and keeps the start of what the server said (8 KiB at most)", async () => {
    await using srv = await startHttpServer((req, res) => {
      if (req.url === "/json") {
        res.statusCode = 422;
        res.setHeader("content-type", "application/json");
        res.end('{"error":"name is required"}');
      } else if (req.url === "/big") {
        res.statusCode = 500;
        res.setHeader("content-type", "text/plain");
        res.end("x".repeat(100_000));
      } else {
        res.statusCode = 503;
        res.setHeader("content-type", "application/octet-stream");
        res.end(Buffer.from([1, 2, 3]));
      }
    });
    await using session = new ClientSession({ raiseForStatus: true });
    const json = (await session
      .post(srv.url("/json"), { json: {} })
      .catch((e: unknown) => e)) as ClientResponseError;
    expect(json).toBeInstanceOf(ClientResponseError);
    expect(json.message).toBe(
      `Request failed with status code 422 (Unprocessable Entity): POST ${srv.url("/json")}`,
    );
    expect(json.body).toBe('{"error":"name is required"}');
    const big = (await session.get(srv.url("/big")).catch((e: unknown) => e)) as ClientResponseError;
    expect((big.body as string).length).toBe(8 * 1024);
    const bytes = (await session.get(srv.url("/bin")).catch((e: unknown) => e)) as ClientResponseError;
    expect(Buffer.from(bytes.body as Uint8Array)).toEqual(Buffer.from([1, 2, 3]));
    // Without raiseForStatus, resp.raiseForStatus() keeps what has arrived.
    await using plain = new ClientSession();
    const resp = await plain.get(srv.url("/json"));
    await sleep(50);
    const manual = (() => {
      try {
        resp.raiseForStatus();
      } catch (e) {
        return e as ClientResponseError;
      }
    })();
    expect(manual?.body).toBe('{"error":"name is required"}');
  });
});
