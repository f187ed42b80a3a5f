/**
 * The behaviour every Remote backend must have, run against each of them (local.test.ts, http.test.ts,
 * s3.test.ts): round trip through push/fetch, only missing objects move, refs, and corrupt objects are
 * refused by name.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Remote } from "../../../src/remotes/types.js";
import { Store } from "../../../src/store/store.js";
import { fetchObjects, fetchProblems, pushObjects } from "../../../src/transfer/objects.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";
import { fillStore, makeStore } from "./fixtures.js";

export interface BackendHarness {
  /** A fresh, empty remote. */
  make(): Promise<Remote>;
  /** Damages the remote copy of an object (same length, different bytes). */
  corrupt(remote: Remote, hash: string, kind: "small" | "large"): Promise<void>;
}

/** Flips one byte of an object inside a store directory (loose file or pack). */
export function corruptInStoreDir(storeDir: string, hash: string): void {
  const store = new Store({ dir: storeDir, tmpDir: path.join(storeDir, "tmp") });
  try {
    const loose = store.loosePath(hash);
    if (fs.existsSync(loose)) {
      fs.chmodSync(loose, 0o644);
      const b = fs.readFileSync(loose);
      b[0] = (b[0] ?? 0) ^ 0xff;
      fs.writeFileSync(loose, b);
      return;
    }
    for (const pack of store.packFiles()) {
      for (const e of pack.entries()) {
        if (e.hash !== hash) continue;
        fs.chmodSync(pack.packPath, 0o644);
        const fd = fs.openSync(pack.packPath, "r+");
        const b = Buffer.alloc(1);
        fs.readSync(fd, b, 0, 1, e.offset);
        b[0] = (b[0] ?? 0) ^ 0xff;
        fs.writeSync(fd, b, 0, 1, e.offset);
        fs.closeSync(fd);
        return;
      }
    }
    throw new Error(`object ${hash} not found in ${storeDir}`);
  } finally {
    store.close();
  }
}

/**
 * Runs the shared checks. `t` is a node:test context (subtests run in order).
 */
export async function remoteContract(
  t: { test: (name: string, fn: () => Promise<void>) => Promise<void> },
  harness: BackendHarness,
): Promise<void> {
  await t.test(
    "push then fetch into an empty store round-trips every object; a second push moves nothing",
    async () => {
      const dir = makeTempDir();
      const remote = await harness.make();
      try {
        const a = makeStore(path.join(dir, "a"));
        const { roots, small, large } = await fillStore(a, dir, { count: 40 });
        const pushed = await pushObjects(a, remote, roots, { jobs: 4 });
        assert.equal(pushed.objects, 42);
        assert.equal(pushed.missingLocal.length, 0);
        const again = await pushObjects(a, remote, roots);
        assert.equal(again.objects, 0);
        assert.equal(again.present, 42);

        const b = makeStore(path.join(dir, "b"));
        const fetched = await fetchObjects(b, remote, roots, { jobs: 4 });
        assert.equal(fetchProblems(fetched), undefined);
        assert.equal(fetched.objects, 42);
        for (const h of [...small, large]) assert.deepEqual(b.readObject(h), a.readObject(h));
        const refetch = await fetchObjects(b, remote, roots);
        assert.equal(refetch.objects, 0);
      } finally {
        await remote.close();
        removeTempDir(dir);
      }
    },
  );

  await t.test("an interrupted push resumes: only the objects still missing are sent", async () => {
    const dir = makeTempDir();
    const remote = await harness.make();
    try {
      const a = makeStore(path.join(dir, "a"));
      const { roots, small } = await fillStore(a, dir, { count: 20 });
      // Part of the data reached the remote earlier.
      await remote.putBatch(small.slice(0, 10).map((hash) => ({ hash, data: a.readObject(hash) })));
      const pushed = await pushObjects(a, remote, roots);
      assert.equal(pushed.present, 10);
      assert.equal(pushed.objects, 12);
    } finally {
      await remote.close();
      removeTempDir(dir);
    }
  });

  await t.test("a corrupt remote object is reported by name and never stored", async () => {
    const dir = makeTempDir();
    const remote = await harness.make();
    try {
      const a = makeStore(path.join(dir, "a"));
      const { roots, small, large } = await fillStore(a, dir, { count: 5 });
      await pushObjects(a, remote, roots);
      await harness.corrupt(remote, small[2]!, "small");
      await harness.corrupt(remote, large, "large");
      const b = makeStore(path.join(dir, "b"));
      const fetched = await fetchObjects(b, remote, roots);
      assert.deepEqual(fetched.corrupt.map((p) => p.hash).sort(), [small[2]!, large].sort());
      assert.ok(fetched.corrupt.some((p) => p.label === "big.bin"));
      assert.equal(b.has(small[2]!), false);
      assert.equal(b.has(large), false);
      assert.equal(b.has(small[1]!), true);
      assert.equal(fetchProblems(fetched)?.code, "ERR_MTRACK_OBJECT_CORRUPT");
      assert.deepEqual(fs.readdirSync(b.tmpDir), []);
    } finally {
      await remote.close();
      removeTempDir(dir);
    }
  });

  await t.test(
    "a fetch of many small objects (whole packs where the backend can) verifies each; a damaged one is named and the rest kept",
    async () => {
      const dir = makeTempDir();
      const remote = await harness.make();
      try {
        const a = makeStore(path.join(dir, "a"));
        const { roots, small } = await fillStore(a, dir, { count: 1500 });
        await pushObjects(a, remote, roots);
        const tree = roots.find((r) => r.tree)!.hash;
        const complete: string[] = [];
        const b = makeStore(path.join(dir, "b"));
        const fetched = await fetchObjects(b, remote, roots, { onTreeComplete: (h) => complete.push(h) });
        assert.equal(fetchProblems(fetched), undefined);
        assert.equal(fetched.objects, 1502);
        for (const h of small) assert.equal(b.has(h), true);
        assert.deepEqual(b.readObject(small[1234]!), a.readObject(small[1234]!));
        assert.deepEqual(complete, [tree]);

        await harness.corrupt(remote, small[700]!, "small");
        const c = makeStore(path.join(dir, "c"));
        complete.length = 0;
        const damaged = await fetchObjects(c, remote, roots, { onTreeComplete: (h) => complete.push(h) });
        assert.deepEqual(
          damaged.corrupt.map((p) => p.hash),
          [small[700]!],
        );
        assert.match(damaged.corrupt[0]!.label, /f0700\.txt$/);
        assert.equal(c.has(small[700]!), false);
        assert.equal(c.has(small[699]!), true);
        assert.equal(c.has(small[1499]!), true);
        assert.deepEqual(complete, [], "a tree with a damaged entry is not complete");
        assert.deepEqual(fs.readdirSync(c.tmpDir), []);
      } finally {
        await remote.close();
        removeTempDir(dir);
      }
    },
  );

  await t.test("an object the remote lacks is reported missing", async () => {
    const dir = makeTempDir();
    const remote = await harness.make();
    try {
      const a = makeStore(path.join(dir, "a"));
      const { roots } = await fillStore(a, dir, { count: 3 });
      const b = makeStore(path.join(dir, "b"));
      const fetched = await fetchObjects(b, remote, roots);
      assert.equal(fetched.missingRemote.length, 2);
      assert.equal(fetchProblems(fetched)?.code, "ERR_MTRACK_OBJECT_MISSING");
    } finally {
      await remote.close();
      removeTempDir(dir);
    }
  });

  await t.test("refs: write, read, list; unknown refs read as undefined; bad names are refused", async () => {
    const remote = await harness.make();
    try {
      const id = "0123456789abcdef0123456789abcdef";
      assert.equal(await remote.readRef(`runs/${id}`), undefined);
      await remote.writeRef(`runs/${id}`, Buffer.from("abc\n"));
      assert.equal((await remote.readRef(`runs/${id}`))?.toString(), "abc\n");
      assert.deepEqual(await remote.listRefs("runs"), [`runs/${id}`]);
      assert.deepEqual(await remote.listRefs("runcache"), []);
      await assert.rejects(remote.writeRef("runs/../../x", Buffer.from("")), {
        code: "ERR_MTRACK_INVALID_NAME",
      });
      await assert.rejects(remote.readRef("other/x"), { code: "ERR_MTRACK_INVALID_NAME" });
    } finally {
      await remote.close();
    }
  });
}
