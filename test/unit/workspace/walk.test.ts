/**
 * walkDir lists a tracked directory for every status: the order must be the manifests' byte order of
 * full paths, whatever the readdir order, and what it skips or follows must not change.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { comparePaths } from "../../../src/store/tree.js";
import { walkDir } from "../../../src/workspace/scan.js";
import { withTempDir } from "../../helpers/tmp.js";

test("walkDir lists files in full-path byte order (a/b after a-c and a.d), skipping .git and .mtrack", () =>
  withTempDir((root) => {
    const data = path.join(root, "data");
    const files = ["a/b", "a-c", "a.d", "a/x/y", "B", "z", ".git/config", ".mtrack/x", "sub/.git/HEAD"];
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(data, f)), { recursive: true });
      fs.writeFileSync(path.join(data, f), f);
    }
    fs.chmodSync(path.join(data, "z"), 0o755);
    fs.symlinkSync("a-c", path.join(data, "link"));
    const listed = walkDir(data, root, fs);
    const rels = listed.map((f) => f.rel);
    assert.deepEqual(rels, ["B", "a-c", "a.d", "a/b", "a/x/y", "link", "z"]);
    assert.deepEqual([...rels].sort(comparePaths), rels);
    const byRel = new Map(listed.map((f) => [f.rel, f]));
    assert.equal(byRel.get("a/x/y")!.abs, path.join(data, "a", "x", "y"));
    assert.equal(byRel.get("a/x/y")!.size, 5);
    assert.equal(byRel.get("z")!.executable, true);
    assert.equal(byRel.get("B")!.executable, false);
    assert.equal(byRel.get("link")!.linked, true, "a symlink is followed and marked");
    assert.equal(byRel.get("link")!.size, 3);
  }));

test("walkDir refuses a symlink out of the repository", () =>
  withTempDir((root) => {
    const data = path.join(root, "repo", "data");
    fs.mkdirSync(data, { recursive: true });
    fs.writeFileSync(path.join(root, "outside"), "x");
    fs.symlinkSync(path.join(root, "outside"), path.join(data, "l"));
    assert.throws(
      () => walkDir(data, path.join(root, "repo"), fs),
      (e: { code?: string }) => e.code === "ERR_MTRACK_SYMLINK_OUTSIDE_REPO",
    );
  }));
