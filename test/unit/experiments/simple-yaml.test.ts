/**
 * parseSimple, the fast path of `exp show`: where it answers, its answer is the full parser's
 * (parseParamsText, the `yaml` package); everything outside its subset is left to that parser.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseSimple } from "../../../src/experiments/simple-yaml.js";
import { parseParamsText } from "../../../src/pipeline/params.js";

const full = (text: string) => {
  try {
    return parseParamsText(text, "params.yaml");
  } catch {
    return "error";
  }
};

test("the subset it reads gives what the yaml package gives", () => {
  const texts = [
    "lr: 0.1\nepochs: 3\n",
    "train:\n  lr: 1e-3\n  opt: adam\n  nested:\n    deep: -2\n  after: true\nseed: 42\n",
    "# comment\na: 1 # trailing\nb: null\nc: ~\nd: False\ne:\nf: 2.50\ng: 1E5\nh: path/to/file.csv\n",
    "a:\n  b:\n    c: 1\nd: 2\n",
    "a:\nb: 1\n",
    "a: # only a comment\n  b: 1\n",
    "",
    "# nothing\n",
    "x: -0.0\ny: 0\nz: 9007199254740991\n",
    '{"acc": 0.9, "loss": {"train": 1e-2, "val": null}, "names": ["a", "b"], "ok": true}',
    '  {"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}\n',
  ];
  for (const t of texts) {
    const simple = parseSimple(t);
    assert.notEqual(simple, undefined, `should read: ${JSON.stringify(t)}`);
    assert.deepEqual(simple, full(t), JSON.stringify(t));
  }
});

test("anything outside the subset is left to the full parser", () => {
  const texts = [
    "lr: '0.1'\n",
    'lr: "0.1"\n',
    "a: [1, 2]\n",
    "a: {b: 1}\n",
    "a:\n  - 1\n  - 2\n",
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "a: |\n  text\n",
    "a:\tb\n",
    "a: 1\na: 2\n",
    "a: +1\n",
    "a: 007\n",
    "a: 0x1f\n",
    "a: .inf\n",
    "a: .5\n",
    "a: 1_000\n",
    "a: two words\n",
    "a:b\n",
    "  a: 1\n",
    "a:\n    b: 1\n  c: 2\n",
    "true: 1\n",
    "---\na: 1\n",
    "a: x#y\n",
    "a: 99999999999999999999\n",
    '{"a": 1, "a": 2}',
    "[1, 2]",
    "a: 1\r\n",
  ];
  for (const t of texts) assert.equal(parseSimple(t), undefined, JSON.stringify(t));
});

test("random block mappings: the same values as the yaml package", () => {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const scalars = [
    "0",
    "1",
    "-3",
    "0.25",
    "1e-4",
    "2.5E3",
    "true",
    "False",
    "null",
    "~",
    "adam",
    "a/b.c",
    "x_y-z",
  ];
  for (let i = 0; i < 300; i++) {
    const lines: string[] = [];
    const walk = (indent: number, depth: number) => {
      const n = 1 + rnd(4);
      for (let k = 0; k < n; k++) {
        const key = `k${k}`;
        if (depth < 3 && rnd(3) === 0) {
          lines.push(`${" ".repeat(indent)}${key}:`);
          walk(indent + 2, depth + 1);
        } else lines.push(`${" ".repeat(indent)}${key}: ${scalars[rnd(scalars.length)]}`);
      }
    };
    walk(0, 0);
    const t = `${lines.join("\n")}\n`;
    assert.deepEqual(parseSimple(t), full(t), t);
  }
});
