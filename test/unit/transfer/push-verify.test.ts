import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { LocalRemote } from "../../../src/remotes/local.js";
import { Store } from "../../../src/store/store.js";
import { isPackVerified } from "../../../src/store/verified.js";
import { pushObjects, pushProblems } from "../../../src/transfer/objects.js";
import { withTempDir } from "../../helpers/tmp.js";

function flipByte(file: string, at: number): void {
  fs.chmodSync(file, 0o644);
  const fd = fs.openSync(file, "r+");
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0] = (b[0] ?? 0) ^ 0xff;
    fs.writeSync(fd, b, 0, 1, at);
  } finally {
    fs.closeSync(fd);
  }
}

test("push checks a local pack before sending it whole: a damaged object is refused by name, the rest goes", () =>
  withTempDir(async (dir) => {
    const store = new Store({ dir: path.join(dir, "cache"), tmpDir: path.join(dir, "tmp") });
    store.init();
    const objects = ["one\n", "two\n", "three\n", "four\n"].map((s) => Buffer.from(s));
    const puts = objects.map((o) => store.putBuffer(o));
    await store.flush();
    const [pack] = store.packFiles();
    assert.ok(pack);
    assert.equal(isPackVerified(store.dir, pack.id, pack.packPath), true, "written from hashed bytes");
    const victim = puts[1]!.hash;
    const at = [...pack.entries()].find((e) => e.hash === victim)!.offset;
    flipByte(pack.packPath, at);
    assert.equal(isPackVerified(store.dir, pack.id, pack.packPath), false, "a write changes its ctime");
    store.reload();
    const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
    try {
      const roots = puts.map((p, i) => ({
        hash: p.hash,
        size: objects[i]!.length,
        tree: false,
        label: `f${i}`,
      }));
      const summary = await pushObjects(store, remote, roots);
      assert.deepEqual(summary.corruptLocal, [{ hash: victim, label: "f1" }]);
      assert.equal(summary.objects, 3);
      const there = await remote.has(roots);
      assert.deepEqual(
        roots.map((r) => there.has(r.hash)),
        [true, false, true, true],
      );
      assert.equal(pushProblems(summary)?.code, "ERR_MTRACK_OBJECT_CORRUPT");
    } finally {
      await remote.close();
      store.close();
    }
  }));
