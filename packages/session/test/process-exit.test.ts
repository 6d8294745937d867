import { spawn } from "node:child_process";
import { startHttpServer, startWsServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";

const here = (path: string) => JSON.stringify(new URL(path, import.meta.url).pathname);

interface Run {
  /** What the child printed, line by line. */
  lines: string[];
  /** ms from the child printing LAST to its exit. */
  afterLast: number;
  code: number | null;
}

/**
 * Runs `body` as an ES module in a child Node process (workspace sources through tsx) and
 * measures how long the process lives after `body` printed "LAST": nothing the library leaves
 * behind may keep the event loop alive. Gives up after 15 s.
 */
function runChild(body: string, url: string): Promise<Run> {
  const script = `
    import { ClientSession } from ${here("../src/index.ts")};
    import { TCPConnector } from ${here("../../connector/src/index.ts")};
    import { request } from "undici";
    const url = ${JSON.stringify(url)};
    ${body}
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=@x/source", "--input-type=module", "-e", script],
      { cwd: new URL("..", import.meta.url).pathname, stdio: ["ignore", "pipe", "pipe"] },
    );
    const lines: string[] = [];
    let lastAt = 0;
    let err = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text: string) => {
      for (const line of text.split("\n").filter(Boolean)) {
        lines.push(line);
        if (line === "LAST") lastAt = performance.now();
      }
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(kill);
      if (lastAt === 0) reject(new Error(`the child never printed LAST (exit ${code}): ${err}`));
      else resolve({ lines, afterLast: performance.now() - lastAt, code });
    });
  });
}

/** A server that keeps idle keep-alive sockets open for a minute. */
async function keepAliveServer(body: Buffer, delayMs = 0) {
  const srv = await startHttpServer((_req, res) => {
    setTimeout(() => res.end(body), delayMs);
  });
  srv.server.keepAliveTimeout = 60_000;
  return srv;
}

describe("the process exits on its own when the user is done", () => {
  it("with a small body left unread and the session never closed", async () => {
    await using srv = await keepAliveServer(Buffer.from("small"));
    const run = await runChild(
      `const session = new ClientSession();
       const resp = await session.get(url);
       console.log("STATUS", resp.status);
       console.log("LAST");`,
      srv.url(),
    );
    expect(run.lines).toEqual(["STATUS 200", "LAST"]);
    expect(run.afterLast).toBeLessThan(2000);
  });

  it("with a 1 MiB body left unread (never read, never released)", async () => {
    await using srv = await keepAliveServer(Buffer.alloc(1024 * 1024, 7));
    const run = await runChild(
      `const session = new ClientSession();
       const resp = await session.get(url);
       console.log("STATUS", resp.status);
       console.log("LAST");`,
      srv.url(),
    );
    expect(run.lines).toEqual(["STATUS 200", "LAST"]);
    expect(run.afterLast).toBeLessThan(2000);
  });

  it("with an idle keep-alive connection in a session never closed", async () => {
    await using srv = await keepAliveServer(Buffer.from("read"));
    const run = await runChild(
      `const session = new ClientSession();
       const text = await (await session.get(url)).text();
       console.log("TEXT", text);
       console.log("LAST");`,
      srv.url(),
    );
    expect(run.lines).toEqual(["TEXT read", "LAST"]);
    expect(run.afterLast).toBeLessThan(2000);
  });

  it("with a connector never closed, used by undici.request", async () => {
    await using srv = await keepAliveServer(Buffer.from("pooled"));
    const run = await runChild(
      `const connector = new TCPConnector();
       const res = await request(url, { dispatcher: connector });
       console.log("TEXT", await res.body.text());
       console.log("LAST");`,
      srv.url(),
    );
    expect(run.lines).toEqual(["TEXT pooled", "LAST"]);
    expect(run.afterLast).toBeLessThan(2000);
  });

  it("with a websocket the server closed", async () => {
    await using srv = await startWsServer({
      onConnection: (ws) => {
        ws.send("bye");
        ws.close(1000);
      },
    });
    const run = await runChild(
      `const session = new ClientSession();
       const ws = await session.wsConnect(url);
       for await (const msg of ws) console.log("MSG", msg.type, String(msg.data));
       console.log("LAST");`,
      srv.url(),
    );
    expect(run.lines[0]).toBe("MSG 1 bye");
    expect(run.lines.at(-1)).toBe("LAST");
    expect(run.afterLast).toBeLessThan(2000);
  });

  it("but not before a request in flight has settled", async () => {
    await using srv = await keepAliveServer(Buffer.from("late"), 1000);
    const run = await runChild(
      `const session = new ClientSession();
       session.get(url).then((r) => r.text()).then((t) => console.log("TEXT", t));
       console.log("LAST");`,
      srv.url(),
    );
    expect(run.lines).toEqual(["LAST", "TEXT late"]);
    expect(run.afterLast).toBeGreaterThanOrEqual(900);
    expect(run.afterLast).toBeLessThan(3000);
  });
});
