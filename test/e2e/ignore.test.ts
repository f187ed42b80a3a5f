/**
 * `.mtrackignore` end to end: add, status, commit and checkout of a directory with a root and a nested
 * ignore file (with negations) never store, report or delete ignored files; check-ignore names the rule.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { errorCode, runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

const mtrack = (repo: TempGitRepo, ...args: string[]) =>
  runCli([...args, "--json"], { cwd: repo.dir, env: repo.env });

test("add/status/commit/checkout honour root and nested .mtrackignore files", async () => {
  const repo = makeTempGitRepo();
  try {
    repo.write({
      ".mtrackignore": "*.tmp\ncache/\n",
      "data/.mtrackignore": "!keep.tmp\n/local/\n",
      "data/a.csv": "a",
      "data/x.tmp": "x",
      "data/keep.tmp": "k",
      "data/cache/big.bin": "b",
      "data/local/l.txt": "l",
      "data/sub/local/l.txt": "l",
    });
    assert.equal((await mtrack(repo, "init")).code, 0);
    const added = await mtrack(repo, "add", "data");
    assert.equal(added.code, 0, added.stderr);
    const pointer = fs.readFileSync(repo.abs("data.mtrack"), "utf8");
    assert.match(pointer, /files: 4\b/, "a.csv, keep.tmp, sub/local/l.txt and data/.mtrackignore");
    const hash = /hash: (\w+)/.exec(pointer)![1];

    // Changing or adding ignored files changes nothing.
    repo.write({ "data/x.tmp": "changed", "data/new.tmp": "n", "data/cache/more.bin": "m" });
    const st = await mtrack(repo, "status");
    assert.equal(st.code, 0, st.stdout);
    const c = await mtrack(repo, "commit", "data");
    assert.equal(c.code, 0, c.stderr);
    assert.equal(/hash: (\w+)/.exec(fs.readFileSync(repo.abs("data.mtrack"), "utf8"))![1], hash);

    // A tracked change is reported; checkout restores it and leaves the ignored files alone.
    repo.write({ "data/a.csv": "A" });
    assert.equal((await mtrack(repo, "status")).code, 1);
    const co = await mtrack(repo, "checkout", "--force", "data");
    assert.equal(co.code, 0, co.stderr);
    assert.equal(fs.readFileSync(repo.abs("data/a.csv"), "utf8"), "a");
    for (const f of ["data/x.tmp", "data/new.tmp", "data/cache/more.bin", "data/local/l.txt"])
      assert.ok(fs.existsSync(repo.abs(f)), `${f} kept`);

    // A root ignore change alters the hash only through the files it now includes.
    fs.writeFileSync(repo.abs(".mtrackignore"), "*.tmp\ncache/\n# a comment\n");
    assert.equal((await mtrack(repo, "status")).code, 0);
    fs.writeFileSync(repo.abs(".mtrackignore"), "*.tmp\n");
    assert.equal((await mtrack(repo, "status")).code, 1, "cache/ is now included");

    // Adding an ignored path is refused; check-ignore names the deciding rule.
    const bad = await mtrack(repo, "add", "data/x.tmp");
    assert.equal(bad.code, 2);
    assert.equal(errorCode(bad), "ERR_MTRACK_PATH_IGNORED");
    const ci = await mtrack(repo, "check-ignore", "-d", "data/x.tmp", "data/keep.tmp", "data/a.csv");
    assert.equal(ci.code, 0);
    const paths = (
      ci.json as { paths: Array<{ path: string; ignored: boolean; source?: string; line?: number }> }
    ).paths;
    assert.deepEqual(
      paths.map((p) => [p.path, p.ignored, p.source, p.line]),
      [
        ["data/x.tmp", true, ".mtrackignore", 1],
        ["data/keep.tmp", false, "data/.mtrackignore", 1],
        ["data/a.csv", false, undefined, undefined],
      ],
    );
    assert.equal((await mtrack(repo, "check-ignore", "data/a.csv")).code, 1);
  } finally {
    repo.cleanup();
  }
});
