/**
 * src/server/pg/registry-sync.ts against a real PostgreSQL: a pushed event applied twice changes nothing
 * more (a retried push), an event that does not apply to the database changes nothing, a version whose
 * manifest was not pushed is refused with nothing written, and the log synchronisation writes a change
 * made in the database once (the same state gives the same events, so a second listing writes none).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { putManifest } from "../../src/registry/content.js";
import type { RegistryEvent } from "../../src/registry/types.js";
import { LocalRemote } from "../../src/remotes/local.js";
import { openPool } from "../../src/server/pg/db.js";
import { migrate } from "../../src/server/pg/migrations.js";
import { PgRegistryStore } from "../../src/server/pg/registry-store.js";
import { applyRegistryEvent, syncRegistryLog } from "../../src/server/pg/registry-sync.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";

let pg: TestPostgres | undefined;
let skipped = "";
before(async () => {
  pg = await startPostgres({ skip: (m) => (skipped = m ?? "PostgreSQL unavailable") });
});
after(async () => {
  await pg?.stop();
});

test("pushed events apply once; the log gets the database's changes once", async (t) => {
  if (!pg) return t.skip(skipped);
  const pool = await openPool(await pg.createDatabase());
  const dir = makeTempDir();
  const remote = LocalRemote.open({ dir, create: true });
  try {
    await migrate(pool);
    const store = remote.store;
    const file = store.putBuffer(Buffer.from("weights"));
    const content = putManifest(store, [{ name: "w.bin", hash: file.hash, size: file.size }]);
    await store.flush();
    const pushed = { read: (h: string) => (store.has(h) ? store.readObject(h) : undefined) };
    const base = { user: "clone" };
    const events: RegistryEvent[] = [
      { ...base, id: "0000000001000-00000001", time: 1000, op: "model.create", name: "m" },
      {
        ...base,
        id: "0000000002000-00000002",
        time: 2000,
        op: "version.create",
        name: "m",
        version: 1,
        source: "models/v1",
        runId: null,
        modelId: null,
        commit: null,
        content,
        signature: null,
        flavor: "files",
        tags: { k: "v" },
      },
      {
        ...base,
        id: "0000000003000-00000003",
        time: 3000,
        op: "alias.set",
        name: "m",
        alias: "prod",
        version: 1,
      },
    ];
    const reg = new PgRegistryStore(pool);
    const snapshot = async () =>
      JSON.stringify((await reg.listModels()).map((m) => ({ ...m, versions: [...m.versions] })));
    for (const e of events) {
      assert.deepEqual(await applyRegistryEvent(pool, pushed, remote, true, e, "ana"), { applied: true });
      await remote.writeRef(`registry/${e.id}`, Buffer.from(JSON.stringify(e)));
    }
    const once = await snapshot();
    // Again (a retried push): the creations do not apply, the alias is set to what it is.
    const again = [];
    for (const e of events)
      again.push((await applyRegistryEvent(pool, pushed, remote, true, e, "ana")).applied);
    assert.deepEqual(again, [false, false, true]);
    assert.equal(await snapshot(), once);
    const m = await reg.getModel("m");
    assert.deepEqual(
      [m.user, m.aliases, m.versions.get(1)?.tags, m.versions.get(1)?.content.files],
      ["ana", { prod: 1 }, { k: "v" }, 1],
    );
    // An event for a version the database lacks: nothing changes, no error.
    const stray: RegistryEvent = {
      ...base,
      id: "0000000004000-00000004",
      time: 4000,
      op: "version.delete",
      name: "m",
      version: 9,
    };
    assert.equal((await applyRegistryEvent(pool, pushed, remote, true, stray, "ana")).applied, false);
    // A version whose manifest is not in the pushed store is refused, nothing written.
    const lost = {
      ...events[1],
      id: "0000000005000-00000005",
      version: 2,
      content: { ...content, hash: "f".repeat(64) },
    };
    await assert.rejects(
      applyRegistryEvent(pool, pushed, remote, true, lost as RegistryEvent, "ana"),
      (e: Error & { code?: string }) => e.code === "ERR_MTRACK_OBJECT_MISSING",
    );
    assert.equal(await snapshot(), once);

    // The log already matches the database: nothing to write.
    assert.equal(await syncRegistryLog(pool, remote, remote, true), 0);
    // Changes in the database (as the MLflow API makes them) are written once, then never again.
    await reg.createVersion("m", "bob", {
      source: "models:/m/1",
      runId: null,
      modelId: null,
      files: [{ name: "w.bin", hash: file.hash, size: file.size }],
      flavor: "files",
    });
    await reg.setAlias("m", "prod", 2);
    await reg.setVersionTag("m", 1, "k", null);
    assert.equal(await syncRegistryLog(pool, remote, remote, true), 3);
    assert.equal(await syncRegistryLog(pool, remote, remote, true), 0);
    const refs = await remote.listRefs("registry");
    assert.equal(refs.length, 6);
  } finally {
    await remote.close();
    await pool.end();
    removeTempDir(dir);
  }
});
