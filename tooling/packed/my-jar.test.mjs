// Use (c): the user's async jar passes the parts of the conformance suite it claims, and drives a
// session, which awaits the jar's promises.
import { createServer } from "node:http";
import { testCookieJar } from "@x/cookies/testing";
import { ClientSession } from "@x/session";
import { expect, it } from "vitest";
import { MyJar } from "./my-jar.mjs";

testCookieJar("a user's async jar, installed from npm", () => new MyJar(), { shared: true });

it("keeps a login across requests of a session, and drops it at logout", async () => {
  const server = createServer((req, res) => {
    if (req.url === "/login") res.setHeader("set-cookie", "sid=42");
    if (req.url === "/logout") res.setHeader("set-cookie", "sid=; Max-Age=0");
    res.end(req.headers.cookie ?? "none");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const jar = new MyJar();
  const session = new ClientSession({ cookieJar: jar });
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    expect(await (await session.get(`${base}/login`)).text()).toBe("none");
    expect(await (await session.get(`${base}/me`)).text()).toBe("sid=42");
    expect(await (await session.get(`${base}/logout`)).text()).toBe("sid=42");
    expect(await (await session.get(`${base}/me`)).text()).toBe("none");
    expect((await jar.filterCookies(new URL(base))).size).toBe(0);
  } finally {
    await session.close();
    server.close();
  }
});
