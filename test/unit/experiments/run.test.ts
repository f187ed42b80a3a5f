/** The pure parts of src/experiments/run.ts: which overrides every trial of a sweep sets alike. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { constantOverrides } from "../../../src/experiments/run.js";
import { expandGrid, parseSet } from "../../../src/experiments/set.js";

const grid = (...sets: string[]) => expandGrid(sets.map(parseSet));

test("constantOverrides: a key every trial sets to one value, not the swept ones", () => {
  assert.deepEqual(constantOverrides(grid("lr=0.1,0.2", "data.n=6")), ["params.yaml:data.n"]);
  assert.deepEqual(constantOverrides(grid("lr=0.1,0.2", "epochs=1,2")), []);
  assert.deepEqual(constantOverrides(grid("lr=0.1")), ["params.yaml:lr"]);
  assert.deepEqual(constantOverrides([]), []);
});
