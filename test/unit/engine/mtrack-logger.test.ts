import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { main as generateMain } from "../../../src/engine/cli/generate-data.js";
import { main as trainMain } from "../../../src/engine/cli/train.js";
import type { RunStatus } from "../../../src/engine/logger.js";
import { MODEL_FLAVOR, MtrackLogger, type TrackingRun } from "../../../src/engine/mtrack-logger.js";
import { readEventFile } from "../../../src/formats/tfevents.js";
import { initRepo } from "../../../src/repo.js";

/** A tracking run that records calls; `failOn` makes the named method throw. */
function fakeRun(failOn?: { method: string; key?: string }) {
  const calls: { method: string; args: unknown[] }[] = [];
  const record = (method: string, args: unknown[]) => {
    if (failOn?.method === method && (failOn.key === undefined || args[0] === failOn.key)) {
      throw new Error(`fake ${method} failure`);
    }
    calls.push({ method, args });
  };
  const run: TrackingRun & { calls: typeof calls; ended(): RunStatus[] } = {
    id: "0123456789abcdef0123456789abcdef",
    calls,
    ended: () => calls.filter((c) => c.method === "end").map((c) => c.args[0] as RunStatus),
    logParams: (params) => record("logParams", [params]),
    logMetric: (key, value, options) => record("logMetric", [key, value, options]),
    setTag: (key, value) => record("setTag", [key, value]),
    logText: (text, name, options) => record("logText", [text, name, options]),
    logArtifact: async (file, options) => record("logArtifact", [file, options]),
    logArtifacts: async (dir, options) => record("logArtifacts", [dir, options]),
    logModel: async (dir, options) => record("logModel", [dir, options]),
    end: async (status) => record("end", [status]),
  };
  return run;
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

function sink() {
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

test(
  "the logger forwards MLflow-side calls to the run and TensorBoard calls to the event file",
  withTmp(async (dir) => {
    const run = fakeRun();
    const tbDir = path.join(dir, "runs", "slug");
    const logger = new MtrackLogger({
      run,
      tensorboardDir: tbDir,
      eventFile: { clock: () => 1_700_000_000_000 },
    });
    logger.logParams({ lr: 0.003, problem_type: "spirals" });
    logger.logMetric("val_acc", 0.9, 3);
    logger.setTag("phase", "phase_2");
    logger.logText("seed_seed1_1_transitions.txt", "Epoch 1: unknown → dormant\n", true);
    logger.scalar("validation/accuracy", 0.9, 3);
    logger.text("seed/seed1_1/events", "Epoch 1: unknown → dormant", 1);
    logger.end("FINISHED");

    assert.deepEqual(run.calls, [
      { method: "logParams", args: [{ lr: 0.003, problem_type: "spirals" }] },
      { method: "logMetric", args: ["val_acc", 0.9, { step: 3 }] },
      { method: "setTag", args: ["phase", "phase_2"] },
      {
        method: "logText",
        args: ["Epoch 1: unknown → dormant\n", "seed_seed1_1_transitions.txt", { append: true }],
      },
    ]);
    assert.equal(path.dirname(logger.eventFile), tbDir);
    const events = readEventFile(fs.readFileSync(logger.eventFile));
    const values = events.flatMap((e) => (e.summary ?? []).map((v) => ({ step: e.step, ...v })));
    const acc = values.find((v) => v.tag === "validation/accuracy");
    assert.equal(acc?.step, 3);
    assert.ok(Math.abs((acc?.scalar ?? 0) - 0.9) < 1e-6);
    assert.equal(values.find((v) => v.tag === "seed/seed1_1/events")?.text, "Epoch 1: unknown → dormant");
  }),
);

test(
  "finish stores the results log, this run's event file and the model, then ends the run FINISHED",
  withTmp(async (dir) => {
    const run = fakeRun();
    const logger = new MtrackLogger({ run, tensorboardDir: path.join(dir, "runs", "s") });
    const resultsLog = path.join(dir, "results", "results_s.log");
    const modelDir = path.join(dir, "results", "model");
    fs.mkdirSync(modelDir, { recursive: true });
    fs.writeFileSync(resultsLog, "# log\n");
    fs.writeFileSync(path.join(modelDir, "model.json"), "{}");
    logger.end("FINISHED");
    const metadata = { input_dim: 3, classes: 2, params: { lr: 0.003 } };
    assert.equal(await logger.finish({ resultsLog, modelDir, modelMetadata: metadata }), "FINISHED");
    assert.equal(await logger.finish(), "FINISHED", "a second finish returns the first outcome");

    const byMethod = (m: string) => run.calls.filter((c) => c.method === m).map((c) => c.args);
    assert.deepEqual(byMethod("logArtifact"), [
      [resultsLog, undefined],
      [logger.eventFile, { as: `tensorboard/${path.basename(logger.eventFile)}` }],
    ]);
    assert.deepEqual(byMethod("logModel"), [[modelDir, { name: "model", flavor: MODEL_FLAVOR, metadata }]]);
    assert.deepEqual(run.ended(), ["FINISHED"]);
    assert.equal(run.calls.at(-1)?.method, "end", "the run ends after its artifacts are stored");
  }),
);

test(
  "a run that did not finish ends with its status even when artifacts are missing",
  withTmp(async (dir) => {
    const killed = fakeRun();
    const k = new MtrackLogger({ run: killed, tensorboardDir: path.join(dir, "runs", "k") });
    k.end("KILLED");
    assert.equal(
      await k.finish({ resultsLog: path.join(dir, "nope.log"), modelDir: path.join(dir, "nope") }),
      "KILLED",
    );
    assert.deepEqual(killed.ended(), ["KILLED"]);
    assert.equal(killed.calls.filter((c) => c.method === "logModel").length, 0);

    const silent = fakeRun();
    const s = new MtrackLogger({ run: silent, tensorboardDir: path.join(dir, "runs", "s") });
    assert.equal(await s.finish(), "FAILED", "no end reported means training never got there");
    assert.deepEqual(silent.ended(), ["FAILED"]);

    const late = fakeRun();
    const l = new MtrackLogger({ run: late, tensorboardDir: path.join(dir, "runs", "l") });
    l.end("FINISHED");
    assert.equal(
      await l.finish({}, "FAILED"),
      "FAILED",
      "the caller's outcome wins (e.g. writing results failed)",
    );
    assert.deepEqual(late.ended(), ["FAILED"]);
  }),
);

test(
  "a finished run whose artifacts cannot be stored ends FAILED and the error surfaces",
  withTmp(async (dir) => {
    const run = fakeRun({ method: "logArtifact" });
    const logger = new MtrackLogger({ run, tensorboardDir: path.join(dir, "runs", "x") });
    logger.end("FINISHED");
    await assert.rejects(logger.finish({}), /fake logArtifact failure/);
    assert.deepEqual(run.ended(), ["FAILED"]);

    const noModel = fakeRun();
    const m = new MtrackLogger({ run: noModel, tensorboardDir: path.join(dir, "runs", "m") });
    m.end("FINISHED");
    await assert.rejects(m.finish({ modelDir: path.join(dir, "missing") }), {
      code: "ERR_MTRACK_PATH_NOT_FOUND",
    });
    assert.deepEqual(noModel.ended(), ["FAILED"]);
  }),
);

test(
  "without a run only TensorBoard is written",
  withTmp(async (dir) => {
    const logger = new MtrackLogger({ tensorboardDir: path.join(dir, "runs", "t") });
    logger.logMetric("val_acc", 0.5, 1);
    logger.scalar("validation/loss", 0.7, 1);
    logger.end("FINISHED");
    assert.equal(await logger.finish({ resultsLog: path.join(dir, "x.log") }), "FINISHED");
    const tags = readEventFile(fs.readFileSync(logger.eventFile)).flatMap((e) =>
      (e.summary ?? []).map((v) => v.tag),
    );
    assert.deepEqual(tags, ["validation/loss"]);
  }),
);

/** A directory Repo.open accepts: `.git` (never read, the run is faked) plus `mtrack init`'s `.mtrack`. */
async function trackedProject(dir: string): Promise<void> {
  fs.mkdirSync(path.join(dir, ".git"));
  initRepo({ cwd: dir });
  const gen = ["--problem_type", "moons", "--n_samples", "80", "--input_dim", "2", "--output", "data/moons"];
  assert.equal(await generateMain(gen, { stdout: sink(), stderr: sink(), cwd: dir }), 0);
}

const TINY = [
  "--problem_type",
  "moons",
  "--n_samples",
  "80",
  "--input_dim",
  "2",
  "--hidden_dim",
  "4",
  "--num_layers",
  "1",
  "--batch_size",
  "40",
  "--warm_up_epochs",
  "2",
  "--adaptation_epochs",
  "1",
];

test(
  "train inside an mtrack repository logs a run named by the slug, with TensorBoard files and the model",
  withTmp(async (dir) => {
    await trackedProject(dir);
    const run = fakeRun();
    let opened: { experiment: string; name: string } | undefined;
    const out = sink();
    const err = sink();
    const code = await trainMain(TINY, {
      cwd: dir,
      stdout: out,
      stderr: err,
      openRun: async (_repo, options) => {
        opened = options;
        return run;
      },
    });
    assert.equal(code, 0, err.text);
    const slug = "moons_dim2_cpu_h4_bs30_lr0.001_pt0.6_dw0.12";
    assert.equal(opened?.experiment, "moons");
    assert.equal(opened?.name, slug);
    const params = run.calls.find((c) => c.method === "logParams")?.args[0] as Record<string, unknown>;
    assert.equal(Object.keys(params).length, 18);
    const metricKeys = new Set(run.calls.filter((c) => c.method === "logMetric").map((c) => c.args[0]));
    for (const k of [
      "train_loss",
      "val_loss",
      "val_acc",
      "best_acc",
      "final_best_acc",
      "total_seeds",
      "active_seeds",
    ]) {
      assert.ok(metricKeys.has(k), k);
    }
    const model = run.calls.find((c) => c.method === "logModel")?.args as [
      string,
      { metadata: Record<string, unknown> },
    ];
    assert.equal(model[0], path.join(dir, "results", "model"));
    assert.equal(model[1].metadata["input_dim"], 2);
    assert.equal(model[1].metadata["classes"], 2);
    const metadata = JSON.parse(fs.readFileSync(path.join(dir, "results", "model", "metadata.json"), "utf8"));
    assert.equal(metadata.input_dim, 2);
    assert.deepEqual(run.ended(), ["FINISHED"]);
    const tbFiles = fs.readdirSync(path.join(dir, "runs", slug));
    assert.equal(tbFiles.length, 1);
    assert.match(tbFiles[0] ?? "", /^events\.out\.tfevents\./);
    assert.match(out.text, new RegExp(`mtrack runs show ${run.id}`));
    assert.match(out.text, /tensorboard --logdir runs/);
  }),
);

test(
  "train ends the run KILLED with exit 130 on interrupt and FAILED with a non-zero exit on an error",
  withTmp(async (dir) => {
    await trackedProject(dir);
    const killed = fakeRun();
    const abort = new AbortController();
    abort.abort();
    const err = sink();
    const code = await trainMain(TINY, {
      cwd: dir,
      stdout: sink(),
      stderr: err,
      signal: abort.signal,
      openRun: async () => killed,
    });
    assert.equal(code, 130, err.text);
    assert.deepEqual(killed.ended(), ["KILLED"]);

    const failing = fakeRun({ method: "logMetric", key: "val_acc" });
    const code2 = await trainMain(TINY, {
      cwd: dir,
      stdout: sink(),
      stderr: sink(),
      openRun: async () => failing,
    });
    assert.notEqual(code2, 0);
    assert.deepEqual(failing.ended(), ["FAILED"]);

    // The event file cannot be created (runs_dir is a file): the already started run must not stay open.
    fs.writeFileSync(path.join(dir, "blocked"), "");
    const blocked = fakeRun();
    const code3 = await trainMain([...TINY, "--runs_dir", "blocked"], {
      cwd: dir,
      stdout: sink(),
      stderr: sink(),
      openRun: async () => blocked,
    });
    assert.notEqual(code3, 0);
    assert.deepEqual(blocked.ended(), ["FAILED"]);
  }),
);

test(
  "train outside an mtrack repository, or with --no-track, trains untracked and says so",
  withTmp(async (dir) => {
    const gen = [
      "--problem_type",
      "moons",
      "--n_samples",
      "80",
      "--input_dim",
      "2",
      "--output",
      "data/moons",
    ];
    assert.equal(await generateMain(gen, { stdout: sink(), stderr: sink(), cwd: dir }), 0);
    let asked = false;
    const openRun = async () => {
      asked = true;
      return fakeRun();
    };
    const err = sink();
    assert.equal(await trainMain(TINY, { cwd: dir, stdout: sink(), stderr: err, openRun }), 0, err.text);
    assert.match(err.text, /mtrack init/);
    assert.equal(asked, false);
    assert.ok(fs.readdirSync(path.join(dir, "runs")).length === 1, "TensorBoard files are written anyway");

    await trackedProject(dir);
    const err2 = sink();
    assert.equal(
      await trainMain([...TINY, "--no-track"], { cwd: dir, stdout: sink(), stderr: err2, openRun }),
      0,
    );
    assert.equal(asked, false);
    assert.match(err2.text, /--no-track/);
  }),
);
