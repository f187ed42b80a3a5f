import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { openGitRepo } from "../../../src/git/index.js";
import { makeRepo, type TempRepo } from "./fixture.js";

/** Our answer, cross-checked against git's own (status may rewrite the index, so it runs second). */
async function isDirty(repo: TempRepo): Promise<boolean> {
  const ours = await openGitRepo(repo.dir).isDirty();
  const theirs = repo.git("status", "--porcelain", "--untracked-files=no") !== "";
  assert.equal(ours, theirs, "isDirty disagrees with git status");
  return ours;
}

/** Sets a file's mtime to an exact second.nanosecond value (Node's utimes rounds nanoseconds). */
function touchExact(file: string, stamp: string): void {
  execFileSync("touch", ["-h", "-d", `@${stamp}`, file]);
}

describe("isDirty", () => {
  let repo: TempRepo;
  const file = (rel: string) => path.join(repo.dir, rel);

  beforeEach(() => {
    repo = makeRepo();
    repo.commit("initial", {
      "a.txt": "hello",
      "dir/b.txt": "bbb",
      "dir/deep/c.txt": "ccc",
      "z.txt": "zzz",
    });
  });
  afterEach(() => repo.cleanup());

  test("clean right after a commit, and untracked files do not count", async () => {
    assert.equal(await isDirty(repo), false);
    repo.write({ "new.txt": "untracked", "dir/new/x.txt": "untracked too" });
    assert.equal(await isDirty(repo), false);
  });

  test("a same-size content edit is detected", async () => {
    fs.writeFileSync(file("dir/deep/c.txt"), "CCC");
    assert.equal(await isDirty(repo), true);
  });

  test("an edit with the old mtime restored is found through ctime, or when the entry is racy", async () => {
    // Non-racy: the entry's mtime is well before the index was written.
    touchExact(file("a.txt"), "1600000000.123456789");
    repo.git("add", "a.txt");
    fs.writeFileSync(file("a.txt"), "HELLO");
    touchExact(file("a.txt"), "1600000000.123456789");
    assert.equal(await openGitRepo(repo.dir).isDirty(), true, "ctime changed");
    repo.git("config", "core.trustctime", "false");
    // Without ctime the stat data matches exactly and git, like us, trusts it.
    assert.equal(await openGitRepo(repo.dir).isDirty(), false);
    assert.equal(repo.git("diff-index", "--name-only", "HEAD", "--"), "");

    // Racy: the entry's mtime is not older than the index file, so the content must be hashed.
    fs.writeFileSync(file("a.txt"), "hello");
    const future = `${Math.floor(Date.now() / 1000) + 3600}.000000001`;
    touchExact(file("a.txt"), future);
    repo.git("add", "a.txt");
    fs.writeFileSync(file("a.txt"), "HeLLo");
    touchExact(file("a.txt"), future);
    assert.equal(await openGitRepo(repo.dir).isDirty(), true);
    assert.equal(repo.git("diff-index", "--name-only", "HEAD", "--"), "a.txt");
  });

  test("a touched but unchanged file is clean", async () => {
    touchExact(file("dir/b.txt"), "1500000000.5");
    assert.equal(await isDirty(repo), false);
  });

  test("a staged-only change is dirty", async () => {
    fs.writeFileSync(file("z.txt"), "staged");
    repo.git("add", "z.txt");
    assert.equal(await isDirty(repo), true);
  });

  test("a staged new file is dirty; a staged removal too", async () => {
    repo.write({ "dir/new.txt": "n" });
    repo.git("add", "dir/new.txt");
    assert.equal(await isDirty(repo), true);
    repo.git("reset", "-q");
    assert.equal(await isDirty(repo), false);
    repo.git("rm", "-q", "--cached", "dir/b.txt");
    assert.equal(await isDirty(repo), true);
  });

  test("a deleted tracked file is dirty, also when its directory became a file", async () => {
    fs.rmSync(file("dir/deep/c.txt"));
    assert.equal(await isDirty(repo), true);
    fs.rmSync(file("dir/deep"), { recursive: true });
    fs.writeFileSync(file("dir/deep"), "now a file");
    assert.equal(await openGitRepo(repo.dir).isDirty(), true);
  });

  test("clean again after git add + commit", async () => {
    fs.writeFileSync(file("a.txt"), "changed content");
    assert.equal(await isDirty(repo), true);
    repo.commit("second");
    assert.equal(await isDirty(repo), false);
  });

  test("a changed executable bit is dirty unless core.fileMode is false", async () => {
    fs.chmodSync(file("a.txt"), 0o755);
    assert.equal(await isDirty(repo), true);
    repo.git("config", "core.fileMode", "false");
    assert.equal(await isDirty(repo), false);
  });

  test("index version 4 (prefix-compressed paths)", async () => {
    repo.git("update-index", "--index-version", "4");
    assert.equal(fs.readFileSync(file(".git/index")).readUInt32BE(4), 4);
    assert.equal(await openGitRepo(repo.dir).isDirty(), false);
    fs.writeFileSync(file("dir/deep/c.txt"), "cc!");
    assert.equal(await openGitRepo(repo.dir).isDirty(), true);
  });

  test("a missing index file means everything is staged for removal", async () => {
    fs.rmSync(file(".git/index"));
    assert.equal(await isDirty(repo), true);
  });

  test("skip-worktree and assume-unchanged entries are not looked at", async () => {
    repo.git("update-index", "--skip-worktree", "dir/b.txt");
    fs.rmSync(file("dir/b.txt"));
    repo.git("update-index", "--assume-unchanged", "a.txt");
    fs.writeFileSync(file("a.txt"), "ignored change");
    assert.equal(fs.readFileSync(file(".git/index")).readUInt32BE(4), 3, "extended flags need v3");
    assert.equal(await isDirty(repo), false);
  });

  test("an intent-to-add entry is dirty", async () => {
    repo.write({ "later.txt": "x" });
    repo.git("add", "-N", "later.txt");
    assert.equal(await isDirty(repo), true);
  });

  test("an unmerged (conflicted) index is dirty", async () => {
    repo.git("checkout", "-q", "-b", "other");
    repo.commit("other", { "a.txt": "other side" });
    repo.git("checkout", "-q", "main");
    repo.commit("main", { "a.txt": "main side" });
    assert.throws(() => repo.git("merge", "-q", "other"));
    assert.equal(await isDirty(repo), true);
  });

  test("symlinks hash their target; a retarget or a type change is dirty", async () => {
    fs.symlinkSync("a.txt", file("link"));
    repo.commit("add link");
    assert.equal(await isDirty(repo), false);
    fs.rmSync(file("link"));
    fs.symlinkSync("z.txt", file("link"));
    assert.equal(await isDirty(repo), true);
    fs.rmSync(file("link"));
    fs.symlinkSync("a.txt", file("link"));
    assert.equal(await isDirty(repo), false, "same target again");
    fs.rmSync(file("link"));
    fs.writeFileSync(file("link"), "a.txt");
    assert.equal(await isDirty(repo), true, "a regular file is not a symlink");
  });

  test("a split index is merged with its shared half", async () => {
    // Keep git from folding changes back into the shared index, so the split half stays non-trivial.
    repo.git("config", "splitIndex.maxPercentChange", "100");
    repo.git("update-index", "--split-index");
    assert.ok(fs.readdirSync(file(".git")).some((name) => name.startsWith("sharedindex.")));
    assert.equal(await isDirty(repo), false);
    // Replaced, added and deleted entries all live in the small split file, on top of the shared one.
    fs.writeFileSync(file("dir/b.txt"), "BBB");
    repo.write({ "dir/added.txt": "new" });
    repo.git("add", "dir/b.txt", "dir/added.txt");
    repo.git("rm", "-q", "z.txt");
    repo.commit("on a split index");
    assert.equal(await isDirty(repo), false);
    fs.writeFileSync(file("dir/added.txt"), "NEW");
    assert.equal(await isDirty(repo), true);
    repo.git("add", "dir/added.txt");
    assert.equal(await isDirty(repo), true);
    repo.commit("again");
    assert.equal(await isDirty(repo), false);
    fs.rmSync(file("a.txt"));
    assert.equal(await isDirty(repo), true);
  });

  test("a submodule counts when its HEAD moved or its tracked files changed, not for untracked ones", async () => {
    const lib = makeRepo();
    try {
      lib.commit("lib", { "lib.txt": "lib" });
      repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", lib.dir, "sub");
      repo.commit("add submodule");
      const sub = file("sub");
      assert.equal(await isDirty(repo), false);
      fs.writeFileSync(path.join(sub, "untracked.txt"), "x");
      assert.equal(await openGitRepo(repo.dir).isDirty(), false);
      fs.writeFileSync(path.join(sub, "lib.txt"), "LIB");
      assert.equal(await isDirty(repo), true);
      execFileSync("git", ["checkout", "-q", "--", "lib.txt"], { cwd: sub });
      execFileSync(
        "git",
        ["-c", "user.name=T", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "moved"],
        {
          cwd: sub,
          env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", HOME: path.dirname(repo.dir) },
        },
      );
      fs.rmSync(path.join(sub, "untracked.txt"));
      assert.equal(await isDirty(repo), true);
    } finally {
      lib.cleanup();
    }
  });

  test("comparing the index with HEAD follows git's tree order (a.txt < a/ < a0)", async () => {
    repo.commit("tricky names", { "a-b": "1", "a.txt": "2", "a/b.txt": "3", a0: "4", "ü.txt": "5" });
    // Re-adding a root file invalidates the root's cached tree, so the root is compared entry by entry.
    repo.git("rm", "-q", "--cached", "a.txt");
    repo.git("add", "a.txt");
    const reads: string[] = [];
    assert.equal(await openGitRepo(repo.dir, { onReadTree: (oid) => reads.push(oid) }).isDirty(), false);
    assert.ok(reads.includes(repo.git("rev-parse", "HEAD^{tree}")), "the root tree was walked");
    assert.equal(await isDirty(repo), false);
    repo.git("rm", "-q", "--cached", "a0");
    assert.equal(await isDirty(repo), true);
  });

  test("git-lfs files: a touched file is clean through its pointer, an edited one is dirty", async (t) => {
    try {
      repo.git("lfs", "install", "--local");
    } catch {
      t.skip("git-lfs is not installed");
      return;
    }
    repo.git("lfs", "track", "*.bin");
    repo.commit("lfs", { "model.bin": "weights ".repeat(1000) });
    assert.match(repo.git("cat-file", "-p", "HEAD:model.bin"), /^version https:\/\/git-lfs/);
    // New stat data but the same bytes: they no longer hash to the (pointer) blob.
    touchExact(file("model.bin"), "1500000000.5");
    assert.equal(await isDirty(repo), false);
    fs.writeFileSync(file("model.bin"), "WEIGHTS ".repeat(1000));
    assert.equal(await isDirty(repo), true);
  });

  test("no commits yet: clean with an empty index, dirty once something is staged", async () => {
    const empty = makeRepo();
    try {
      assert.equal(await openGitRepo(empty.dir).isDirty(), false);
      empty.write({ "x.txt": "x" });
      empty.git("add", "x.txt");
      assert.equal(await openGitRepo(empty.dir).isDirty(), true);
    } finally {
      empty.cleanup();
    }
  });
});
