import assert from "node:assert/strict";
import { test } from "node:test";
import { LruCache } from "../../../src/ui/histories.js";

test("the LRU cache forgets the least recently used entries first, within a weight budget", () => {
  const c = new LruCache<string, number[]>(5, (v) => v.length);
  c.set("a", [1, 2]);
  c.set("b", [1, 2]);
  assert.deepEqual(c.get("a"), [1, 2]); // a is now the most recent
  c.set("c", [1, 2]); // total 6 > 5: b goes
  assert.equal(c.get("b"), undefined);
  assert.deepEqual(c.get("a"), [1, 2]);
  assert.deepEqual(c.get("c"), [1, 2]);
  c.set("huge", [1, 2, 3, 4, 5, 6]);
  assert.equal(c.get("huge"), undefined, "heavier than the whole cache: not kept");
  assert.deepEqual(c.get("a"), [1, 2]);
});
