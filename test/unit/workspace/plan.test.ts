import assert from "node:assert/strict";
import { test } from "node:test";
import { hashBytes } from "../../../src/store/hash.js";
import type { TreeEntry } from "../../../src/store/tree.js";
import type { Hash } from "../../../src/store/types.js";
import { planCheckout } from "../../../src/workspace/checkout.js";
import { diffEntries } from "../../../src/workspace/status.js";
import type { CurrentState } from "../../../src/workspace/tracked.js";

const h = (s: string): Hash => hashBytes(Buffer.from(s));
const e = (path: string, content: string, executable = false): TreeEntry => ({
  path,
  hash: h(content),
  size: content.length,
  executable,
});
const dirNow = (entries: TreeEntry[]): CurrentState => ({
  exists: true,
  type: "directory",
  hash: h(JSON.stringify(entries)),
  size: entries.reduce((s, x) => s + x.size, 0),
  files: entries.length,
  entries,
});
const fileNow = (content: string, executable = false): CurrentState => ({
  exists: true,
  type: "file",
  hash: h(content),
  size: content.length,
  files: 1,
  executable,
});
const MISSING: CurrentState = { exists: false, size: 0, files: 0 };
const storeOf =
  (...contents: string[]) =>
  (hash: Hash) =>
    contents.some((c) => h(c) === hash);

test("planCheckout: nothing to do when the workspace already matches", () => {
  const target = [e("a", "1"), e("b/c", "2")];
  const plan = planCheckout(target, "directory", dirNow(target), storeOf("1", "2"));
  assert.deepEqual(plan, { write: [], delete: [], unsafe: [], missing: [], replaceWhole: false });
});

test("planCheckout: a missing workspace path writes every entry", () => {
  const target = [e("a", "1"), e("b/c", "2")];
  const plan = planCheckout(target, "directory", MISSING, storeOf("1", "2"));
  assert.deepEqual(plan.write, target);
  assert.deepEqual([plan.delete, plan.unsafe, plan.missing, plan.replaceWhole], [[], [], [], false]);
});

test("planCheckout: stored modifications are safe to overwrite, unstored ones are unsafe", () => {
  const target = [e("a", "1"), e("b", "2"), e("c", "3")];
  const now = dirNow([e("a", "1"), e("b", "2-old-stored"), e("c", "3-new-unstored")]);
  const plan = planCheckout(target, "directory", now, storeOf("1", "2", "3", "2-old-stored"));
  assert.deepEqual(
    plan.write.map((x) => x.path),
    ["b", "c"],
  );
  assert.deepEqual(plan.unsafe, ["c"]);
  assert.deepEqual(plan.missing, []);
});

test("planCheckout: files not in the target are deleted; unstored ones are unsafe", () => {
  const target = [e("a", "1")];
  const now = dirNow([e("a", "1"), e("old", "stored"), e("new", "unstored")]);
  const plan = planCheckout(target, "directory", now, storeOf("1", "stored"));
  assert.deepEqual(plan.delete.sort(), ["new", "old"]);
  assert.deepEqual(plan.unsafe, ["new"]);
  assert.deepEqual(plan.write, []);
});

test("planCheckout: objects the store lacks are listed as missing", () => {
  const target = [e("a", "1"), e("b", "2")];
  const plan = planCheckout(target, "directory", MISSING, storeOf("1"));
  assert.deepEqual(plan.missing, [h("2")]);
});

test("planCheckout: an executable-bit change alone rewrites the file and is safe", () => {
  const target = [e("run.sh", "x", true)];
  const plan = planCheckout(target, "directory", dirNow([e("run.sh", "x", false)]), storeOf("x"));
  assert.deepEqual(plan.write, target);
  assert.deepEqual(plan.unsafe, []);
});

test("planCheckout: single files (path '')", () => {
  const target = [e("", "v2")];
  assert.deepEqual(planCheckout(target, "file", fileNow("v2"), storeOf("v2")).write, []);
  const stored = planCheckout(target, "file", fileNow("v1"), storeOf("v1", "v2"));
  assert.deepEqual([stored.write, stored.unsafe], [target, []]);
  const unstored = planCheckout(target, "file", fileNow("edited"), storeOf("v2"));
  assert.deepEqual(unstored.unsafe, [""]);
});

test("planCheckout: a type switch replaces the whole path; unstored content there is unsafe", () => {
  // Was a directory, now the pointer says file.
  const toFile = planCheckout(
    [e("", "f")],
    "file",
    dirNow([e("x", "kept"), e("y", "lost")]),
    storeOf("f", "kept"),
  );
  assert.equal(toFile.replaceWhole, true);
  assert.deepEqual(toFile.write, [e("", "f")]);
  assert.deepEqual(toFile.unsafe, ["y"]);
  assert.deepEqual(toFile.delete, []);
  // Was a file, now the pointer says directory.
  const toDir = planCheckout([e("a", "1")], "directory", fileNow("stored"), storeOf("1", "stored"));
  assert.equal(toDir.replaceWhole, true);
  assert.deepEqual(toDir.write, [e("a", "1")]);
  assert.deepEqual(toDir.unsafe, []);
  const toDirUnsafe = planCheckout([e("a", "1")], "directory", fileNow("unstored"), storeOf("1"));
  assert.deepEqual(toDirUnsafe.unsafe, [""]);
});

test("diffEntries lists added, modified (content or mode) and deleted files", () => {
  const before = [e("a", "1"), e("b", "2"), e("c", "3"), e("d/x", "4", false)];
  const after = [e("a", "1"), e("b", "2b"), e("d/x", "4", true), e("e", "5"), e("f/g", "6")];
  assert.deepEqual(diffEntries(before, after), {
    added: ["e", "f/g"],
    modified: ["b", "d/x"],
    deleted: ["c"],
  });
  assert.deepEqual(diffEntries(before, before), { added: [], modified: [], deleted: [] });
  assert.deepEqual(diffEntries([], before).added, ["a", "b", "c", "d/x"]);
  assert.deepEqual(diffEntries(before, []).deleted, ["a", "b", "c", "d/x"]);
});

test("planCheckout with targetInStore (a complete tree) looks up no target object, still guards local edits", () => {
  const target = [e("a", "1"), e("b", "2")];
  const asked: Hash[] = [];
  const inStore = (hash: Hash) => {
    asked.push(hash);
    return false;
  };
  const fresh = planCheckout(target, "directory", MISSING, inStore, { targetInStore: true });
  assert.deepEqual(fresh.missing, []);
  assert.deepEqual(asked, [], "no lookup per target object");
  assert.equal(fresh.write.length, 2);
  // A workspace file whose content is not stored is still protected.
  const edited = planCheckout(target, "directory", dirNow([e("a", "edited"), e("b", "2")]), inStore, {
    targetInStore: true,
  });
  assert.deepEqual(edited.unsafe, ["a"]);
  assert.deepEqual(asked, [h("edited")]);
});
