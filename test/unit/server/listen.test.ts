import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { isMtrackError } from "../../../src/errors.js";
import { startServer } from "../../../src/server/server.js";

test("a server on a port in use fails with a clear error and the --port hint, not a raw EADDRINUSE", async () => {
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-listen-"));
  const first = await startServer({ storeDir, host: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(
      startServer({ storeDir, host: "127.0.0.1", port: first.port }),
      (e) =>
        isMtrackError(e, "ERR_MTRACK_IO") &&
        e.message === `Port ${first.port} on 127.0.0.1 is already in use.` &&
        /--port/.test(e.hint ?? ""),
    );
  } finally {
    await first.close();
    fs.rmSync(storeDir, { recursive: true, force: true });
  }
});

test("a connection that sends nothing is closed after the idle timeout", async () => {
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-idle-"));
  const s = await startServer({ storeDir, host: "127.0.0.1", port: 0, idleTimeoutMs: 200 });
  try {
    const net = await import("node:net");
    const closed = await new Promise<boolean>((resolve) => {
      const sock = net.connect(s.port, "127.0.0.1", () => sock.write("PUT /objects/x HTTP/1.1\r\n"));
      const timer = setTimeout(() => resolve(false), 5000);
      sock.on("close", () => {
        clearTimeout(timer);
        resolve(true);
      });
      sock.on("error", () => undefined);
    });
    assert.ok(closed, "the stalled connection was closed");
  } finally {
    await s.close();
    fs.rmSync(storeDir, { recursive: true, force: true });
  }
});
