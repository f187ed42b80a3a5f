/**
 * walkDir lists a tracked directory for every status: the order must be the manifests' byte order of
 * full paths, whatever the readdir order, and what it skips or follows must not change.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { comparePaths } from "../../../src/store/tree.js";
import { fastFs } from "../../../src/util/native.js";
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

/** The same walk through the JavaScript path: walkDir uses the native addon only for the real node:fs. */
const jsOnlyFs = { ...fs } as typeof fs;

test("the native walk (when built) gives exactly the JavaScript walk's answer", () =>
  withTempDir((root) => {
    if (process.env.MTRACK_REQUIRE_NATIVE === "1") assert.ok(fastFs(), "dist/native/fastfs.node must load");
    const data = path.join(root, "data");
    const files = [
      "a/b",
      "a-c",
      "a.d",
      "a/x/y",
      "B",
      "z",
      "deep/1/2/3/4/f",
      "é/ü",
      ".git/config",
      "s/.mtrack/x",
    ];
    for (let i = 0; i < 300; i++) files.push(`many/d${i % 7}/f${i}`);
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(data, f)), { recursive: true });
      fs.writeFileSync(path.join(data, f), f.repeat(3));
    }
    fs.mkdirSync(path.join(data, "empty"));
    fs.chmodSync(path.join(data, "z"), 0o755);
    fs.linkSync(path.join(data, "B"), path.join(data, "B2"));
    fs.symlinkSync("a-c", path.join(data, "link"));
    execFileSync("mkfifo", [path.join(data, "fifo")]);
    const native = walkDir(data, root, fs);
    const js = walkDir(data, root, jsOnlyFs);
    assert.equal(
      js.length,
      files.length - 2 + 2,
      "fifo, .git and .mtrack skipped; hard link and symlink listed",
    );
    assert.deepEqual(native, js);
    assert.equal(native.find((f) => f.rel === "B2")!.linked, true, "a second hard link is marked");
  }));

test("walkDir reports a directory it cannot list with the path, in both walks", () =>
  withTempDir((root) => {
    for (const impl of [fs, jsOnlyFs]) {
      assert.throws(
        () => walkDir(path.join(root, "nope"), root, impl),
        (e: { code?: string; message: string }) => e.message.includes(path.join(root, "nope")),
      );
    }
  }));
