/**
 * Workspace operations in-process on a real directory: stat-cache use (no rehash of unchanged files, the
 * racy rule), hostile manifests at checkout and get, and edge cases of checkout.
 */
import assert from "node:assert/strict";
import realFs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { Packr } from "msgpackr";
import { initRepo, Repo } from "../../../src/repo.js";
import { hashBytes } from "../../../src/store/hash.js";
import type { FsLike } from "../../../src/util/fs.js";
import { addPaths, commitPaths } from "../../../src/workspace/add.js";
import { checkoutPaths } from "../../../src/workspace/checkout.js";
import { fsckStore } from "../../../src/workspace/fsck.js";
import { gcStore, workspaceRoots } from "../../../src/workspace/gc.js";
import { getAtRev } from "../../../src/workspace/get.js";
import { serializePointer } from "../../../src/workspace/pointer.js";
import { statusPaths } from "../../../src/workspace/status.js";
import { findTrackedPaths } from "../../../src/workspace/tracked.js";
import { makeTempGitRepo } from "../../helpers/git-repo.js";
import { withTempDir, writeTree } from "../../helpers/tmp.js";

/** A work tree with mtrack initialised (a .git directory is all Repo.open needs). */
function makeRoot(dir: string, files: Record<string, string>): string {
  const root = path.join(dir, "repo");
  realFs.mkdirSync(path.join(root, ".git"), { recursive: true });
  initRepo({ cwd: root });
  writeTree(root, files);
  return root;
}

/** node:fs that counts files opened for reading under `dir`. */
function countingFs(dir: string): { fs: FsLike; opened: string[] } {
  const opened: string[] = [];
  const fs = {
    ...realFs,
    openSync: (p: realFs.PathLike, flags?: realFs.OpenMode, mode?: realFs.Mode) => {
      if (String(p).startsWith(dir + path.sep) && (flags === undefined || flags === "r"))
        opened.push(String(p));
      return realFs.openSync(p, flags ?? "r", mode);
    },
  } as unknown as FsLike;
  return { fs, opened };
}

function setMtime(root: string, rels: string[], when: Date): void {
  for (const rel of rels) realFs.utimesSync(path.join(root, rel), when, when);
}

const FILES = { "data/a.txt": "aaaa\n", "data/sub/b.txt": "bbbb\n", "data/c.txt": "cccc\n" };

test("unchanged files are never reopened: re-add and status use the stat cache", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, FILES);
    setMtime(root, Object.keys(FILES), new Date(Date.now() - 3600_000));
    const first = await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    assert.equal(first[0]?.changed, true);
    const packsBefore = realFs.readdirSync(path.join(root, ".mtrack/cache/packs")).sort();

    const counting = countingFs(path.join(root, "data"));
    const again = await addPaths(Repo.open({ cwd: root, fs: counting.fs }), [path.join(root, "data")]);
    assert.equal(again[0]?.changed, false);
    assert.equal(again[0]?.hash, first[0]?.hash);
    assert.deepEqual(counting.opened, [], "re-add read no data file");
    assert.deepEqual(
      realFs.readdirSync(path.join(root, ".mtrack/cache/packs")).sort(),
      packsBefore,
      "re-add wrote no pack",
    );

    const st = await statusPaths(Repo.open({ cwd: root, fs: counting.fs }), ["data"]);
    assert.equal(st.clean, true);
    assert.deepEqual(counting.opened, [], "status read no data file");

    // Deleting the stat cache loses only speed.
    realFs.rmSync(path.join(root, ".mtrack/state/stat-cache"), { force: true });
    realFs.rmSync(path.join(root, ".mtrack/state/dirs"), { recursive: true });
    const cold = await statusPaths(Repo.open({ cwd: root, fs: counting.fs }), ["data"]);
    assert.equal(cold.clean, true);
    assert.equal(counting.opened.length, 3, "without the cache every file is hashed");
  }));

test("racy files: a same-size edit that keeps the mtime of a just-hashed file is still detected", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, FILES);
    // An mtime at (or after) the moment of hashing: the cache entry must not be trusted later.
    const tick = new Date(Date.now() + 2000);
    setMtime(root, ["data/a.txt"], tick);
    await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    const file = path.join(root, "data/a.txt");
    const before = realFs.statSync(file);
    realFs.writeFileSync(file, "AAAA\n"); // same size, same inode
    realFs.utimesSync(file, tick, tick);
    const after = realFs.statSync(file);
    assert.deepEqual([after.size, after.mtimeMs, after.ino], [before.size, before.mtimeMs, before.ino]);
    const st = await statusPaths(Repo.open({ cwd: root }), ["data"]);
    assert.equal(st.paths[0]?.workspace, "modified");
    assert.deepEqual(st.paths[0]?.changes?.modified, ["a.txt"]);
  }));

const packr = new Packr({ useRecords: false, variableMapSize: true });

/** Puts a crafted manifest with one entry at `entryPath` in the store and points data.mtrack at it. */
async function plantHostileManifest(root: string, entryPath: string): Promise<string> {
  const repo = Repo.open({ cwd: root });
  const evil = Buffer.from("evil\n");
  const { hash: fileHash } = repo.store.putBuffer(evil);
  const manifest = packr.pack({ v: 1, entries: [[entryPath, Buffer.from(fileHash, "hex"), evil.length, 0]] });
  const { hash } = repo.store.putBuffer(manifest);
  await repo.store.flush();
  realFs.writeFileSync(
    path.join(root, "data.mtrack"),
    serializePointer({ path: "data", type: "directory", hash, size: evil.length, files: 1 }),
  );
  return hash;
}

const HOSTILE_PATHS = [
  "../escape.txt",
  "../../escape.txt",
  "x/../../escape.txt",
  "/tmp/escape.txt",
  ".git/config",
];

test("checkout never follows a hostile manifest (.., absolute, .git): MANIFEST_INVALID, nothing written", () =>
  withTempDir(async (dir) => {
    for (const p of HOSTILE_PATHS) {
      const root = makeRoot(path.join(dir, String(HOSTILE_PATHS.indexOf(p))), {});
      await plantHostileManifest(root, p);
      const r = await checkoutPaths(Repo.open({ cwd: root }), ["data"]);
      assert.equal(r.ok, false, p);
      assert.equal(r.paths[0]?.error?.code, "ERR_MTRACK_MANIFEST_INVALID", p);
      assert.equal(realFs.existsSync(path.join(root, "escape.txt")), false, p);
      assert.equal(realFs.existsSync(path.join(path.dirname(root), "escape.txt")), false, p);
      assert.equal(realFs.existsSync(path.join(root, "data")), false, p);
      assert.equal(realFs.readdirSync(path.join(root, ".git")).length, 0, p);
      assert.equal((await fsckStore(Repo.open({ cwd: root }))).ok, false, "fsck flags the unusable pointer");
    }
    assert.equal(realFs.existsSync("/tmp/escape.txt"), false);
  }));

test("get never follows a hostile manifest from git history", async () => {
  const repo = makeTempGitRepo();
  try {
    initRepo({ cwd: repo.dir });
    await plantHostileManifest(repo.dir, "../escape.txt");
    repo.commit("hostile pointer");
    const out = path.join(repo.home, "out");
    await assert.rejects(
      getAtRev(Repo.open({ cwd: repo.dir }), "data", "HEAD", out),
      (e: { code?: string }) => e.code === "ERR_MTRACK_MANIFEST_INVALID",
    );
    assert.equal(realFs.existsSync(out), false);
    assert.equal(realFs.existsSync(path.join(repo.home, "escape.txt")), false);
  } finally {
    repo.cleanup();
  }
});

test("checkout leaves untracked files outside tracked paths alone, and restores a deleted tracked dir", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, { ...FILES, "notes.txt": "mine\n", "data2/x.txt": "untracked\n" });
    await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    realFs.rmSync(path.join(root, "data"), { recursive: true });
    const r = await checkoutPaths(Repo.open({ cwd: root }), ["data"]);
    assert.equal(r.ok, true);
    assert.equal(r.paths[0]?.action, "restored");
    for (const [rel, content] of Object.entries(FILES)) {
      assert.equal(realFs.readFileSync(path.join(root, rel), "utf8"), content);
    }
    assert.equal(realFs.readFileSync(path.join(root, "notes.txt"), "utf8"), "mine\n");
    assert.equal(realFs.readFileSync(path.join(root, "data2/x.txt"), "utf8"), "untracked\n");
  }));

test("an empty tracked directory is recreated by checkout", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, {});
    realFs.mkdirSync(path.join(root, "empty"));
    const [added] = await addPaths(Repo.open({ cwd: root }), [path.join(root, "empty")]);
    assert.equal(added?.files, 0);
    realFs.rmdirSync(path.join(root, "empty"));
    const r = await checkoutPaths(Repo.open({ cwd: root }), ["empty"]);
    assert.equal(r.ok, true);
    assert.equal(realFs.statSync(path.join(root, "empty")).isDirectory(), true);
    assert.equal((await statusPaths(Repo.open({ cwd: root }), ["empty"])).clean, true);
  }));

test("get works with revisions whose names contain '/' or '.mtrack' (feature/x, v1.mtrack.bak)", async () => {
  const repo = makeTempGitRepo();
  try {
    initRepo({ cwd: repo.dir });
    repo.write({ "data/a.txt": "v1\n" });
    await addPaths(Repo.open({ cwd: repo.dir }), [repo.abs("data")]);
    repo.commit("v1");
    repo.git("branch", "feature/x");
    repo.git("tag", "v1.mtrack.bak");
    for (const rev of ["main", "feature/x", "v1.mtrack.bak"]) {
      const out = path.join(repo.home, `out-${rev.replace(/\W/g, "_")}`);
      const r = await getAtRev(Repo.open({ cwd: repo.dir }), "data", rev, out);
      assert.equal(r.files, 1, rev);
      assert.equal(realFs.readFileSync(path.join(out, "a.txt"), "utf8"), "v1\n", rev);
    }
  } finally {
    repo.cleanup();
  }
});

/** Plants a pointer `<name>.mtrack` at the root whose (valid) manifest holds `files`. */
async function plantPointer(root: string, name: string, files: Record<string, string>): Promise<void> {
  const repo = Repo.open({ cwd: root });
  const rows = Object.entries(files).map(([p, content]) => {
    const { hash } = repo.store.putBuffer(Buffer.from(content));
    return [p, Buffer.from(hash, "hex"), Buffer.byteLength(content), 1];
  });
  const { hash } = repo.store.putBuffer(packr.pack({ v: 1, entries: rows }));
  await repo.store.flush();
  const size = Object.values(files).reduce((s, c) => s + Buffer.byteLength(c), 0);
  realFs.writeFileSync(
    path.join(root, `${name}.mtrack`),
    `version: 1\npath: "${name}"\ntype: directory\nhash: ${hash}\nsize: ${size}\nfiles: ${rows.length}\n`,
  );
}

test("a committed .git.mtrack or .mtrack.mtrack pointer never makes checkout write into .git/ or .mtrack/", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, { ".git/HEAD": "ref: refs/heads/main\n", "data/a.txt": "a\n" });
    const configBefore = realFs.readFileSync(path.join(root, ".mtrack/config.yaml"), "utf8");
    await plantPointer(root, ".git", { "hooks/post-checkout": "#!/bin/sh\necho pwned\n" });
    await plantPointer(root, ".mtrack", { "config.yaml": "cache:\n  type: symlink\n" });
    const repo = Repo.open({ cwd: root });
    let result: Awaited<ReturnType<typeof checkoutPaths>> | undefined;
    try {
      result = await checkoutPaths(repo, findTrackedPaths(repo), { force: true });
    } catch (err) {
      assert.ok((err as { code?: string }).code?.startsWith("ERR_MTRACK_"), String(err));
    }
    assert.equal(realFs.existsSync(path.join(root, ".git/hooks/post-checkout")), false, "no hook written");
    assert.equal(realFs.readFileSync(path.join(root, ".git/HEAD"), "utf8"), "ref: refs/heads/main\n");
    assert.equal(realFs.readFileSync(path.join(root, ".mtrack/config.yaml"), "utf8"), configBefore);
    for (const p of result?.paths ?? []) {
      assert.ok(p.path !== ".git" && p.path !== ".mtrack" ? true : p.action === "failed", p.path);
    }
  }));

test("a tracked single file: add, edit, status, commit, and checkout of an older pointer (with its mode)", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, { "model.bin": "weights v1\n" });
    const model = path.join(root, "model.bin");
    realFs.chmodSync(model, 0o755);
    const [v1] = await addPaths(Repo.open({ cwd: root }), [model]);
    assert.equal(v1?.type, "file");
    const pointerV1 = realFs.readFileSync(path.join(root, "model.bin.mtrack"), "utf8");
    assert.match(pointerV1, /^executable: true$/m);
    realFs.writeFileSync(model, "weights v2, longer\n");
    realFs.chmodSync(model, 0o644);
    let st = await statusPaths(Repo.open({ cwd: root }), ["model.bin"]);
    assert.equal(st.paths[0]?.workspace, "modified");
    const [v2] = await commitPaths(Repo.open({ cwd: root }), ["model.bin"]);
    assert.equal(v2?.changed, true);
    st = await statusPaths(Repo.open({ cwd: root }), ["model.bin"]);
    assert.equal(st.clean, true);
    // As after `git checkout v1`: the old pointer comes back, checkout restores content and mode.
    realFs.writeFileSync(path.join(root, "model.bin.mtrack"), pointerV1);
    const co = await checkoutPaths(Repo.open({ cwd: root }), ["model.bin"]);
    assert.equal(co.ok, true);
    assert.equal(realFs.readFileSync(model, "utf8"), "weights v1\n");
    assert.notEqual(realFs.statSync(model).mode & 0o100, 0);
    assert.equal((await statusPaths(Repo.open({ cwd: root }), ["model.bin"])).clean, true);
  }));

test("checkout replaces a workspace file with the directory the pointer wants at that path", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, { "data/x/y": "nested\n", "data/z": "z\n" });
    await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    const nested = realFs.readFileSync(path.join(root, "data.mtrack"), "utf8");
    realFs.rmSync(path.join(root, "data/x"), { recursive: true });
    realFs.writeFileSync(path.join(root, "data/x"), "now a file\n");
    await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    // As after `git checkout <old>`: the pointer wants x/ to be a directory again.
    realFs.writeFileSync(path.join(root, "data.mtrack"), nested);
    const r = await checkoutPaths(Repo.open({ cwd: root }), ["data"]);
    assert.equal(r.ok, true, JSON.stringify(r.paths));
    assert.equal(realFs.readFileSync(path.join(root, "data/x/y"), "utf8"), "nested\n");
    assert.equal((await statusPaths(Repo.open({ cwd: root }), ["data"])).clean, true);
  }));

test("fsck checks the loose copy of a packed object that link-mode workspace files point at", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, { "data/a.txt": "small file\n" });
    const [added] = await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    assert.ok(added);
    // Switching to a link mode copies packed objects out to loose files for the links.
    const repo = Repo.open({ cwd: root });
    const fileHash = hashBytes(Buffer.from("small file\n"));
    const loose = repo.store.ensureLoose(fileHash);
    realFs.chmodSync(loose, 0o644);
    realFs.writeFileSync(loose, "SMALL FILE\n"); // e.g. edited through a hard link by root
    const r = await fsckStore(Repo.open({ cwd: root }));
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.corrupt.map((c) => c.hash),
      [fileHash],
    );
  }));

test("add refuses a path reached through a symlinked directory that points outside the repo", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, {});
    writeTree(dir, { "outside/data/secret.txt": "secret\n" });
    realFs.symlinkSync(path.join(dir, "outside"), path.join(root, "link"));
    await assert.rejects(
      addPaths(Repo.open({ cwd: root }), [path.join(root, "link/data")]),
      (e: { code?: string }) =>
        ["ERR_MTRACK_SYMLINK_OUTSIDE_REPO", "ERR_MTRACK_PATH_OUTSIDE_REPO"].includes(e.code ?? ""),
    );
    assert.deepEqual(
      realFs.readdirSync(path.join(dir, "outside")),
      ["data"],
      "nothing written outside the repo",
    );
  }));

test("re-adding data repairs a malformed pointer file (as the POINTER_INVALID hint suggests)", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, FILES);
    await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    const good = realFs.readFileSync(path.join(root, "data.mtrack"), "utf8");
    realFs.writeFileSync(path.join(root, "data.mtrack"), "version: 1\npath: data\n<<<<<<< HEAD\n");
    const [r] = await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    assert.equal(r?.path, "data");
    assert.equal(realFs.readFileSync(path.join(root, "data.mtrack"), "utf8"), good);
  }));

test("re-adding changed data keeps the pointer's desc", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, FILES);
    await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    const pointer = path.join(root, "data.mtrack");
    realFs.appendFileSync(pointer, 'desc: "training images, 2024 snapshot"\n');
    realFs.writeFileSync(path.join(root, "data/a.txt"), "changed\n");
    const [r] = await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    assert.equal(r?.changed, true);
    assert.match(realFs.readFileSync(pointer, "utf8"), /^desc: "training images, 2024 snapshot"$/m);
  }));

test("gc removes the temp files of pack writes interrupted by a crash", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, FILES);
    await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    const packs = path.join(root, ".mtrack/cache/packs");
    const crashed = [path.join(packs, ".pack.999999.1.abc.tmp"), path.join(packs, ".idx.999999.2.def.tmp")];
    const old = new Date(Date.now() - 2 * 24 * 3600_000);
    for (const f of crashed) {
      realFs.writeFileSync(f, Buffer.alloc(4096, 1));
      realFs.utimesSync(f, old, old);
    }
    const repo = Repo.open({ cwd: root });
    const r = await gcStore(repo, [workspaceRoots(repo)]);
    assert.ok(r.leftovers >= 2, "counted as leftovers");
    for (const f of crashed) assert.equal(realFs.existsSync(f), false, path.basename(f));
    assert.equal((await statusPaths(Repo.open({ cwd: root }), ["data"])).clean, true);
  }));

test("an edit that keeps the size and restores the mtime is still seen (ctime), on the quick path too", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, FILES);
    const old = new Date(Date.now() - 3600_000);
    setMtime(root, Object.keys(FILES), old);
    await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    // First status answers from the directory index that add recorded.
    assert.equal((await statusPaths(Repo.open({ cwd: root }), ["data"])).clean, true);
    const file = path.join(root, "data/sub/b.txt");
    const before = realFs.statSync(file);
    await new Promise((r) => setTimeout(r, 20)); // let the ctime clock move
    realFs.writeFileSync(file, "BBBB\n"); // same size, same inode
    realFs.utimesSync(file, before.atime, before.mtime);
    assert.equal(realFs.statSync(file).mtimeMs, before.mtimeMs);
    const st = await statusPaths(Repo.open({ cwd: root }), ["data"]);
    assert.equal(st.clean, false);
    assert.deepEqual(st.paths[0]?.changes?.modified, ["sub/b.txt"]);
  }));

test("status answers an unchanged directory without loading the per-file stat cache", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, FILES);
    setMtime(root, Object.keys(FILES), new Date(Date.now() - 3600_000));
    await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    const cacheFile = path.join(root, ".mtrack/state/stat-cache");
    const reads: string[] = [];
    const fs = {
      ...realFs,
      readFileSync: (p: realFs.PathOrFileDescriptor, o?: unknown) => {
        reads.push(String(p));
        return (realFs.readFileSync as (p: realFs.PathOrFileDescriptor, o?: unknown) => Buffer)(p, o);
      },
    } as unknown as FsLike;
    assert.equal((await statusPaths(Repo.open({ cwd: root, fs }), ["data"])).clean, true);
    assert.equal(reads.includes(cacheFile), false, "the stat cache was not read");
    // A new file changes the listing: the index no longer matches and the change is found.
    realFs.writeFileSync(path.join(root, "data/new.txt"), "new\n");
    const st = await statusPaths(Repo.open({ cwd: root }), ["data"]);
    assert.deepEqual(st.paths[0]?.changes?.added, ["new.txt"]);
  }));

test("status from the directory index: a touched file is hashed once, then trusted; deletions are named", () =>
  withTempDir(async (dir) => {
    const root = makeRoot(dir, FILES);
    setMtime(root, Object.keys(FILES), new Date(Date.now() - 3600_000));
    await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
    // Touched (new mtime, same content): hashed once, found unchanged, and the index remembers the new stat.
    setMtime(root, ["data/c.txt"], new Date(Date.now() - 1800_000));
    const counting = countingFs(path.join(root, "data"));
    assert.equal((await statusPaths(Repo.open({ cwd: root, fs: counting.fs }), ["data"])).clean, true);
    assert.deepEqual(counting.opened, [path.join(root, "data/c.txt")]);
    const again = countingFs(path.join(root, "data"));
    assert.equal((await statusPaths(Repo.open({ cwd: root, fs: again.fs }), ["data"])).clean, true);
    assert.deepEqual(again.opened, [], "the refreshed index vouches for the touched file");
    // Through the real fs (the native walk when built): a deletion and an exec-bit change.
    realFs.rmSync(path.join(root, "data/sub/b.txt"));
    realFs.chmodSync(path.join(root, "data/a.txt"), 0o755);
    const st = await statusPaths(Repo.open({ cwd: root }), ["data"]);
    assert.equal(st.paths[0]?.workspace, "modified");
    assert.deepEqual(st.paths[0]?.changes, { added: [], modified: ["a.txt"], deleted: ["sub/b.txt"] });
  }));
