// biome-ignore-all lint/suspicious/noTemplateCurlyInString: pipeline files use ${...} syntax literally
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { interpolateString, parseExpression, TemplateContext } from "../../../src/pipeline/template.js";
import { assertPos, parse, throwsCode } from "./helpers.js";

const PARAMS = "train:\n  lr: 0.01\n  layers: [8, 16]\n  opt: {name: adam}\nflag: true\nargs: [--a, --b]\n";
const pos = { file: "pipeline.yaml", line: 3, column: 10 };

function ctx(): TemplateContext {
  return new TemplateContext().with(
    { train: { lr: 0.01, layers: [8, 16] }, flag: true, n: null },
    { kind: "file", file: "params.yaml" },
    pos,
  );
}

describe("interpolation", () => {
  it("parses dotted names and list indexes", () => {
    assert.deepEqual(parseExpression("a.b[0].c"), ["a", "b", 0, "c"]);
    assert.deepEqual(parseExpression(" x "), ["x"]);
    assert.equal(parseExpression("a..b"), undefined);
    assert.equal(parseExpression("[0]"), undefined);
  });

  it("resolves dotted keys and indexes, stringifying inside a longer string", () => {
    const used: string[] = [];
    const v = interpolateString("lr=${train.lr} l0=${train.layers[1]} f=${flag}", pos, ctx(), (f, k) =>
      used.push(`${f}:${k}`),
    );
    assert.equal(v, "lr=0.01 l0=16 f=true");
    assert.deepEqual(used, ["params.yaml:train.lr", "params.yaml:train.layers", "params.yaml:flag"]);
  });

  it("keeps the value's type for a whole-string expression", () => {
    assert.deepEqual(
      interpolateString("${train.layers}", pos, ctx(), () => {}),
      [8, 16],
    );
    assert.equal(
      interpolateString("${train.lr}", pos, ctx(), () => {}),
      0.01,
    );
    assert.equal(
      interpolateString("${flag}", pos, ctx(), () => {}),
      true,
    );
  });

  it("treats \\${ as a literal", () => {
    assert.equal(
      interpolateString("echo \\${HOME} ${train.lr}", pos, ctx(), () => {}),
      "echo ${HOME} 0.01",
    );
  });

  it("rejects a list inside a longer string", () => {
    throwsCode(
      () => interpolateString("x ${train.layers}", pos, ctx(), () => {}),
      "ERR_MTRACK_INTERPOLATION",
    );
  });

  it("rejects malformed and unclosed expressions", () => {
    throwsCode(() => interpolateString("${a..b}", pos, ctx(), () => {}), "ERR_MTRACK_INTERPOLATION");
    throwsCode(() => interpolateString("${train.lr", pos, ctx(), () => {}), "ERR_MTRACK_INTERPOLATION");
  });

  it("names the key and position of a missing key", () => {
    const err = throwsCode(
      () => parse("stages:\n  a:\n    cmd: python t.py --lr ${train.nope}\n", { "params.yaml": PARAMS }),
      "ERR_MTRACK_PARAM_MISSING",
    );
    assert.equal(err.data.key, "train.nope");
    assertPos(err, 3, 27);
  });

  it("interpolates into stage fields, with list values from params kept as lists", () => {
    const p = parse(
      "vars:\n  - out: results\nstages:\n  a:\n    cmd: ${args}\n    deps:\n      - ${out}/in\n    outs:\n      - ${out}/x:\n          persist: true\n",
      { "params.yaml": PARAMS },
    );
    const stage = p.stages[0]!;
    assert.deepEqual(stage.cmd, ["--a", "--b"]);
    assert.equal(stage.deps[0]!.path, "results/in");
    assert.equal(stage.outs[0]!.path, "results/x");
    assert.equal(stage.outs[0]!.persist, true);
  });

  it("tracks params read by interpolation as stage params, but not inline vars", () => {
    const p = parse(
      "vars:\n  - v: 1\nstages:\n  a:\n    cmd: t ${train.lr} ${v}\n    params:\n      - flag\n",
      {
        "params.yaml": PARAMS,
      },
    );
    const refs = p.stages[0]!.params.map((r) => [r.file, r.key, r.via]);
    assert.deepEqual(refs, [
      ["params.yaml", "flag", "declared"],
      ["params.yaml", "train.lr", "interpolated"],
    ]);
  });

  it("loads vars files, whole or selected keys", () => {
    const files = { "cfg.yaml": "size: 3\nname: big\n", "more.json": '{"k": {"x": 7}}' };
    const p = parse(
      "vars:\n  - cfg.yaml:size\n  - more.json\nstages:\n  a:\n    cmd: t ${size} ${k.x}\n",
      files,
    );
    assert.equal(p.stages[0]!.cmd, "t 3 7");
    throwsCode(
      () => parse("vars:\n  - cfg.yaml:size\nstages:\n  a:\n    cmd: t ${name}\n", files),
      "ERR_MTRACK_PARAM_MISSING",
    );
  });

  it("refuses to redefine a name from another source", () => {
    const err = throwsCode(
      () => parse("vars:\n  - flag: 2\nstages:\n  a:\n    cmd: t\n", { "params.yaml": PARAMS }),
      "ERR_MTRACK_INTERPOLATION",
    );
    assertPos(err, 2, 5);
  });

  it("unpacks a mapping into --key value arguments in cmd only, like DVC", () => {
    const params =
      "opts:\n  lr: 0.1\n  fast: true\n  slow: false\n  name: it's\n  tags: [a, 2]\n  sub: {k: x}\n";
    const p = parse("stages:\n  a:\n    cmd: python t.py ${opts}\n", { "params.yaml": params });
    assert.equal(p.stages[0]!.cmd, "python t.py --lr 0.1 --fast --name 'it'\\''s' --tags 'a' 2 --sub.k 'x'");
    throwsCode(
      () => parse("stages:\n  a:\n    cmd: t\n    desc: d ${opts}\n", { "params.yaml": params }),
      "ERR_MTRACK_INTERPOLATION",
    );
  });
});
