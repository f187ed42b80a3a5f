import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../../../src/engine/random.js";

test("same seed and stream give the same sequence; other seeds or streams differ", () => {
  const r1 = new Rng(42);
  const r2 = new Rng(42);
  const s1 = Array.from({ length: 20 }, () => r1.nextUint32());
  const s2 = Array.from({ length: 20 }, () => r2.nextUint32());
  assert.deepEqual(s1, s2);
  const r3 = new Rng(43);
  assert.notDeepEqual(
    s1,
    Array.from({ length: 20 }, () => r3.nextUint32()),
  );
  const r4 = new Rng(42, 1);
  assert.notDeepEqual(
    s1,
    Array.from({ length: 20 }, () => r4.nextUint32()),
  );
});

test("uniform draws lie in [0, 1) and normals have mean 0, std 1", () => {
  const rng = new Rng(7);
  const n = 20000;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const u = rng.random();
    assert.ok(u >= 0 && u < 1);
    const z = rng.normal();
    sum += z;
    sq += z * z;
  }
  assert.ok(Math.abs(sum / n) < 0.03);
  assert.ok(Math.abs(Math.sqrt(sq / n) - 1) < 0.03);
});

test("permutation and sample return distinct indices", () => {
  const rng = new Rng(1);
  const p = [...rng.permutation(50)].sort((a, b) => a - b);
  assert.deepEqual(
    p,
    Array.from({ length: 50 }, (_, i) => i),
  );
  const s = rng.sample(10, 4);
  assert.equal(new Set(s).size, 4);
  assert.ok(s.every((i) => i >= 0 && i < 10));
  assert.throws(() => rng.sample(3, 4), RangeError);
});
