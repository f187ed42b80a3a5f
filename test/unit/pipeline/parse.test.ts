// biome-ignore-all lint/suspicious/noTemplateCurlyInString: pipeline files use ${...} syntax literally
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parsePipeline } from "../../../src/pipeline/parse.js";
import { assertPos, parse, throwsCode } from "./helpers.js";

const PARAMS = "train:\n  lr: 0.01\n  bs: 32\nmodels: [cnn, mlp]\n";

describe("parsePipeline: stages", () => {
  it("reads every stage field, with DVC defaults", () => {
    const p = parse(
      [
        "stages:",
        "  train:",
        "    cmd: python train.py",
        "    wdir: sub",
        "    deps: [train.py, ../data]",
        "    params:",
        "      - train.lr",
        "      - other.yaml: [k]",
        "      - all.json:",
        "    outs:",
        "      - model.bin",
        "      - cache_off:",
        "          cache: false",
        "    metrics: [m.json]",
        "    plots:",
        "      - p.csv: {x: step, y: loss}",
        "    desc: trains",
        "    frozen: true",
        "    always_changed: true",
        "    meta: {owner: me}",
      ].join("\n"),
      { "sub/params.yaml": PARAMS, "sub/other.yaml": "k: 1\n", "sub/all.json": "{}" },
    );
    const s = p.stages[0]!;
    assert.equal(s.name, "train");
    assert.equal(s.wdir, "sub");
    assert.deepEqual(
      s.deps.map((d) => d.path),
      ["sub/train.py", "data"],
    );
    assert.deepEqual(
      s.params.map((r) => [r.file, r.key]),
      [
        ["sub/params.yaml", "train.lr"],
        ["sub/other.yaml", "k"],
        ["sub/all.json", null],
      ],
    );
    assert.deepEqual(
      s.outs.map((o) => [o.path, o.kind, o.cache]),
      [
        ["sub/model.bin", "outs", true],
        ["sub/cache_off", "outs", false],
        ["sub/m.json", "metrics", false],
        ["sub/p.csv", "plots", true],
      ],
    );
    assert.deepEqual(s.outs[3]!.options, { x: "step", y: "loss" });
    assert.equal(s.desc, "trains");
    assert.equal(s.frozen, true);
    assert.equal(s.alwaysChanged, true);
    assert.deepEqual(s.meta, { owner: "me" });
  });

  it("accepts a list cmd and an empty file", () => {
    assert.deepEqual(parse("stages:\n  a:\n    cmd:\n      - echo 1\n      - echo 2\n").stages[0]!.cmd, [
      "echo 1",
      "echo 2",
    ]);
    assert.deepEqual(parse("").stages, []);
  });
});

describe("parsePipeline: foreach and matrix", () => {
  it("names list-of-scalars stages by value", () => {
    const p = parse(
      "stages:\n  build:\n    foreach: ${models}\n    do:\n      cmd: make ${item}\n      outs:\n        - out/${item}\n",
      {
        "params.yaml": PARAMS,
      },
    );
    assert.deepEqual(
      p.stages.map((s) => [s.name, s.cmd]),
      [
        ["build@cnn", "make cnn"],
        ["build@mlp", "make mlp"],
      ],
    );
  });

  it("names list-of-mappings stages by index", () => {
    const p = parse(
      "stages:\n  b:\n    foreach:\n      - {n: 1}\n      - {n: 2}\n    do:\n      cmd: run ${item.n}\n",
    );
    assert.deepEqual(
      p.stages.map((s) => [s.name, s.cmd]),
      [
        ["b@0", "run 1"],
        ["b@1", "run 2"],
      ],
    );
  });

  it("names mapping stages by key, with ${key} and ${item.x}", () => {
    const p = parse(
      "stages:\n  b:\n    foreach:\n      us: {r: 1}\n      uk: {r: 2}\n    do:\n      cmd: run ${key} ${item.r}\n",
    );
    assert.deepEqual(
      p.stages.map((s) => [s.name, s.cmd]),
      [
        ["b@us", "run us 1"],
        ["b@uk", "run uk 2"],
      ],
    );
  });

  it("names matrix stages like DVC (values joined by '-', composites by name+index)", () => {
    const p = parse(
      "stages:\n  m:\n    matrix:\n      os: [linux, mac]\n      cfg: [{a: 1}, {a: 2}]\n    cmd: t ${item.os} ${item.cfg.a} ${key}\n",
    );
    assert.deepEqual(
      p.stages.map((s) => [s.name, s.cmd]),
      [
        ["m@linux-cfg0", "t linux 1 linux-cfg0"],
        ["m@linux-cfg1", "t linux 2 linux-cfg1"],
        ["m@mac-cfg0", "t mac 1 mac-cfg0"],
        ["m@mac-cfg1", "t mac 2 mac-cfg1"],
      ],
    );
  });
});

describe("parsePipeline: errors name file, line and column", () => {
  const cases: Array<{
    name: string;
    text: string;
    code: Parameters<typeof throwsCode>[1];
    line: number;
    column: number;
    data?: Record<string, unknown>;
  }> = [
    {
      name: "YAML syntax",
      text: "stages:\n  a:\n    cmd: [x\n",
      code: "ERR_MTRACK_PIPELINE_INVALID",
      line: 4,
      column: 1,
    },
    {
      name: "unknown top-level key",
      text: "stage:\n  a: {cmd: x}\n",
      code: "ERR_MTRACK_PIPELINE_INVALID",
      line: 1,
      column: 1,
      data: { key: "stage", suggestion: "stages" },
    },
    {
      name: "unknown stage key",
      text: "stages:\n  a:\n    cmd: x\n    dep: [y]\n",
      code: "ERR_MTRACK_PIPELINE_INVALID",
      line: 4,
      column: 5,
      data: { key: "dep", suggestion: "deps" },
    },
    {
      name: "unknown out option",
      text: "stages:\n  a:\n    cmd: x\n    outs:\n      - o:\n          cahce: false\n",
      code: "ERR_MTRACK_PIPELINE_INVALID",
      line: 6,
      column: 11,
      data: { suggestion: "cache" },
    },
    {
      name: "wrong type",
      text: "stages:\n  a:\n    cmd: x\n    deps: y\n",
      code: "ERR_MTRACK_PIPELINE_INVALID",
      line: 4,
      column: 11,
    },
    {
      name: "wrong bool",
      text: "stages:\n  a:\n    cmd: x\n    frozen: yes-please\n",
      code: "ERR_MTRACK_PIPELINE_INVALID",
      line: 4,
      column: 13,
    },
    {
      name: "missing cmd",
      text: "stages:\n  a:\n    deps: [x]\n",
      code: "ERR_MTRACK_PIPELINE_INVALID",
      line: 3,
      column: 5,
    },
    {
      name: "missing param key",
      text: "stages:\n  a:\n    cmd: x\n    params:\n      - train.nope\n",
      code: "ERR_MTRACK_PARAM_MISSING",
      line: 5,
      column: 9,
      data: { key: "train.nope" },
    },
    {
      name: "missing params file",
      text: "stages:\n  a:\n    cmd: x\n    params:\n      - nope.yaml: [k]\n",
      code: "ERR_MTRACK_PARAM_MISSING",
      line: 5,
      column: 9,
    },
    {
      name: "bad interpolation",
      text: "stages:\n  a:\n    cmd: echo ${train..lr}\n",
      code: "ERR_MTRACK_INTERPOLATION",
      line: 3,
      column: 15,
    },
    {
      name: "missing interpolation key (quoted)",
      text: 'stages:\n  a:\n    cmd: "echo ${nope}"\n',
      code: "ERR_MTRACK_PARAM_MISSING",
      line: 3,
      column: 16,
    },
    {
      name: "foreach without do",
      text: "stages:\n  a:\n    foreach: [1]\n",
      code: "ERR_MTRACK_PIPELINE_INVALID",
      line: 2,
      column: 3,
    },
    {
      name: "foreach of a scalar",
      text: "stages:\n  a:\n    foreach: 3\n    do: {cmd: x}\n",
      code: "ERR_MTRACK_PIPELINE_INVALID",
      line: 3,
      column: 14,
    },
    {
      name: "invalid stage name",
      text: "stages:\n  a@b:\n    cmd: x\n",
      code: "ERR_MTRACK_PIPELINE_INVALID",
      line: 2,
      column: 3,
    },
    {
      name: "absolute path",
      text: "stages:\n  a:\n    cmd: x\n    deps: [/etc/passwd]\n",
      code: "ERR_MTRACK_PIPELINE_INVALID",
      line: 4,
      column: 12,
    },
    {
      name: "missing vars file",
      text: "vars:\n  - nope.yaml\nstages: {}\n",
      code: "ERR_MTRACK_PATH_NOT_FOUND",
      line: 2,
      column: 5,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const err = throwsCode(() => parse(c.text, { "params.yaml": PARAMS }), c.code);
      assertPos(err, c.line, c.column);
      for (const [k, v] of Object.entries(c.data ?? {})) assert.equal(err.data[k], v, k);
    });
  }

  it("uses the file name given by the caller", () => {
    const err = throwsCode(
      () => parsePipelineNamed("sub/pipeline.yaml", "stages:\n  a:\n    cmdd: x\n"),
      "ERR_MTRACK_PIPELINE_INVALID",
    );
    assertPos(err, 3, 5, "sub/pipeline.yaml");
  });

  it("allows a declared params file that a stage produces", () => {
    const p = parse(
      "stages:\n  gen:\n    cmd: x\n    outs: [gen.yaml]\n  use:\n    cmd: y\n    params:\n      - gen.yaml: [k]\n",
    );
    assert.equal(p.stages.length, 2);
  });
});

function parsePipelineNamed(file: string, text: string) {
  return parsePipeline({ text, file, readFile: () => undefined });
}

describe("parsePipeline: stage-level vars", () => {
  it("reads inline and file vars relative to wdir, visible only in that stage", () => {
    const p = parse(
      "stages:\n  a:\n    wdir: sub\n    vars:\n      - local.yaml\n      - extra: 2\n    cmd: t ${size} ${extra}\n  b:\n    cmd: u\n",
      { "sub/local.yaml": "size: 5\n" },
    );
    assert.equal(p.stages[0]!.cmd, "t 5 2");
    assert.deepEqual(
      p.stages[0]!.params.map((r) => [r.file, r.key, r.via]),
      [["sub/local.yaml", "size", "interpolated"]],
    );
    throwsCode(
      () => parse("stages:\n  a:\n    vars:\n      - x: 1\n    cmd: t\n  b:\n    cmd: u ${x}\n"),
      "ERR_MTRACK_PARAM_MISSING",
    );
  });
});

describe("parsePipeline: YAML features", () => {
  it("expands anchors and merge keys, explicit keys winning", () => {
    const p = parse(
      "stages:\n  a: &base\n    cmd: echo a\n    deps: [x]\n  b:\n    <<: *base\n    cmd: echo b\n",
    );
    assert.deepEqual(
      p.stages.map((s) => [s.name, s.cmd, s.deps.map((d) => d.path)]),
      [
        ["a", "echo a", ["x"]],
        ["b", "echo b", ["x"]],
      ],
    );
  });

  it("points inside block scalars exactly", () => {
    const err = throwsCode(
      () => parse("stages:\n  c:\n    cmd: |\n      echo 1\n      echo ${nope}\n"),
      "ERR_MTRACK_PARAM_MISSING",
    );
    assertPos(err, 5, 12);
  });
});
