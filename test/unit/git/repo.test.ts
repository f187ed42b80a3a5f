import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { isMtrackError } from "../../../src/errors.js";
import { findGitRoot, openGitRepo } from "../../../src/git/index.js";
import { makeRepo, type TempRepo } from "./fixture.js";

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

test("findGitRoot walks up to the directory holding .git, or returns null", () => {
  const repo = makeRepo();
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
  try {
    fs.mkdirSync(path.join(repo.dir, "a/b/c"), { recursive: true });
    assert.equal(findGitRoot(path.join(repo.dir, "a/b/c")), repo.dir);
    assert.equal(findGitRoot(repo.dir), repo.dir);
    // A .git *file* (linked worktree, submodule) marks a root too.
    const sub = path.join(outside, "wt");
    fs.mkdirSync(path.join(sub, "x"), { recursive: true });
    fs.writeFileSync(path.join(sub, ".git"), "gitdir: /nowhere\n");
    assert.equal(findGitRoot(path.join(sub, "x")), sub);
    // os.tmpdir() is not inside a repository on any sane machine.
    assert.equal(findGitRoot(outside), null);
  } finally {
    repo.cleanup();
    fs.rmSync(outside, { recursive: true, force: true });
  }
});

test("openGitRepo refuses a directory without .git", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
  try {
    assert.throws(
      () => openGitRepo(dir),
      (err) => isMtrackError(err, "ERR_MTRACK_NOT_A_GIT_REPO"),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("empty repo: no head commit, branch is the unborn one, HEAD does not resolve", async () => {
  const repo = makeRepo();
  try {
    const git = openGitRepo(repo.dir);
    assert.equal(await git.headCommit(), null);
    assert.equal(await git.currentBranch(), "main");
    assert.deepEqual(await git.listBranches(), []);
    assert.deepEqual(await git.listTags(), []);
    await assert.rejects(git.resolveRev("HEAD"), (err) => isMtrackError(err, "ERR_MTRACK_GIT_REV_NOT_FOUND"));
    assert.equal(await git.isDirty(), false);
    repo.write({ "a.txt": "x" });
    assert.equal(await git.isDirty(), false, "untracked files do not count");
    repo.git("add", "a.txt");
    assert.equal(await git.isDirty(), true, "an index entry without commits is dirty");
  } finally {
    repo.cleanup();
  }
});

describe("a repo with history", () => {
  let repo: TempRepo;
  const oids: Record<string, string> = {};

  before(() => {
    repo = makeRepo();
    oids.c1 = repo.commit("c1", {
      "top.txt": "top",
      "data/raw.mtrack": "raw-1",
      "data/sub/deep.mtrack": "deep-1",
      "data/sub/other.txt": "other",
      "models/m.mtrack": "m-1",
    });
    oids.c2 = repo.commit("c2", { "data/raw.mtrack": "raw-2" });
    repo.git("tag", "-a", "v1", "-m", "v1");
    repo.git("checkout", "-q", "-b", "side");
    oids.s1 = repo.commit("s1", { "side.mtrack": "side" });
    repo.git("checkout", "-q", "main");
    oids.c3 = repo.commit("c3", { "models/m.mtrack": "m-3" });
    repo.git("tag", "light");
    repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side");
    oids.m = repo.git("rev-parse", "HEAD");
  });
  after(() => repo.cleanup());

  test("headCommit and currentBranch, then detached HEAD", async () => {
    const git = openGitRepo(repo.dir);
    assert.equal(await git.headCommit(), oids.m);
    assert.equal(await git.currentBranch(), "main");
    repo.git("checkout", "-q", "--detach", oids.c2!);
    try {
      assert.equal(await git.headCommit(), oids.c2);
      assert.equal(await git.currentBranch(), null);
      assert.equal(await git.resolveRev("HEAD~1"), oids.c1);
    } finally {
      repo.git("checkout", "-q", "main");
    }
  });

  test("readFileAtRev: present, nested, absent, directory, per revision", async () => {
    const git = openGitRepo(repo.dir);
    assert.equal((await git.readFileAtRev("HEAD", "top.txt"))?.toString(), "top");
    assert.equal((await git.readFileAtRev("HEAD", "data/sub/deep.mtrack"))?.toString(), "deep-1");
    assert.equal((await git.readFileAtRev("HEAD", "./data/sub/deep.mtrack"))?.toString(), "deep-1");
    assert.equal((await git.readFileAtRev("v1", "data/raw.mtrack"))?.toString(), "raw-2");
    assert.equal((await git.readFileAtRev("HEAD~1~1", "data/raw.mtrack"))?.toString(), "raw-2");
    assert.equal((await git.readFileAtRev(oids.c1!, "data/raw.mtrack"))?.toString(), "raw-1");
    assert.equal(await git.readFileAtRev(oids.c1!, "side.mtrack"), null);
    assert.equal(await git.readFileAtRev("HEAD", "missing.txt"), null);
    assert.equal(await git.readFileAtRev("HEAD", "data/missing/x"), null);
    assert.equal(await git.readFileAtRev("HEAD", "top.txt/x"), null);
    assert.equal(await git.readFileAtRev("HEAD", "data"), null);
    assert.equal(await git.readFileAtRev("HEAD", "data/sub"), null);
    assert.equal(await git.readFileAtRev("HEAD", ""), null);
    await assert.rejects(git.readFileAtRev("HEAD", "../x"), (err) =>
      isMtrackError(err, "ERR_MTRACK_PATH_OUTSIDE_REPO"),
    );
    await assert.rejects(git.readFileAtRev("nope", "top.txt"), (err) =>
      isMtrackError(err, "ERR_MTRACK_GIT_REV_NOT_FOUND"),
    );
  });

  test("listBranches and listTags (annotated tag peeled)", async () => {
    const git = openGitRepo(repo.dir);
    assert.deepEqual(await git.listBranches(), [
      { name: "main", oid: oids.m },
      { name: "side", oid: oids.s1 },
    ]);
    assert.deepEqual(await git.listTags(), [
      { name: "light", oid: oids.c3 },
      { name: "v1", oid: oids.c2 },
    ]);
  });

  test("walkCommits yields every reachable commit once, across the merge", async () => {
    const git = openGitRepo(repo.dir);
    const all = await collect(git.walkCommits([oids.m!]));
    assert.equal(all.length, new Set(all).size);
    assert.deepEqual(new Set(all), new Set(repo.git("rev-list", "--all").split("\n")));
    assert.equal(all[0], oids.m);
    // Overlapping starts do not repeat commits.
    const two = await collect(git.walkCommits([oids.c3!, oids.s1!, oids.c2!]));
    assert.deepEqual(new Set(two), new Set([oids.c3, oids.s1, oids.c2, oids.c1]));
    assert.equal(two.length, 4);
    assert.deepEqual(await collect(git.walkCommits([])), []);
  });

  test("findFilesInCommit matches git ls-tree and reuses unchanged subtrees", async () => {
    const readTrees: string[] = [];
    const git = openGitRepo(repo.dir, { onReadTree: (oid) => readTrees.push(oid) });
    const isPointer = (p: string) => p.endsWith(".mtrack");
    const expected = (rev: string) =>
      repo
        .git("ls-tree", "-r", rev)
        .split("\n")
        .map((line) => {
          const [meta, file] = line.split("\t");
          return { path: file!, oid: meta!.split(" ")[2]! };
        })
        .filter((e) => isPointer(e.path))
        .sort((a, b) => a.path.localeCompare(b.path));
    const sorted = (files: Array<{ path: string; oid: string }>) =>
      [...files].sort((a, b) => a.path.localeCompare(b.path));

    assert.deepEqual(sorted(await git.findFilesInCommit(oids.c1!, isPointer)), expected(oids.c1!));
    const afterFirst = readTrees.length;
    assert.equal(afterFirst, 4, "root, data, data/sub, models");

    // c2 changes only data/raw.mtrack: root and data are new trees; data/sub and models are shared.
    assert.deepEqual(sorted(await git.findFilesInCommit(oids.c2!, isPointer)), expected(oids.c2!));
    assert.equal(readTrees.length - afterFirst, 2);
    assert.deepEqual(
      readTrees.slice(afterFirst).sort(),
      [repo.git("rev-parse", `${oids.c2}^{tree}`), repo.git("rev-parse", `${oids.c2}:data`)].sort(),
    );

    // Same commit again, any predicate: no tree is read twice.
    const before = readTrees.length;
    assert.deepEqual(
      (await git.findFilesInCommit(oids.c2!, (p) => p === "top.txt")).map((f) => f.path),
      ["top.txt"],
    );
    assert.equal(readTrees.length, before);
    assert.equal(new Set(readTrees).size, readTrees.length);

    for (const rev of [oids.s1!, oids.c3!, oids.m!]) {
      assert.deepEqual(sorted(await git.findFilesInCommit(rev, isPointer)), expected(rev));
    }
  });

  test("readBlob returns the blob's bytes", async () => {
    const git = openGitRepo(repo.dir);
    const oid = repo.git("rev-parse", "HEAD:models/m.mtrack");
    assert.equal((await git.readBlob(oid)).toString(), "m-3");
    await assert.rejects(git.readBlob("0".repeat(40)), (err) => isMtrackError(err, "ERR_MTRACK_GIT"));
  });
});

test("objects and refs in packs resolve the same as loose ones", async () => {
  const repo = makeRepo();
  try {
    const c1 = repo.commit("c1", { "a/b.txt": "1" });
    const c2 = repo.commit("c2", { "a/b.txt": "2" });
    repo.git("tag", "-a", "t", "-m", "t", c1);
    repo.git("gc", "-q", "--aggressive");
    const git = openGitRepo(repo.dir);
    assert.equal(await git.resolveRev("t"), c1);
    assert.equal(await git.resolveRev(`${c2.slice(0, 6)}^`), c1);
    assert.equal((await git.readFileAtRev("t", "a/b.txt"))?.toString(), "1");
    assert.deepEqual(await git.listTags(), [{ name: "t", oid: c1 }]);
    assert.equal(await git.isDirty(), false);
  } finally {
    repo.cleanup();
  }
});

test("objects written or repacked after a GitRepo memoized the object database are still found", async () => {
  const repo = makeRepo();
  try {
    // A few commits, so that the walk below reads objects from several fan-out directories.
    for (let i = 0; i < 5; i++) repo.commit(`c${i}`, { [`f${i}.txt`]: String(i) });
    // Packed first, so that the walk below memoizes the list of packs, which the next gc replaces.
    repo.git("gc", "-q", "--prune=now");
    const git = openGitRepo(repo.dir);
    for await (const oid of git.walkCommits([await git.resolveRev("HEAD")]))
      await git.findFilesInCommit(oid, () => true);
    const loose = repo.commit("after the walk", { "late.txt": "late" });
    assert.equal(await git.headCommit(), loose);
    assert.equal((await git.readFileAtRev(loose, "late.txt"))?.toString(), "late");
    repo.git("gc", "-q", "--prune=now");
    const packedLater = repo.commit("after gc", { "later.txt": "later" });
    repo.git("gc", "-q", "--prune=now");
    // Full ids first: short ones make the GitRepo re-list objects anyway.
    assert.equal((await git.readFileAtRev(packedLater, "later.txt"))?.toString(), "later");
    assert.equal(await git.resolveRev(`${packedLater}~1`), loose);
    assert.equal(await git.resolveRev(`${packedLater.slice(0, 8)}~1`), loose);
    const all = [];
    for await (const oid of git.walkCommits([packedLater])) all.push(oid);
    assert.equal(all.length, 7);
  } finally {
    repo.cleanup();
  }
});

test("a linked worktree has its own HEAD and index but shares objects and refs", async () => {
  const repo = makeRepo();
  try {
    const c1 = repo.commit("c1", { "a.txt": "1" });
    const c2 = repo.commit("c2", { "a.txt": "2" });
    const wt = path.join(path.dirname(repo.dir), "wt");
    repo.git("worktree", "add", "-q", "-b", "other", wt, c1);
    assert.equal(findGitRoot(path.join(wt)), wt);
    const git = openGitRepo(wt);
    assert.equal(await git.headCommit(), c1);
    assert.equal(await git.currentBranch(), "other");
    assert.equal(await git.resolveRev("HEAD"), c1);
    assert.equal(await git.resolveRev("main"), c2);
    assert.equal((await git.readFileAtRev("HEAD", "a.txt"))?.toString(), "1");
    assert.equal(await git.isDirty(), false);
    fs.writeFileSync(path.join(wt, "a.txt"), "9");
    assert.equal(await git.isDirty(), true);
    assert.equal(await openGitRepo(repo.dir).isDirty(), false);
  } finally {
    repo.cleanup();
  }
});
