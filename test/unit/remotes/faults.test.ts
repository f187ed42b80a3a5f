import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { LocalRemote } from "../../../src/remotes/local.js";
import type { Remote } from "../../../src/remotes/types.js";
import { fetchObjects, pushObjects } from "../../../src/transfer/objects.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";
import { fillStore, makeStore } from "./fixtures.js";

test("a download cut off mid-stream fails with reason unreachable, stores nothing partial, and a rerun completes", async () => {
  const dir = makeTempDir();
  const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
  try {
    const a = makeStore(path.join(dir, "a"));
    const { roots, large } = await fillStore(a, dir, { count: 5, largeBytes: 900_000 });
    await pushObjects(a, remote, roots);
    let cut = true;
    const flaky: Remote = Object.create(remote) as Remote;
    // The streamed path (HTTP, S3): without copyTo, the directory remote's object is read through open().
    flaky.copyTo = undefined;
    flaky.open = async (hash) => {
      const body = await remote.open(hash);
      if (!cut || !body) return body;
      // Half the bytes, then a dropped connection.
      const bytes = Buffer.concat(await body.toArray());
      return Readable.from(
        (async function* () {
          yield bytes.subarray(0, bytes.length >> 1);
          throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
        })(),
      );
    };
    const b = makeStore(path.join(dir, "b"));
    await assert.rejects(fetchObjects(b, flaky, roots), (err: { data: { reason: string } }) => {
      assert.equal(err.data.reason, "unreachable");
      return true;
    });
    assert.equal(b.has(large), false);
    assert.deepEqual(fs.readdirSync(b.tmpDir), []);
    cut = false;
    const rerun = await fetchObjects(b, flaky, roots);
    assert.equal(b.verify(large), "ok");
    assert.ok(rerun.objects >= 1);
  } finally {
    await remote.close();
    removeTempDir(dir);
  }
});
