// The tour of @x: run with `pnpm start` from the workspace root. Everything talks to servers
// this script starts on 127.0.0.1; nothing reaches the internet.
import { connect } from "node:net";
import { ClientConnectorError, ClientError, OSError } from "@x/errors";

function section(title: string): void {
  console.log(`\n── ${title} ${"─".repeat(Math.max(0, 60 - title.length))}`);
}

section("errors: one hierarchy, stable codes, instanceof across copies");
const refused = await new Promise<Error>((resolve) => connect(9, "127.0.0.1").once("error", resolve));
const err = new ClientConnectorError({ host: "127.0.0.1", port: 9, ssl: false, osError: refused });
console.log(String(err));
console.log("code:", err.code, "| os code:", err.osCode);
console.log(
  "instanceof ClientError:",
  err instanceof ClientError,
  "| instanceof OSError:",
  err instanceof OSError,
);
