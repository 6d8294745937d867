import { ClientConnectorError, ConnectionTimeoutError, InvalidArgumentError } from "@x/errors";
import { startUnixServer } from "@x/fixtures";
import { describe, expect, it } from "vitest";
import { UnixConnector } from "../src/index.js";

describe("UnixConnector", () => {
  it("a socket path nobody listens on → ClientConnectorError for the URL's host, without TLS", async () => {
    await using connector = new UnixConnector("/nonexistent/x.sock");
    const err = await connector.connect({ url: "http://docker:2375/" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientConnectorError);
    const { host, port, ssl, message } = err as ClientConnectorError;
    expect({ host, port, ssl }).toEqual({ host: "docker", port: 2375, ssl: false });
    expect(message).toMatch(/^Cannot connect to unix socket \/nonexistent\/x\.sock \[/);
  });

  it("an attempt past connectTimeout → ConnectionTimeoutError naming the timeout", async () => {
    await using srv = await startUnixServer((_req, res) => res.end("x"));
    await using connector = new UnixConnector(srv.path, { connectTimeout: 1 });
    // Started from the check phase and with the loop held past the deadline, the timer runs
    // before the loop polls for the connect.
    const outcome = await new Promise<unknown>((resolve) => {
      setImmediate(() => {
        const pending = connector.connect({ url: "http://localhost/" });
        const until = Date.now() + 20;
        while (Date.now() < until) {
          // hold the loop
        }
        pending.then((conn) => {
          conn.close();
          resolve(conn);
        }, resolve);
      });
    });
    expect(outcome).toBeInstanceOf(ConnectionTimeoutError);
    expect((outcome as Error).message).toBe("Connection timeout after 1 ms (localhost:80)");
  });

  it("refuses null options", () => {
    expect(() => new UnixConnector("/x.sock", null as never)).toThrow(
      new InvalidArgumentError("options must be an object"),
    );
  });
});
