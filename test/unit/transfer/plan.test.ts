import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { looseObjects } from "../../../src/remotes/loose.js";
import { safeWholePacks, wholePacks, withoutCovered } from "../../../src/transfer/plan.js";
import { withTempDir } from "../../helpers/tmp.js";

const h = (n: number) => n.toString(16).padStart(64, "0");

test("wholePacks: only packs whose every object is to be sent", () => {
  const packs = [
    { id: "all-wanted", count: 2, hashes: [h(1), h(2)] },
    { id: "one-present", count: 2, hashes: [h(3), h(4)] },
    // An object listed by two packs is attributed to one: the other's list is short, so it is not whole.
    { id: "shared", count: 3, hashes: [h(5), h(6)] },
    { id: "empty", count: 0, hashes: [] },
  ];
  const toSend = new Set([h(1), h(2), h(3), h(5), h(6)]);
  assert.deepEqual(wholePacks(packs, toSend), ["all-wanted"]);
  assert.deepEqual(wholePacks(packs, new Set()), []);
});

test("withoutCovered: drops covered objects and the batches they empty", () => {
  const o = (n: number) => ({ hash: h(n), size: n });
  assert.deepEqual(withoutCovered([[o(1), o(2)], [o(3)], [o(4)]], new Set([h(1), h(3)])), [[o(2)], [o(4)]]);
  assert.deepEqual(withoutCovered([[o(1)]], new Set()), [[o(1)]]);
});

test("looseObjects: the same answer by stat (few) and by folder listing (many)", async () => {
  await withTempDir((dir) => {
    const stored = [h(0x10), h(0xab01), `ab${"c".repeat(62)}`];
    for (const hash of stored) {
      fs.mkdirSync(path.join(dir, hash.slice(0, 2)), { recursive: true });
      fs.writeFileSync(path.join(dir, hash.slice(0, 2), hash.slice(2)), "x");
    }
    const few = [h(0x10), h(0x11), `ab${"c".repeat(62)}`];
    assert.deepEqual([...looseObjects(fs, dir, few)].sort(), [h(0x10), `ab${"c".repeat(62)}`].sort());
    const many = [...few, h(0xab01)];
    for (let i = 0; i < 1000; i++) many.push(`${(i % 256).toString(16).padStart(2, "0")}${"e".repeat(62)}`);
    assert.deepEqual([...looseObjects(fs, dir, many)].sort(), [...stored].sort());
    assert.equal(looseObjects(fs, path.join(dir, "missing"), many).size, 0);
  });
});

test("safeWholePacks: a manifest's pack travels whole only if no entry sits in another manifest's pack", () => {
  const [ma, mb, a1, a2, b1, b2] = [h(0xa0), h(0xb0), h(0xa1), h(0xa2), h(0xb1), h(0xb2)];
  const entriesOf = new Map([
    [ma, [a1, a2]],
    [mb, [b1, b2]],
  ]);
  // p holds manifest a with its entries; q holds only plain objects: both are safe.
  assert.deepEqual(
    safeWholePacks(
      [
        { id: "p", hashes: [ma, a1] },
        { id: "q", hashes: [a2, b1] },
      ],
      entriesOf,
    ),
    ["p", "q"],
  );
  // r holds manifest a and an entry of b; s holds manifest b and an entry of a: either could land first.
  assert.deepEqual(
    safeWholePacks(
      [
        { id: "r", hashes: [ma, a1, b1] },
        { id: "s", hashes: [mb, a2, b2] },
        { id: "t", hashes: [h(1)] },
      ],
      entriesOf,
    ),
    ["t"],
  );
});

test("wholePacks for a fetch: packs of wanted objects, allowing a minority of objects already local", () => {
  const packs = [
    { id: "all-wanted", count: 2, hashes: [h(1), h(2)] },
    { id: "manifest-local", count: 3, hashes: [h(3), h(4), h(9)] },
    { id: "mostly-local", count: 3, hashes: [h(5), h(10), h(11)] },
    { id: "unwanted", count: 2, hashes: [h(6), h(12)] },
    { id: "short", count: 3, hashes: [h(7), h(8)] },
  ];
  const wanted = new Set([h(1), h(2), h(3), h(4), h(5), h(6), h(7), h(8)]);
  const local = new Set([h(9), h(10), h(11)]);
  assert.deepEqual(
    wholePacks(packs, wanted, (x) => local.has(x)),
    ["all-wanted", "manifest-local"],
  );
});
