import { BasicAuth, DigestAuth } from "@x/auth";
import { CookieJar } from "@x/cookies";
import { ClientResponseError, SocketTimeoutError, TimeoutError, TooManyRedirects } from "@x/errors";
import { type PeerProcess, startHttpbin } from "@x/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

// Against httpbin 0.7 (Debian's python3-httpbin, Flask on werkzeug): a server none of us wrote.

let httpbin: PeerProcess;
let session: ClientSession;
const url = (path: string) => `${httpbin.origin}${path}`;
type Echo = {
  args: Record<string, string>;
  headers: Record<string, string>;
  json: unknown;
  form: Record<string, string>;
  files: Record<string, string>;
  data: string;
};

beforeAll(async () => {
  httpbin = await startHttpbin();
  session = new ClientSession({ cookieJar: new CookieJar({ unsafe: true }) });
}, 30_000);
afterAll(async () => {
  await session?.close();
  await httpbin?.close();
});

describe("httpbin: cookies and redirects", () => {
  it("cookies set by /cookies/set survive its redirect and are deleted by /cookies/delete", async () => {
    const set = await session.get(url("/cookies/set?flavour=oat&count=2"), { allowRedirects: true });
    expect(set.history.map((r) => r.status)).toEqual([302]);
    expect(((await set.json()) as { cookies: Record<string, string> }).cookies).toEqual({
      flavour: "oat",
      count: "2",
    });
    const deleted = await session.get(url("/cookies/delete?flavour"));
    expect(((await deleted.json()) as { cookies: Record<string, string> }).cookies).toEqual({ count: "2" });
    session.cookieJar.clear();
  });

  it("/redirect/N keeps the whole history; maxRedirects stops it", async () => {
    const resp = await session.get(url("/redirect/4"));
    expect(resp.status).toBe(200);
    expect(resp.history).toHaveLength(4);
    expect(resp.url.pathname).toBe("/get");
    await expect(session.get(url("/redirect/4"), { maxRedirects: 2 })).rejects.toBeInstanceOf(
      TooManyRedirects,
    );
  });

  it("/absolute-redirect and /redirect-to with a status", async () => {
    const abs = await session.get(url("/absolute-redirect/2"));
    expect(abs.history.map((r) => r.status)).toEqual([302, 302]);
    const to = await session.post(url(`/redirect-to?url=${encodeURIComponent("/get?x=1")}&status_code=303`), {
      data: "body",
    });
    expect(to.method).toBe("GET");
    expect(((await to.json()) as Echo).args).toEqual({ x: "1" });
    const kept = await session.post(url(`/redirect-to?url=${encodeURIComponent("/post")}&status_code=307`), {
      data: "body",
    });
    expect(((await kept.json()) as Echo).data).toBe("body");
  });
});

describe("httpbin: auth", () => {
  it("/basic-auth accepts the right credentials and refuses the wrong ones", async () => {
    const ok = await session.get(url("/basic-auth/ada/s3cret"), { auth: new BasicAuth("ada", "s3cret") });
    expect(await ok.json()).toEqual({ authenticated: true, user: "ada" });
    const bad = await session.get(url("/basic-auth/ada/s3cret"), { auth: new BasicAuth("ada", "nope") });
    expect(bad.status).toBe(401);
  });

  it.each(["MD5", "SHA-256"])("/digest-auth with %s and qop=auth", async (algorithm) => {
    await using own = new ClientSession({ auth: new DigestAuth("ada", "s3cret") });
    const resp = await own.get(url(`/digest-auth/auth/ada/s3cret/${algorithm}`));
    expect(resp.status).toBe(200);
    expect(await resp.json()).toEqual({ authenticated: true, user: "ada" });
  });
});

describe("httpbin: bodies and encodings", () => {
  it.each(["gzip", "deflate", "brotli"])("/%s is decoded", async (coding) => {
    const resp = await session.get(url(`/${coding}`));
    const body = (await resp.json()) as Record<string, unknown>;
    expect(body[coding === "brotli" ? "brotli" : coding === "gzip" ? "gzipped" : "deflated"]).toBe(true);
  });

  it("/stream/N arrives as N JSON lines", async () => {
    const resp = await session.get(url("/stream/20"));
    const lines: unknown[] = [];
    for await (const line of resp.content.iterLines())
      if (line.length > 0) lines.push(JSON.parse(line.toString()));
    expect(lines).toHaveLength(20);
    expect((lines[19] as { id: number }).id).toBe(19);
  });

  it("/drip slower than sockRead fails with SocketTimeoutError; faster passes", async () => {
    const slow = await session.get(url("/drip?numbytes=4&duration=2&delay=0"), {
      timeout: { sockRead: 200 },
    });
    await expect(slow.read()).rejects.toBeInstanceOf(SocketTimeoutError);
    const fast = await session.get(url("/drip?numbytes=4&duration=0.2&delay=0"), {
      timeout: { sockRead: 1000 },
    });
    expect((await fast.read()).toString()).toBe("****");
  });

  it("/delay longer than total fails with a TimeoutError", async () => {
    const err = await session.get(url("/delay/2"), { timeout: { total: 300 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
  });

  it("/status/N with raiseForStatus", async () => {
    expect((await session.get(url("/status/204"), { raiseForStatus: true })).status).toBe(204);
    const err = await session.get(url("/status/418"), { raiseForStatus: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientResponseError);
    expect((err as ClientResponseError).status).toBe(418);
  });

  it("/headers shows the auto headers, and not the skipped ones", async () => {
    const all = ((await (await session.get(url("/headers"))).json()) as Echo).headers;
    expect(all.Accept).toBe("*/*");
    expect(all["Accept-Encoding"]).toMatch(/gzip, deflate, br/);
    expect(all["User-Agent"]).toMatch(/x-session\//);
    const some = (
      (await (
        await session.get(url("/headers"), { skipAutoHeaders: ["User-Agent", "Accept"] })
      ).json()) as Echo
    ).headers;
    expect(some["User-Agent"]).toBeUndefined();
    expect(some.Accept).toBeUndefined();
  });

  it("/post with json, a form and multipart", async () => {
    const json = (await (await session.post(url("/post"), { json: { a: [1, "two"] } })).json()) as Echo;
    expect(json.json).toEqual({ a: [1, "two"] });
    expect(json.headers["Content-Type"]).toBe("application/json");
    const form = (await (
      await session.post(url("/post"), { data: { name: "ada", lang: "en" } })
    ).json()) as Echo;
    expect(form.form).toEqual({ name: "ada", lang: "en" });
    const multipart = new FormData();
    multipart.append("field", "value");
    multipart.append("upload", new Blob(["file body"], { type: "text/plain" }), "notes.txt");
    const parts = (await (await session.post(url("/post"), { data: multipart })).json()) as Echo;
    expect(parts.form).toEqual({ field: "value" });
    expect(parts.files).toEqual({ upload: "file body" });
  });

  it("/response-headers with several Set-Cookie values stores each", async () => {
    await using own = new ClientSession({ cookieJar: new CookieJar({ unsafe: true }) });
    const resp = await own.get(url("/response-headers?Set-Cookie=a%3D1&Set-Cookie=b%3D2%3B%20Path%3D%2F"));
    expect(resp.headers.getSetCookie()).toEqual(["a=1", "b=2; Path=/"]);
    expect([...resp.cookies.keys()].sort()).toEqual(["a", "b"]);
    expect([...own.cookieJar.filterCookies(url("/")).keys()].sort()).toEqual(["a", "b"]);
  });

  it("/encoding/utf8 and /base64 decode as UTF-8 from their charset", async () => {
    const page = await session.get(url("/encoding/utf8"));
    expect(page.charset).toBe("utf-8");
    expect((await page.text()).length).toBeGreaterThan(0);
    // Debian's httpbin ships without the UTF-8 demo page, so the non-ASCII text comes from /base64.
    const resp = await session.get(url("/base64/4oiuIEXii4VkYSA9IFEsIG5hw692ZSBjYWbDqQ=="));
    expect(resp.charset).toBe("utf-8");
    expect(await resp.text()).toBe("∮ E⋅da = Q, naïve café");
  });

  it("/bytes/N and /range", async () => {
    expect((await (await session.get(url("/bytes/5000?seed=1"))).read()).length).toBe(5000);
    const part = await session.get(url("/range/100"), { headers: { Range: "bytes=10-19" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 10-19/100");
    expect((await part.read()).toString()).toBe("klmnopqrst");
  });
});
