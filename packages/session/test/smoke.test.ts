import { readBody, startHttpServer } from "@x/fixtures";
import { expect, it } from "vitest";
import { ClientSession } from "../src/index.js";

it("smoke", async () => {
  await using srv = await startHttpServer(async (req, res) => {
    const body = await readBody(req);
    if (req.url?.startsWith("/redir")) {
      res.statusCode = 302;
      res.setHeader("location", "/final");
      res.setHeader("set-cookie", "a=1; Path=/");
      res.end();
      return;
    }
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ url: req.url, method: req.method, headers: req.headers, body: body.toString() }));
  });
  await using session = new ClientSession({ baseUrl: srv.url("/api/"), cookieJar: new (await import("@x/cookies")).CookieJar({ unsafe: true }) });
  const r1 = await session.get("things", { params: { q: "x y" } });
  const j1 = (await r1.json()) as any;
  expect(j1.url).toBe("/api/things?q=x+y");
  console.log(j1.headers);
  const r2 = await session.post("/post", { json: { a: 1 } });
  expect(((await r2.json()) as any).body).toBe('{"a":1}');
  const r3 = await session.get("/redir");
  expect(r3.history.length).toBe(1);
  const j3 = (await r3.json()) as any;
  expect(j3.headers.cookie).toBe("a=1");
});
