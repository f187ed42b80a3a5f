/**
 * The .mtrackignore matcher: gitignore(5) semantics, checked case by case and against `git check-ignore`
 * itself on the same patterns and paths; and the directory walk honouring nested ignore files (native
 * and JavaScript walks giving the same answer).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type { FsLike } from "../../../src/util/fs.js";
import { ancestorIgnores, IgnoreMatcher, parseIgnore } from "../../../src/workspace/ignore.js";
import { walkDir } from "../../../src/workspace/scan.js";
import { withTempDir, writeTree } from "../../helpers/tmp.js";

const m = (text: string) => new IgnoreMatcher(parseIgnore(text, ".mtrackignore", ""));

test("comments, blank lines, escapes and trailing spaces", () => {
  const rules = parseIgnore("# comment\n\n\\#hash\n\\!bang\nspace\\ \ntrail   \n", ".mtrackignore", "");
  assert.deepEqual(
    rules.map((r) => [r.pattern, r.line]),
    [
      ["\\#hash", 3],
      ["\\!bang", 4],
      ["space\\ ", 5],
      ["trail", 6],
    ],
  );
  const ig = new IgnoreMatcher(rules);
  assert.ok(ig.ignores("#hash"));
  assert.ok(ig.ignores("!bang"));
  assert.ok(ig.ignores("space "));
  assert.ok(!ig.ignores("space"));
  assert.ok(ig.ignores("trail"));
  assert.ok(!ig.ignores("# comment"));
});

test("unanchored names match at any depth; a slash anchors to the ignore file's directory", () => {
  const ig = m("*.tmp\n/top.txt\ndoc/frotz\n");
  assert.ok(ig.ignores("a.tmp"));
  assert.ok(ig.ignores("x/y/a.tmp"));
  assert.ok(ig.ignores("top.txt"));
  assert.ok(!ig.ignores("x/top.txt"));
  assert.ok(ig.ignores("doc/frotz"));
  assert.ok(!ig.ignores("a/doc/frotz"), "a middle slash anchors too");
});

test("a trailing slash matches directories only, and everything inside them", () => {
  const ig = m("build/\n");
  assert.ok(!ig.ignores("build", false));
  assert.ok(ig.ignores("build", true));
  assert.ok(ig.ignores("build/a/b.bin"));
  assert.ok(ig.ignores("x/build/b.bin"));
});

test("negation re-includes, the last match wins, but not inside an ignored directory", () => {
  const ig = m("*.log\n!keep.log\ncache/\n!cache/x.bin\n");
  assert.ok(ig.ignores("a.log"));
  assert.ok(!ig.ignores("keep.log"));
  assert.ok(!ig.ignores("d/keep.log"));
  assert.ok(ig.ignores("cache/x.bin"), "a parent directory excluded cannot be re-included");
  const v = m("*.log\n!keep.log\n*.log\n").check("keep.log", false);
  assert.equal(v.ignored, true);
  assert.equal(v.rule?.line, 3);
});

test("** spans directories: leading, trailing and middle", () => {
  const ig = m("**/foo\nabc/**\na/**/b\n");
  assert.ok(ig.ignores("foo"));
  assert.ok(ig.ignores("x/y/foo"));
  assert.ok(ig.ignores("abc/x/y"));
  assert.ok(!ig.ignores("abc", false), "abc/** matches what is inside, not abc itself");
  assert.ok(ig.ignores("a/b"));
  assert.ok(ig.ignores("a/x/y/b"));
  assert.ok(!ig.ignores("xa/b"));
});

test("character classes, ranges, negated classes and ?", () => {
  const ig = m("file[0-9].txt\nv[!a].bin\n?.c\n");
  assert.ok(ig.ignores("file3.txt"));
  assert.ok(!ig.ignores("filex.txt"));
  assert.ok(ig.ignores("vb.bin"));
  assert.ok(!ig.ignores("va.bin"));
  assert.ok(ig.ignores("x.c"));
  assert.ok(!ig.ignores("xy.c"));
});

test("a nested file's rules apply below its directory and override the root's", () => {
  const ig = new IgnoreMatcher([
    ...parseIgnore("*.csv\n", ".mtrackignore", ""),
    ...parseIgnore("!keep.csv\n/local.txt\n", "data/.mtrackignore", "data"),
  ]);
  assert.ok(ig.ignores("a.csv"));
  assert.ok(ig.ignores("keep.csv"), "the nested negation does not reach above data/");
  assert.ok(!ig.ignores("data/keep.csv"));
  assert.ok(!ig.ignores("data/sub/keep.csv"));
  assert.ok(ig.ignores("data/local.txt"));
  assert.ok(!ig.ignores("data/sub/local.txt"), "anchored to data/");
  assert.ok(!ig.ignores("local.txt"));
  const v = ig.check("data/keep.csv", false);
  assert.equal(v.rule?.source, "data/.mtrackignore");
  assert.equal(v.rule?.line, 1);
});

test("prunable names: plain names only, and none when a rule negates", () => {
  assert.deepEqual(m("tmp/\n__pycache__\n*.log\n/abs\n").prunableNames(), ["tmp/", "__pycache__"]);
  assert.deepEqual(m("tmp/\n!tmp/keep\n").prunableNames(), []);
});

// The same patterns and paths asked of git itself: the matcher must agree on every one.
const PATTERNS = [
  "*.tmp",
  "!important.tmp",
  "/rooted",
  "build/",
  "logs/**",
  "!logs/keep",
  "**/cache",
  "a/**/z",
  "doc/*.txt",
  "\\#literal",
  "f[a-c]?.bin",
  "x[!0-9]",
  "deep/er/",
  "trailing\\ ",
  "*.o",
  "!/keep.o",
  "nested/**/*.b",
  "\\!bang",
];
const PATHS: Array<[string, boolean]> = [
  ["a.tmp", false],
  ["important.tmp", false],
  ["sub/important.tmp", false],
  ["rooted", false],
  ["sub/rooted", false],
  ["build", true],
  ["buildfile/build", false],
  ["sub/build/x", false],
  ["logs/a", false],
  ["logs/keep", false],
  ["cache", true],
  ["p/q/cache", false],
  ["a/z", false],
  ["a/b/c/z", false],
  ["doc/x.txt", false],
  ["doc/sub/x.txt", false],
  ["#literal", false],
  ["fab.bin", false],
  ["fdb.bin", false],
  ["xa", false],
  ["x1", false],
  ["deep/er/file", false],
  ["deep/er", true],
  ["trailing ", false],
  ["trailing", false],
  ["keep.o", false],
  ["sub/keep.o", false],
  ["nested/b", false],
  ["nested/q/r.b", false],
  ["!bang", false],
  ["plain.csv", false],
];

test("agrees with git check-ignore on a corpus of patterns and paths", (t) =>
  withTempDir((dir) => {
    try {
      execFileSync("git", ["init", "-q", dir]);
    } catch {
      t.skip("git is not available");
      return;
    }
    fs.writeFileSync(path.join(dir, ".gitignore"), `${PATTERNS.join("\n")}\n`);
    const ig = m(`${PATTERNS.join("\n")}\n`);
    for (const [p, isDir] of PATHS) {
      const abs = path.join(dir, p);
      fs.mkdirSync(isDir ? abs : path.dirname(abs), { recursive: true });
      if (!isDir && !fs.existsSync(abs)) fs.writeFileSync(abs, "x");
    }
    for (const [p, isDir] of PATHS) {
      let gitSays: boolean;
      try {
        execFileSync("git", ["-C", dir, "check-ignore", "-q", "--no-index", isDir ? `${p}/` : p]);
        gitSays = true;
      } catch {
        gitSays = false;
      }
      assert.equal(ig.ignores(p, isDir), gitSays, `${p}${isDir ? "/" : ""}: git says ${gitSays}`);
    }
  }));

function tree(root: string): void {
  writeTree(root, {
    ".mtrackignore": "*.tmp\ncache/\n",
    "data/.mtrackignore": "!keep.tmp\n/local/\n",
    "data/a.csv": "a",
    "data/x.tmp": "x",
    "data/keep.tmp": "k",
    "data/cache/big.bin": "b",
    "data/local/l.txt": "l",
    "data/sub/local/l.txt": "l",
    "data/sub/y.tmp": "y",
    "data/sub/keep.tmp": "k",
    "data/sub/.mtrackignore": "*.csv\n",
    "data/sub/s.csv": "s",
    "data/sub/s.txt": "s",
  });
}

const EXPECTED = [
  ".mtrackignore",
  "a.csv",
  "keep.tmp",
  "sub/.mtrackignore",
  "sub/keep.tmp",
  "sub/local/l.txt",
  "sub/s.txt",
];

test("walkDir honours the root's and nested ignore files (native walk)", () =>
  withTempDir((root) => {
    tree(root);
    assert.deepEqual(
      walkDir(path.join(root, "data"), root, fs).map((f) => f.rel),
      EXPECTED,
    );
  }));

test("walkDir honours them the same way in the JavaScript walk", () =>
  withTempDir((root) => {
    tree(root);
    const jsFs = { ...fs } as unknown as FsLike; // not the real module: listDir walks in JavaScript
    assert.deepEqual(
      walkDir(path.join(root, "data"), root, jsFs).map((f) => f.rel),
      EXPECTED,
    );
  }));

test("an ignored directory is not entered, and its ignore file is not read", () =>
  withTempDir((root) => {
    writeTree(root, {
      ".mtrackignore": "skip/\n",
      "d/skip/.mtrackignore": "!*\n",
      "d/skip/f": "f",
      "d/g": "g",
    });
    assert.deepEqual(
      walkDir(path.join(root, "d"), root, fs).map((f) => f.rel),
      ["g"],
    );
    assert.equal(ancestorIgnores(root, "d/skip", fs).checkDir("d/skip").ignored, true);
  }));

test("findTrackedPaths skips pointers that .mtrackignore files ignore (root and nested), and ignored directories", async () => {
  const { makeTempGitRepo } = await import("../../helpers/git-repo.js");
  const { initRepo, Repo } = await import("../../../src/repo.js");
  const { findTrackedPaths } = await import("../../../src/workspace/tracked.js");
  const repo = makeTempGitRepo();
  try {
    const pointer = (name: string) =>
      `version: 1\npath: "${name}"\ntype: file\nhash: ${"a".repeat(64)}\nsize: 1\n`;
    repo.write({
      ".mtrackignore": "scratch/\n*.tmp\n",
      "kept.bin.mtrack": pointer("kept.bin"),
      "x.tmp.mtrack": pointer("x.tmp"),
      "scratch/s.bin.mtrack": pointer("s.bin"),
      "sub/.mtrackignore": "local.bin\n",
      "sub/local.bin.mtrack": pointer("local.bin"),
      "sub/shared.bin.mtrack": pointer("shared.bin"),
      "other/local.bin.mtrack": pointer("local.bin"),
    });
    initRepo({ cwd: repo.dir });
    assert.deepEqual(findTrackedPaths(Repo.open({ cwd: repo.dir })), [
      "kept.bin",
      "other/local.bin",
      "sub/shared.bin",
    ]);
  } finally {
    repo.cleanup();
  }
});
