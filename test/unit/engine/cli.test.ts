import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { main as generateMain, npzPath } from "../../../src/engine/cli/generate-data.js";
import { main as trainMain } from "../../../src/engine/cli/train.js";
import { recordingLogger } from "../../../src/engine/logger.js";
import { decodeNpz } from "../../../src/formats/npz.js";

function capture() {
  let text = "";
  return {
    write: (s: string) => {
      text += s;
      return true;
    },
    get text() {
      return text;
    },
  };
}

function withTmp(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
    try {
      await fn(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  "generate-data says when the split drops points (spirals --n_samples 1001 has 1000 rows)",
  withTmp(async (dir) => {
    const err = capture();
    const argv = ["--problem_type", "spirals", "--n_samples", "1001", "--output", "data/s"];
    assert.equal(await generateMain(argv, { stdout: capture(), stderr: err, cwd: dir }), 0, err.text);
    assert.deepEqual(decodeNpz(fs.readFileSync(path.join(dir, "data/s.npz")))["X"]?.shape, [1000, 3]);
    assert.match(err.text, /1000 rows \(1 fewer\)/);
    const even = capture();
    argv[3] = "1000";
    assert.equal(await generateMain(argv, { stdout: capture(), stderr: even, cwd: dir }), 0);
    assert.equal(even.text, "");
    const help = capture();
    assert.equal(await generateMain(["--help"], { stdout: help, stderr: capture() }), 0);
    assert.match(help.text, /spirals, clusters and spheres round it down/);
  }),
);

test("npzPath replaces or adds the suffix like Path.with_suffix", () => {
  assert.equal(npzPath("data/spirals"), path.join("data", "spirals.npz"));
  assert.equal(npzPath("data/spirals.npz"), path.join("data", "spirals.npz"));
  assert.equal(npzPath("out.csv"), "out.npz");
});

test(
  "generate-data writes X float32 / y int64 and rejects bad values with exit 2 and no stack trace",
  withTmp(async (dir) => {
    const out = capture();
    const err = capture();
    assert.equal(
      await generateMain(
        [
          "--problem_type",
          "spheres",
          "--sphere_count",
          "3",
          "--sphere_radii",
          "1",
          "2",
          "3",
          "--n_samples",
          "90",
          "--output",
          "data/spheres",
        ],
        {
          stdout: out,
          stderr: err,
          cwd: dir,
        },
      ),
      0,
      err.text,
    );
    const arrays = decodeNpz(fs.readFileSync(path.join(dir, "data/spheres.npz")));
    assert.equal(arrays["X"]?.dtype, "<f4");
    assert.deepEqual(arrays["X"]?.shape, [90, 3]);
    assert.equal(arrays["y"]?.dtype, "<i8");
    assert.deepEqual(fs.readdirSync(path.join(dir, "data")), ["spheres.npz"], "no temp file left behind");

    const bad = [
      ["--problem_type", "circles", "--output", "x"],
      ["--problem_type", "spheres", "--sphere_radii", "1", "--output", "x"],
      ["--problem_type", "spirals", "--n_samples", "1", "--output", "x"],
      ["--problem_type", "spirals", "--n_samples", "abc", "--output", "x"],
      ["--problem_type", "spirals", "--input_dim", "1", "--output", "x"],
      ["--problem_type", "spirals"],
      ["--problem_type", "spirals", "--output", "x", "--nope", "1"],
    ];
    for (const argv of bad) {
      const e = capture();
      assert.equal(await generateMain(argv, { stdout: capture(), stderr: e, cwd: dir }), 2, argv.join(" "));
      assert.match(e.text, /^Error: /m);
      assert.doesNotMatch(e.text, /\n\s+at /, "no stack trace");
    }
    const help = capture();
    assert.equal(await generateMain(["--help"], { stdout: help, stderr: capture() }), 0);
    assert.match(help.text, /--problem_type/);
  }),
);

test(
  "train reads the npz, writes metrics.json without nulls and the results log, and reports errors",
  withTmp(async (dir) => {
    assert.equal(
      await generateMain(
        ["--problem_type", "moons", "--n_samples", "120", "--input_dim", "2", "--output", "data/moons"],
        {
          stdout: capture(),
          stderr: capture(),
          cwd: dir,
        },
      ),
      0,
    );
    const out = capture();
    const err = capture();
    const logger = recordingLogger();
    const argv = [
      "--problem_type",
      "moons",
      "--n_samples",
      "120",
      "--input_dim",
      "2",
      "--hidden_dim",
      "8",
      "--num_layers",
      "1",
    ];
    const code = await trainMain(
      [...argv, "--warm_up_epochs", "2", "--adaptation_epochs", "2", "--batch_size", "32"],
      {
        stdout: out,
        stderr: err,
        cwd: dir,
        logger,
      },
    );
    assert.equal(code, 0, err.text);
    const metrics = JSON.parse(fs.readFileSync(path.join(dir, "results/metrics.json"), "utf8"));
    assert.deepEqual(Object.keys(metrics).sort(), [
      "active_seeds",
      "best_acc",
      "seeds_activated",
      "total_seeds",
    ]);
    assert.ok(Object.values(metrics).every((v) => v !== null));
    const logName = "results_moons_dim2_cpu_h8_bs30_lr0.001_pt0.6_dw0.12.log";
    assert.ok(fs.existsSync(path.join(dir, "results", logName)));
    assert.match(out.text, /Best val accuracy: \d\.\d{4}/);
    assert.match(out.text, /Germinations: 0/);
    assert.deepEqual(logger.calls.at(-1), { kind: "end", status: "FINISHED" });

    for (const [bad, code] of [
      [["--problem_type", "moons", "--input_dim", "3"], 2], // data has 2 columns
      [["--problem_type", "spirals"], 2], // no data/spirals.npz
      [["--problem_type", "moons", "--input_dim", "2", "--train_frac", "1.5"], 2],
      [["--problem_type", "moons", "--input_dim", "2", "--lr", "fast"], 2],
    ] as const) {
      const e = capture();
      assert.equal(await trainMain(bad, { stdout: capture(), stderr: e, cwd: dir }), code, bad.join(" "));
      assert.match(e.text, /^Error: /m);
      assert.doesNotMatch(e.text, /\n\s+at /);
    }
  }),
);

test("the stage programs run as scripts with --help", () => {
  for (const name of ["train", "generate-data"]) {
    // From sources (tsx) the program is a .ts file; from the compiled tests it is dist/src/engine/cli/*.js.
    const ts = fileURLToPath(new URL(`../../../src/engine/cli/${name}.ts`, import.meta.url));
    const js = fileURLToPath(new URL(`../../../src/engine/cli/${name}.js`, import.meta.url));
    const args = fs.existsSync(ts) ? ["--import", "tsx", ts, "--help"] : [js, "--help"];
    const run = spawnSync(process.execPath, args, {
      encoding: "utf8",
      cwd: fileURLToPath(new URL("../../..", import.meta.url)),
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^Usage: /);
  }
});
