/**
 * The model registry through a directory remote, in process: push and fetch of events and the objects
 * they make live, deleted versions, an interrupted push, events held back for missing objects, damaged
 * refs; gc (local and --cloud) and fsck of the registry.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { contentFromPath } from "../../../src/registry/content.js";
import { fsckRegistry } from "../../../src/registry/fsck.js";
import { registryNeeds, registryRoots } from "../../../src/registry/gc.js";
import { Registry } from "../../../src/registry/registry.js";
import type { ModelContent, RegistryState } from "../../../src/registry/types.js";
import { LocalRemote } from "../../../src/remotes/local.js";
import type { Remote } from "../../../src/remotes/types.js";
import { initRepo, Repo } from "../../../src/repo.js";
import { readManifest } from "../../../src/tracking/read.js";
import { fetchRegistry, pushRegistry } from "../../../src/transfer/registry.js";
import { gcRemote } from "../../../src/transfer/remote-gc.js";
import { fsckStore } from "../../../src/workspace/fsck.js";
import { gcStore } from "../../../src/workspace/gc.js";
import { makeTempDir, removeTempDir, writeTree } from "../../helpers/tmp.js";
import { corruptInStoreDir } from "../remotes/contract.js";

function repoIn(dir: string): Repo {
  fs.mkdirSync(path.join(dir, ".git"), { recursive: true });
  initRepo({ cwd: dir });
  return Repo.open({ cwd: dir });
}

function registryOf(repo: Repo): Registry {
  return new Registry({ dir: repo.paths.registryDir, user: "tester" });
}

/** Stores `files` as a model directory and registers it as version `n` of `name`. */
async function register(
  repo: Repo,
  name: string,
  n: number,
  files: Record<string, string>,
): Promise<ModelContent> {
  const dir = path.join(repo.paths.tmpDir, `src-${name}-${n}`);
  writeTree(dir, files);
  const content = await contentFromPath(repo.store, dir);
  await repo.store.flush();
  fs.rmSync(dir, { recursive: true, force: true });
  await registryOf(repo).write({
    op: "version.create",
    name,
    version: n,
    source: `models/${name}`,
    runId: null,
    modelId: null,
    commit: null,
    content,
    signature: null,
    flavor: "files",
  });
  return content;
}

/** The registry as comparable text (Maps spelt out). */
function canon(s: RegistryState): string {
  return JSON.stringify({
    models: [...s.models].map(([k, m]) => [k, { ...m, versions: [...m.versions] }]),
    logged: [...s.loggedModels].map(([k, l]) => [k, { ...l, files: [...l.files] }]),
    conflicts: s.conflicts,
  });
}

function filesOf(repo: Repo, content: ModelContent): string[] {
  return [content.hash, ...readManifest(repo.store, content.hash).map((e) => e.hash)];
}

/** A's registry: model clf with v1 and v2 (alias champion on v2) and a logged model with one file. */
async function populate(a: Repo): Promise<{ v1: ModelContent; v2: ModelContent; logged: string }> {
  const reg = registryOf(a);
  await reg.write({ op: "model.create", name: "clf", description: "a classifier" });
  const v1 = await register(a, "clf", 1, { "model.json": '{"v":1}', "weights.bin": "w1".repeat(1000) });
  const v2 = await register(a, "clf", 2, { "model.json": '{"v":2}', "weights.bin": "w2".repeat(1000) });
  await reg.write({ op: "alias.set", name: "clf", alias: "champion", version: 2 });
  const logged = a.store.putBuffer(Buffer.from("flavors: {}\n")).hash;
  await a.store.flush();
  await reg.write({
    op: "logged.create",
    modelId: `m-${"1".repeat(32)}`,
    experimentId: "0",
    name: "lm",
    sourceRunId: null,
  });
  await reg.write({
    op: "logged.file",
    modelId: `m-${"1".repeat(32)}`,
    path: "MLmodel",
    hash: logged,
    size: 12,
  });
  return { v1, v2, logged };
}

test("registry push and fetch through a directory remote", async (t) => {
  const dir = makeTempDir();
  try {
    const a = repoIn(path.join(dir, "a"));
    const b = repoIn(path.join(dir, "b"));
    const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
    const { v1, v2, logged } = await populate(a);

    await t.test("push sends the objects, then one ref per event; again sends nothing", async () => {
      const pushed = await pushRegistry(a, remote);
      assert.equal(pushed.kind, "registry");
      assert.equal(pushed.transferred, 6);
      assert.deepEqual(pushed.held, []);
      assert.equal(pushed.objects.objects, 7); // 2 manifests, 4 files, 1 logged file
      const refs = await remote.listRefs("registry");
      assert.deepEqual(
        refs,
        registryOf(a)
          .eventIds()
          .map((id) => `registry/${id}`),
      );
      const again = await pushRegistry(a, remote);
      assert.equal(again.transferred, 0);
      assert.equal(again.present, 6);
      assert.equal(again.objects.objects, 0);
    });

    await t.test("fetch imports the events and has every object they make live", async () => {
      const fetched = await fetchRegistry(b, remote);
      assert.equal(fetched.transferred, 6);
      assert.deepEqual(fetched.held, []);
      assert.deepEqual(fetched.damaged, []);
      assert.equal(canon(registryOf(b).state()), canon(registryOf(a).state()));
      for (const h of [...filesOf(a, v1), ...filesOf(a, v2), logged]) assert.ok(b.store.has(h), h);
      assert.equal((await fetchRegistry(b, remote)).transferred, 0);
    });

    await t.test("a deleted version travels, its files stay behind once collected", async () => {
      await registryOf(b).write({ op: "version.delete", name: "clf", version: 2 });
      const gc = await gcStore(b, [registryRoots(b)]);
      assert.ok(gc.removed >= 3, `removed ${gc.removed}`);
      for (const h of filesOf(a, v2)) if (!filesOf(a, v1).includes(h)) assert.ok(!b.store.has(h));
      for (const h of [...filesOf(a, v1), logged]) assert.ok(b.store.has(h));
      // A fresh remote gets v2's creation after its deletion, and never its (collected) files.
      const fresh = LocalRemote.open({ dir: path.join(dir, "fresh"), create: true });
      const pushed = await pushRegistry(b, fresh);
      assert.equal(pushed.transferred, 7);
      assert.deepEqual(pushed.held, []);
      assert.deepEqual(pushed.objects.missingLocal, []);
      const c = repoIn(path.join(dir, "c"));
      const fetched = await fetchRegistry(c, fresh);
      assert.equal(fetched.transferred, 7);
      assert.equal(canon(registryOf(c).state()), canon(registryOf(b).state()));
      assert.equal(registryOf(c).state().models.get("clf")?.versions.has(2), false);
      assert.ok(!c.store.has(v2.hash));
      // And A learns of the deletion from the first remote.
      await pushRegistry(b, remote);
      assert.equal((await fetchRegistry(a, remote)).transferred, 1);
      assert.equal(canon(registryOf(a).state()), canon(registryOf(b).state()));
      await fresh.close();
    });

    await t.test("damaged or mislabelled refs are skipped", async () => {
      await remote.writeRef("registry/9999999999999-00000000", Buffer.from("{not json"));
      const other = JSON.parse(registryOf(a).readEventText(registryOf(a).eventIds()[0]!)!) as { id: string };
      await remote.writeRef("registry/9999999999999-00000001", Buffer.from(JSON.stringify({ ...other })));
      const before = registryOf(b).eventIds().length;
      const fetched = await fetchRegistry(b, remote);
      assert.equal(fetched.transferred, 0);
      assert.deepEqual(fetched.damaged, [
        "registry/9999999999999-00000000",
        "registry/9999999999999-00000001",
      ]);
      assert.equal(registryOf(b).eventIds().length, before);
    });
    await remote.close();
  } finally {
    removeTempDir(dir);
  }
});

test("registry events without their objects on the remote are held back until the objects come", async () => {
  const dir = makeTempDir();
  try {
    const a = repoIn(path.join(dir, "a"));
    const b = repoIn(path.join(dir, "b"));
    const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
    const { v1 } = await populate(a);
    // Events only (as a push killed between objects and refs by another tool would leave them).
    const reg = registryOf(a);
    for (const id of reg.eventIds())
      await remote.writeRef(`registry/${id}`, Buffer.from(reg.readEventText(id)!));
    const fetched = await fetchRegistry(b, remote);
    assert.deepEqual(
      fetched.held?.map((h) => h.event).sort(),
      reg
        .events()
        .filter((e) => e.op === "version.create" || e.op === "logged.file")
        .map((e) => e.id),
    );
    assert.ok(fetched.objects.missingRemote.length > 0);
    assert.equal(registryOf(b).state().models.get("clf")?.versions.size, 0);
    assert.equal(registryOf(b).state().conflicts.length, 1); // the alias on the held version 2
    assert.ok(!b.store.has(v1.hash));
    // A push completes the objects although every event is there already; the held events follow.
    const pushed = await pushRegistry(a, remote);
    assert.equal(pushed.transferred, 0);
    assert.equal(pushed.objects.objects, 7);
    const again = await fetchRegistry(b, remote);
    assert.deepEqual(again.held, []);
    assert.equal(again.transferred, 3);
    // The alias imported meanwhile (its version was held) applies once the version is folded before it.
    assert.equal(canon(registryOf(b).state()), canon(reg.state()));
    assert.deepEqual(registryOf(b).state().conflicts, []);
    await remote.close();
  } finally {
    removeTempDir(dir);
  }
});

test("an interrupted registry push leaves a prefix of the log, every live version's files present", async () => {
  const dir = makeTempDir();
  try {
    const a = repoIn(path.join(dir, "a"));
    const b = repoIn(path.join(dir, "b"));
    const inner = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
    await populate(a);
    let writes = 0;
    const flaky: Remote = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === "writeRef")
          return async (name: string, data: Buffer) => {
            if (++writes > 3) throw new Error("connection reset");
            return target.writeRef(name, data);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    await assert.rejects(pushRegistry(a, flaky), /connection reset/);
    const ids = registryOf(a).eventIds();
    assert.deepEqual(
      await inner.listRefs("registry"),
      ids.slice(0, 3).map((id) => `registry/${id}`),
    );
    const fetched = await fetchRegistry(b, inner);
    assert.equal(fetched.transferred, 3);
    assert.deepEqual(fetched.held, []);
    const state = registryOf(b).state();
    assert.deepEqual([...(state.models.get("clf")?.versions.keys() ?? [])], [1, 2]);
    assert.equal(state.conflicts.length, 0);
    for (const h of registryNeeds(state, b.store).keys()) assert.ok(b.store.has(h));
    await pushRegistry(a, inner);
    assert.equal((await fetchRegistry(b, inner)).transferred, 3);
    assert.equal(canon(registryOf(b).state()), canon(registryOf(a).state()));
    await inner.close();
  } finally {
    removeTempDir(dir);
  }
});

test("gc keeps live versions and logged models, frees deleted ones", async () => {
  const dir = makeTempDir();
  try {
    const a = repoIn(path.join(dir, "a"));
    const { v1, v2, logged } = await populate(a);
    const before = await gcStore(a, [registryRoots(a)], { dryRun: true });
    assert.equal(before.removed, 0);
    assert.equal(before.roots["model registry"], 7);
    await registryOf(a).write({ op: "version.delete", name: "clf", version: 1 });
    await registryOf(a).write({ op: "logged.delete", modelId: `m-${"1".repeat(32)}` });
    const gc = await gcStore(a, [registryRoots(a)]);
    assert.equal(gc.removed, 4); // v1's manifest and two files, the logged model's file
    for (const h of filesOf(a, v2)) assert.ok(a.store.has(h));
    assert.ok(!a.store.has(v1.hash));
    assert.ok(!a.store.has(logged));
  } finally {
    removeTempDir(dir);
  }
});

test("gc --cloud keeps what the remote's registry events make live", async () => {
  const dir = makeTempDir();
  try {
    const a = repoIn(path.join(dir, "a"));
    const c = repoIn(path.join(dir, "c"));
    const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
    const { v1, v2 } = await populate(a);
    await pushRegistry(a, remote);
    // A clone without any registry collects: the remote's own events keep every live version.
    const kept = await gcRemote(c, [], { open: remote, keepNewerMs: 0 });
    assert.equal(kept.removed, 0);
    assert.equal(kept.roots["remote model registry"], 3);
    await registryOf(a).write({ op: "version.delete", name: "clf", version: 2 });
    await pushRegistry(a, remote);
    const r = await gcRemote(c, [], { open: remote, keepNewerMs: 0 });
    assert.equal(r.removed, 3);
    const there = await remote.has([...filesOf(a, v1), ...filesOf(a, v2)].map((hash) => ({ hash, size: 1 })));
    for (const h of filesOf(a, v1)) assert.ok(there.has(h));
    assert.ok(!there.has(v2.hash));
    // A damaged event on the remote makes it refuse: it might name a version.
    await remote.writeRef("registry/9999999999999-00000000", Buffer.from("{"));
    await assert.rejects(gcRemote(c, [], { open: remote, keepNewerMs: 0 }), { code: "ERR_MTRACK_GC_UNSAFE" });
    await remote.close();
  } finally {
    removeTempDir(dir);
  }
});

test("fsck reports damaged event files, missing or corrupt objects of live versions, and conflicts", async () => {
  const dir = makeTempDir();
  try {
    const a = repoIn(path.join(dir, "a"));
    const { v1, v2 } = await populate(a);
    assert.deepEqual(fsckRegistry(a).problems, []);
    assert.equal(fsckRegistry(a).events, 6);
    const reg = registryOf(a);
    const v1Event = reg.events().find((e) => e.op === "version.create" && e.version === 1)!;
    const weights = readManifest(a.store, v1.hash).find((e) => e.name === "weights.bin")!.hash;
    corruptInStoreDir(a.paths.cacheDir, weights);
    const eventsDir = path.join(a.paths.registryDir, "events");
    fs.writeFileSync(path.join(eventsDir, "9999999999998-0000dead.json"), '{"id":"trunc');
    // Another clone's version 2 that came second: it does not apply.
    reg.importEvent(JSON.stringify({ ...v1Event, id: "9999999999999-0000beef", version: 2, content: v2 }));
    a.store.reload();
    const store = await fsckStore(a);
    const r = fsckRegistry(a, { corrupt: new Set(store.corrupt.map((c) => c.hash)) });
    assert.equal(r.ok, false);
    const byKind = (k: string) => r.problems.filter((p) => p.kind === k);
    assert.deepEqual(
      byKind("corrupt-object").map((p) => [p.hash, p.file, p.label]),
      [[weights, `.mtrack/registry/events/${v1Event.id}.json`, "models:/clf/1/weights.bin"]],
    );
    assert.deepEqual(
      byKind("damaged-event").map((p) => p.file),
      [".mtrack/registry/events/9999999999998-0000dead.json"],
    );
    assert.deepEqual(
      byKind("conflict").map((p) => [p.event, p.file]),
      [["9999999999999-0000beef", ".mtrack/registry/events/9999999999999-0000beef.json"]],
    );
    for (const p of r.problems) assert.ok(p.hint.length > 0);
    // A missing file of a live version.
    fs.rmSync(path.join(eventsDir, "9999999999998-0000dead.json"));
    fs.rmSync(path.join(eventsDir, "9999999999999-0000beef.json"));
    const v2Weights = readManifest(a.store, v2.hash).find((e) => e.name === "weights.bin")!.hash;
    a.store.delete(new Set([v2Weights]));
    const missing = fsckRegistry(a).problems.filter((p) => p.kind === "missing-object");
    assert.deepEqual(
      missing.map((p) => p.label),
      ["models:/clf/2/weights.bin"],
    );
  } finally {
    removeTempDir(dir);
  }
});

test("push holds back an event whose live version's files this clone lacks", async () => {
  const dir = makeTempDir();
  try {
    const a = repoIn(path.join(dir, "a"));
    const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
    const { v2 } = await populate(a);
    const weights = readManifest(a.store, v2.hash).find((e) => e.name === "weights.bin")!.hash;
    a.store.delete(new Set([weights]));
    const pushed = await pushRegistry(a, remote);
    const v2Event = registryOf(a)
      .events()
      .find((e) => e.op === "version.create" && e.version === 2)!;
    assert.deepEqual(pushed.held, [{ event: v2Event.id, missing: [weights] }]);
    assert.deepEqual(
      pushed.objects.missingLocal.map((p) => [p.hash, p.label]),
      [[weights, "models:/clf/2/weights.bin"]],
    );
    assert.equal(pushed.transferred, 5);
    assert.ok(!(await remote.listRefs("registry")).includes(`registry/${v2Event.id}`));
    await remote.close();
  } finally {
    removeTempDir(dir);
  }
});
