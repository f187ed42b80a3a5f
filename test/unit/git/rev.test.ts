import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { isMtrackError } from "../../../src/errors.js";
import { openGitRepo, parseRev } from "../../../src/git/index.js";
import { makeRepo, type TempRepo } from "./fixture.js";

test("parseRev splits the base from ~ and ^ steps", () => {
  assert.deepEqual(parseRev("HEAD~2^2"), {
    base: "HEAD",
    steps: [
      { kind: "~", n: 2 },
      { kind: "^", n: 2 },
    ],
  });
  assert.deepEqual(parseRev("v1.0~"), { base: "v1.0", steps: [{ kind: "~", n: 1 }] });
  assert.deepEqual(parseRev("main^^0"), {
    base: "main",
    steps: [
      { kind: "^", n: 1 },
      { kind: "^", n: 0 },
    ],
  });
  assert.deepEqual(parseRev("feature/x"), { base: "feature/x", steps: [] });
  assert.equal(parseRev("~1"), null);
  assert.equal(parseRev(""), null);
});

describe("resolveRev against a repo with a merge and tags", () => {
  let repo: TempRepo;
  const oids: Record<string, string> = {};

  before(() => {
    repo = makeRepo();
    oids.c1 = repo.commit("c1", { "a.txt": "1" });
    oids.c2 = repo.commit("c2", { "a.txt": "2" });
    repo.git("tag", "-a", "v1.0", "-m", "release 1.0");
    repo.git("tag", "-a", "v1.0-outer", "-m", "tag of a tag", "v1.0");
    repo.git("checkout", "-q", "-b", "feature");
    oids.f1 = repo.commit("f1", { "b.txt": "feature" });
    repo.git("checkout", "-q", "main");
    oids.c3 = repo.commit("c3", { "a.txt": "3" });
    repo.git("tag", "light");
    repo.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature");
    oids.m = repo.git("rev-parse", "HEAD");
    // A packed ref must resolve like a loose one.
    repo.git("pack-refs", "--all");
    repo.git("branch", "loose-branch", oids.c1!);
  });
  after(() => repo.cleanup());

  test("every supported form matches git rev-parse", async () => {
    const git = openGitRepo(repo.dir);
    const short7 = oids.c2!.slice(0, 7);
    const short4 = oids.f1!.slice(0, 4);
    const revs = [
      "HEAD",
      "@",
      "main",
      "feature",
      "loose-branch",
      "refs/heads/feature",
      "heads/feature",
      "refs/tags/v1.0",
      "v1.0",
      "v1.0-outer",
      "light",
      oids.c3!,
      oids.c3!.toUpperCase(),
      short7,
      short4,
      "HEAD~",
      "HEAD^",
      "HEAD~1",
      "HEAD~2",
      "HEAD^1",
      "HEAD^2",
      "HEAD^2~1",
      "HEAD~2^",
      "HEAD^^",
      "HEAD^0",
      "HEAD~0",
      "v1.0~1",
      "v1.0^0",
      `${short7}~1`,
      "feature~1^1",
    ];
    for (const rev of revs) {
      const expected = repo.git("rev-parse", `${rev}^{commit}`);
      assert.equal(await git.resolveRev(rev), expected, rev);
    }
    assert.equal(await git.resolveRev("HEAD^2"), oids.f1);
    assert.equal(await git.resolveRev("v1.0~1"), oids.c1);
  });

  test("annotated tags are peeled to their commit; lightweight tags point at it", async () => {
    const git = openGitRepo(repo.dir);
    const tagObject = repo.git("rev-parse", "refs/tags/v1.0");
    assert.notEqual(tagObject, oids.c2);
    assert.equal(await git.resolveRev("v1.0"), oids.c2);
    assert.equal(await git.resolveRev(tagObject), oids.c2);
    assert.equal(await git.resolveRev("light"), oids.c3);
  });

  test("unknown, out-of-range and malformed revisions fail with ERR_MTRACK_GIT_REV_NOT_FOUND", async () => {
    const git = openGitRepo(repo.dir);
    const objects = repo.git("rev-list", "--all", "--objects").split("\n");
    let unusedPrefix = "0000";
    for (let i = 1; objects.some((line) => line.startsWith(unusedPrefix)); i++) {
      unusedPrefix = i.toString(16).padStart(4, "0");
    }
    const bad = [
      "nope",
      "HEAD~10",
      "HEAD^3",
      "HEAD~1^2",
      "~1",
      "config",
      "../config",
      "refs/heads/../../config",
      unusedPrefix,
      "0".repeat(40),
      "v1.0:a.txt",
    ];
    for (const rev of bad) {
      await assert.rejects(
        git.resolveRev(rev),
        (err) => isMtrackError(err, "ERR_MTRACK_GIT_REV_NOT_FOUND") && err.data.rev === rev && !!err.hint,
        rev,
      );
    }
  });

  test("a short id that names a blob or tree only is not a commit", async () => {
    const git = openGitRepo(repo.dir);
    const blob = repo.git("rev-parse", "HEAD:a.txt");
    await assert.rejects(git.resolveRev(blob), (err) => isMtrackError(err, "ERR_MTRACK_GIT_REV_NOT_FOUND"));
    await assert.rejects(git.resolveRev(blob.slice(0, 10)), (err) =>
      isMtrackError(err, "ERR_MTRACK_GIT_REV_NOT_FOUND"),
    );
  });
});

test("a short id shared by two commits is ambiguous; a longer one resolves", async () => {
  const repo = makeRepo();
  try {
    // fast-import makes a thousand commits in one process; with deterministic dates the oids are fixed,
    // and among 1000 commits two share a 4-hex prefix with near certainty (and here, always).
    const lines: string[] = [];
    for (let i = 1; i <= 1000; i++) {
      lines.push("commit refs/heads/main", `mark :${i}`, `committer T <t@e> ${1700000000 + i} +0000`);
      lines.push(`data ${String(i).length}`, String(i));
      if (i > 1) lines.push(`from :${i - 1}`);
      lines.push("");
    }
    execFileSync("git", ["fast-import", "--quiet"], { cwd: repo.dir, input: `${lines.join("\n")}\n` });
    const commits = repo.git("rev-list", "main").split("\n");
    const byPrefix = new Map<string, string>();
    let pair: [string, string] | undefined;
    for (const oid of commits) {
      const other = byPrefix.get(oid.slice(0, 4));
      if (other) pair = [other, oid];
      byPrefix.set(oid.slice(0, 4), oid);
    }
    assert.ok(pair, "fixture should contain two commits with a common 4-hex prefix");
    const [a, b] = pair;
    const git = openGitRepo(repo.dir);
    await assert.rejects(
      git.resolveRev(a.slice(0, 4)),
      (err) =>
        isMtrackError(err, "ERR_MTRACK_GIT_REV_AMBIGUOUS") &&
        Array.isArray(err.data.candidates) &&
        err.data.candidates.includes(a) &&
        err.data.candidates.includes(b),
    );
    let len = 5;
    while (a.slice(0, len) === b.slice(0, len)) len++;
    assert.equal(await git.resolveRev(a.slice(0, len)), a);
    assert.equal(await git.resolveRev(`${b.slice(0, len)}~1`), repo.git("rev-parse", `${b}~1`));
  } finally {
    repo.cleanup();
  }
});
