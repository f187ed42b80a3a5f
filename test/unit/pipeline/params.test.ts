import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { flattenParams, getParam, parseParamsText, pickParams } from "../../../src/pipeline/params.js";
import { throwsCode } from "./helpers.js";

describe("params files", () => {
  it("parses YAML and JSON with scalars, lists and mappings", () => {
    assert.deepEqual(parseParamsText("a: 1\nb: [1, 2]\nc: {d: x}\n", "params.yaml"), {
      a: 1,
      b: [1, 2],
      c: { d: "x" },
    });
    assert.deepEqual(parseParamsText('{"a": {"b": true}}', "p.json"), { a: { b: true } });
    assert.deepEqual(parseParamsText("", "params.yaml"), {});
  });

  it("rejects non-mappings and bad syntax", () => {
    throwsCode(() => parseParamsText("- 1\n", "params.yaml"), "ERR_MTRACK_PARAMS_INVALID");
    const err = throwsCode(() => parseParamsText("a: [1\n", "params.yaml"), "ERR_MTRACK_PARAMS_INVALID");
    assert.equal(err.data.file, "params.yaml");
  });

  it("reads TOML params files (tables, arrays, dates as text) and names file:line:column of a syntax error", () => {
    const text =
      'seed = 7\n[train]\nlr = 0.01\nlayers = [64, 32]\nname = "x"\n[train.opt]\nkind = "adam"\nwhen = 2026-11-27T10:00:00Z\n';
    assert.deepEqual(parseParamsText(text, "params.toml"), {
      seed: 7,
      train: {
        lr: 0.01,
        layers: [64, 32],
        name: "x",
        opt: { kind: "adam", when: "2026-11-27T10:00:00.000Z" },
      },
    });
    assert.equal(getParam(parseParamsText(text, "params.toml"), "train.opt.kind").found, true);
    const err = throwsCode(() => parseParamsText("a = 1\nb = = 2\n", "p.toml"), "ERR_MTRACK_PARAMS_INVALID");
    assert.deepEqual([err.data.file, err.data.line], ["p.toml", 2]);
    assert.match(err.message, /^p\.toml:2:\d+: /);
    throwsCode(() => parseParamsText("a = 1\na = 2\n", "p.toml"), "ERR_MTRACK_PARAMS_INVALID");
  });

  it("looks up dotted keys, list indexes and keys containing dots", () => {
    const p = { a: { b: [10, 20] }, "x.y": { z: 1 } };
    assert.deepEqual(getParam(p, "a.b.1"), { found: true, value: 20 });
    assert.deepEqual(getParam(p, "x.y.z"), { found: true, value: 1 });
    assert.deepEqual(getParam(p, "a.c"), { found: false });
    assert.deepEqual(getParam({ n: null }, "n"), { found: true, value: null });
  });

  it("flattens nested mappings, keeping lists as values", () => {
    assert.deepEqual(flattenParams({ a: { b: 1, c: [1, 2], d: {} }, e: "s" }), {
      "a.b": 1,
      "a.c": [1, 2],
      "a.d": {},
      e: "s",
    });
  });

  it("picks declared keys; a mapping key selects its subtree; null selects all", () => {
    const p = { train: { lr: 1, bs: 2 }, seed: 3 };
    assert.deepEqual(pickParams(p, ["train", "nope"]), {
      values: { train: { lr: 1, bs: 2 } },
      missing: ["nope"],
    });
    assert.deepEqual(pickParams(p, [null]).values, p);
  });
});
