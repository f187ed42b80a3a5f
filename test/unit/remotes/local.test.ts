import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { LocalRemote } from "../../../src/remotes/local.js";
import type { Remote } from "../../../src/remotes/types.js";
import { hashBytes } from "../../../src/store/hash.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";
import { corruptInStoreDir, remoteContract } from "./contract.js";

test("local remote", async (t) => {
  const dirs: string[] = [];
  try {
    await remoteContract(t, {
      async make(): Promise<Remote> {
        const dir = makeTempDir();
        dirs.push(dir);
        return LocalRemote.open({ dir });
      },
      async corrupt(remote, hash) {
        corruptInStoreDir(remote.url, hash);
      },
    });
    await t.test("a missing directory is a not-found error", () => {
      assert.throws(() => LocalRemote.open({ dir: path.join(dirs[0] ?? "/nonexistent", "nope") }), {
        code: "ERR_MTRACK_REMOTE_NOT_FOUND",
      });
      assert.ok(fs.existsSync(dirs[0]!));
    });
  } finally {
    for (const d of dirs) removeTempDir(d);
  }
});

test("local remote: objects another process packs after the first lookup are still found", async () => {
  const dir = makeTempDir();
  const server = LocalRemote.open({ dir });
  const client = LocalRemote.open({ dir });
  try {
    const data = Buffer.from("pushed by someone else");
    const hash = hashBytes(data);
    assert.equal(server.sizeOf(hash), undefined);
    assert.equal((await server.has([{ hash, size: data.length }])).size, 0);
    await client.putBatch([{ hash, data }]);
    assert.equal(server.sizeOf(hash), data.length);
    assert.deepEqual(server.read(hash), data);
    assert.equal((await server.has([{ hash, size: 0 }])).has(hash), true);
  } finally {
    await server.close();
    await client.close();
    removeTempDir(dir);
  }
});
