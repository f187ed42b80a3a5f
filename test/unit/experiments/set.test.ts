import assert from "node:assert/strict";
import { test } from "node:test";
import { applyOverrides, expandGrid, parseSet } from "../../../src/experiments/set.js";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

test("parseSet: files, nested keys, +, lists, range, choice", () => {
  assert.deepEqual(parseSet("lr=0.1"), { file: "params.yaml", key: "lr", add: false, values: [0.1] });
  assert.deepEqual(parseSet("train.yaml:opt.lr=0.1,0.2").file, "train.yaml");
  assert.deepEqual(parseSet("train.yaml:opt.lr=0.1,0.2").key, "opt.lr");
  assert.deepEqual(parseSet("+seed=7").add, true);
  assert.deepEqual(parseSet("x=range(1, 4)").values, [1, 2, 3]);
  assert.deepEqual(parseSet("x=range(0.1, 0.4, 0.1)").values, [0.1, 0.2, 0.3]);
  assert.deepEqual(parseSet("x=range(3, 0, -1)").values, [3, 2, 1]);
  assert.deepEqual(parseSet("x=choice(adam, sgd)").values, ["adam", "sgd"]);
  assert.deepEqual(parseSet("x=[1,2],[3]").values, [[1, 2], [3]]);
  assert.deepEqual(parseSet("x=true").values, [true]);
});

test("parseSet: malformed input has a stable code", () => {
  for (const bad of [
    "lr",
    "=1",
    "x=range(1,",
    "x=range(1)",
    "x=range(a, b)",
    "x=range(1, 3, 0)",
    "x=choice(a,)",
    ":x=1",
    "a..b=1",
  ])
    assert.equal(
      code(() => parseSet(bad)),
      "ERR_MTRACK_EXP_SET_INVALID",
      bad,
    );
});

test("expandGrid: several -S make a grid, first axis slowest", () => {
  const grid = expandGrid([parseSet("a=1,2"), parseSet("b=x,y,z")]);
  assert.equal(grid.length, 6);
  assert.deepEqual(
    grid[1]?.map((o) => o.value),
    [1, "y"],
  );
  assert.deepEqual(expandGrid([]), [[]]);
});

test("applyOverrides: keeps comments, refuses unknown keys unless +", () => {
  const texts = { "params.yaml": "# top\nlr: 0.1 # rate\ntrain:\n  epochs: 3\n" };
  const out = applyOverrides(texts, expandGrid([parseSet("lr=0.2"), parseSet("train.epochs=5")])[0] ?? []);
  assert.equal(out["params.yaml"], "# top\nlr: 0.2 # rate\ntrain:\n  epochs: 5\n");
  assert.equal(
    code(() => applyOverrides(texts, expandGrid([parseSet("lx=1")])[0] ?? [])),
    "ERR_MTRACK_EXP_PARAM_UNKNOWN",
  );
  assert.equal(
    code(() => applyOverrides(texts, expandGrid([parseSet("other.yaml:a=1")])[0] ?? [])),
    "ERR_MTRACK_EXP_PARAM_UNKNOWN",
  );
  const added = applyOverrides(texts, expandGrid([parseSet("+train.seed=7")])[0] ?? []);
  assert.match(added["params.yaml"] ?? "", /seed: 7/);
});
