import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { isMtrackError } from "../../../src/errors.js";
import { gitBlobOid, gitBlobOidOfFile, openGitRepo, parseGitIndex } from "../../../src/git/index.js";
import { mergeSplitIndex } from "../../../src/git/index-file.js";
import { makeRepo, type TempRepo } from "./fixture.js";

test("gitBlobOid matches git hash-object", () => {
  assert.equal(gitBlobOid(Buffer.from("hello\n")), "ce013625030ba8dba906f756967f9e9ca394464a");
  assert.equal(gitBlobOid(Buffer.alloc(0)), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
});

test("gitBlobOidOfFile hashes in chunks and matches git hash-object", () => {
  const repo = makeRepo();
  try {
    const file = path.join(repo.dir, "big.bin");
    const big = Buffer.alloc(2.5 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
    fs.writeFileSync(file, big);
    assert.equal(gitBlobOidOfFile(file), repo.git("hash-object", "big.bin"));
    assert.equal(gitBlobOidOfFile(file), gitBlobOid(big));
    fs.writeFileSync(file, "");
    assert.equal(gitBlobOidOfFile(file), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  } finally {
    repo.cleanup();
  }
});

test("parseGitIndex rejects what is not an index", () => {
  for (const bytes of [Buffer.alloc(0), Buffer.from("not an index at all, just some text....")]) {
    assert.throws(
      () => parseGitIndex(bytes),
      (err) => isMtrackError(err, "ERR_MTRACK_GIT"),
    );
  }
  const header = Buffer.alloc(32);
  header.write("DIRC");
  header.writeUInt32BE(9, 4);
  assert.throws(
    () => parseGitIndex(header),
    (err) => isMtrackError(err, "ERR_MTRACK_GIT"),
  );
});

describe("parseGitIndex on indexes written by git", () => {
  let repo: TempRepo;
  beforeEach(() => {
    repo = makeRepo();
    repo.commit("initial", {
      "README.md": "r",
      "src/a.ts": "a",
      "src/ab.ts": "ab",
      "src/lib/deep.ts": "deep",
      "src/lib/deeper/x.ts": "x",
      "ünïcode/ñ.txt": "u",
      "z.txt": "z",
    });
    fs.chmodSync(path.join(repo.dir, "src/a.ts"), 0o755);
    fs.symlinkSync("src/a.ts", path.join(repo.dir, "link"));
    repo.commit("more");
  });
  afterEach(() => repo.cleanup());

  /** `git ls-files --stage` as [mode, oid, stage, path] rows, paths unquoted. */
  const lsFiles = () =>
    repo
      .git("-c", "core.quotePath=false", "ls-files", "--stage")
      .split("\n")
      .map((line) => {
        const [meta, file] = line.split("\t");
        const [mode, oid, stage] = meta!.split(" ");
        return [mode, oid, Number(stage), file];
      });
  const parsed = () =>
    parseGitIndex(fs.readFileSync(path.join(repo.dir, ".git/index"))).entries.map((e) => [
      e.mode.toString(8),
      e.oid,
      e.stage,
      e.path,
    ]);

  for (const version of [2, 3, 4]) {
    test(`version ${version}: entries, stat data and cached tree match git`, () => {
      repo.git("update-index", "--index-version", String(version));
      // git writes version 3 only when some entry needs extended flags.
      if (version === 3) {
        repo.git("update-index", "--skip-worktree", "README.md");
        repo.git("write-tree"); // refills the cached tree that update-index invalidated
      }
      const index = parseGitIndex(fs.readFileSync(path.join(repo.dir, ".git/index")));
      assert.equal(index.version, version);
      assert.deepEqual(parsed(), lsFiles());
      const a = index.entries.find((e) => e.path === "src/a.ts")!;
      const stat = fs.lstatSync(path.join(repo.dir, "src/a.ts"), { bigint: true });
      assert.equal(a.size, 1);
      assert.equal(a.mode, 0o100755);
      assert.equal(BigInt(a.mtimeSec) * 1_000_000_000n + BigInt(a.mtimeNsec), stat.mtimeNs);
      assert.equal(a.ino, Number(stat.ino));
      assert.equal(index.entries.find((e) => e.path === "link")?.mode, 0o120000);
      assert.equal(index.cacheTree?.oid, repo.git("rev-parse", "HEAD^{tree}"));
      assert.equal(
        index.cacheTree?.children.get("src")?.children.get("lib")?.oid,
        repo.git("rev-parse", "HEAD:src/lib"),
      );
      assert.equal(index.unsupported, null);
    });
  }

  test("extended flags (skip-worktree, intent-to-add) and an invalidated cached tree", () => {
    repo.git("update-index", "--skip-worktree", "src/ab.ts");
    repo.write({ "src/new.ts": "n" });
    repo.git("add", "-N", "src/new.ts");
    const index = parseGitIndex(fs.readFileSync(path.join(repo.dir, ".git/index")));
    assert.equal(index.version, 3);
    assert.deepEqual(parsed(), lsFiles());
    const byPath = new Map(index.entries.map((e) => [e.path, e]));
    assert.equal(byPath.get("src/ab.ts")?.skipWorktree, true);
    assert.equal(byPath.get("src/new.ts")?.intentToAdd, true);
    assert.equal(byPath.get("src/a.ts")?.skipWorktree, false);
    assert.equal(index.cacheTree?.children.get("src")?.entryCount, -1);
  });

  test("paths longer than the 12-bit length field", () => {
    const long = `${"d".repeat(200)}/`.repeat(25) + "f.txt";
    const oid = repo.git("hash-object", "-w", "--stdin", "--path", "x");
    repo.git("update-index", "--add", "--cacheinfo", `100644,${oid},${long}`);
    for (const version of [2, 4]) {
      repo.git("update-index", "--index-version", String(version));
      assert.deepEqual(parsed(), lsFiles());
      assert.ok(parsed().some((row) => row[3] === long));
    }
  });

  test("a split index merges with its shared half into what git lists", () => {
    repo.git("config", "splitIndex.maxPercentChange", "100");
    repo.git("update-index", "--split-index");
    repo.write({ "src/a.ts": "A", "src/new.ts": "n" });
    repo.git("add", "src/a.ts", "src/new.ts");
    repo.git("rm", "-q", "--cached", "z.txt");
    const split = parseGitIndex(fs.readFileSync(path.join(repo.dir, ".git/index")));
    assert.ok(split.split, "link extension present");
    assert.ok(split.split.deleted.length > 0 && split.split.replaced.length > 0);
    const shared = parseGitIndex(
      fs.readFileSync(path.join(repo.dir, `.git/sharedindex.${split.split.sharedOid}`)),
    );
    const merged = mergeSplitIndex(split, shared);
    assert.equal(merged.split, null);
    assert.deepEqual(
      merged.entries.map((e) => [e.mode.toString(8), e.oid, e.stage, e.path]),
      lsFiles(),
    );
  });

  test("a clean check reads no tree when the cached tree matches HEAD, and only changed ones otherwise", async () => {
    const reads: string[] = [];
    const git = openGitRepo(repo.dir, { onReadTree: (oid) => reads.push(oid) });
    assert.equal(await git.isDirty(), false);
    assert.equal(reads.length, 0);
    repo.write({ "z.txt": "staged" });
    repo.git("add", "z.txt");
    assert.equal(await openGitRepo(repo.dir, { onReadTree: (oid) => reads.push(oid) }).isDirty(), true);
    // Only the root is invalidated; src/ and ünïcode/ are skipped through their cached oids.
    assert.deepEqual(reads, [repo.git("rev-parse", "HEAD^{tree}")]);
  });
});
