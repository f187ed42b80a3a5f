import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../src/engine/backend.js";
import {
  DEFAULT_DATASET_CONFIG,
  DEFAULT_EXPERIMENT_CONFIG,
  type ExperimentConfig,
} from "../../../src/engine/config.js";
import { generateDataset } from "../../../src/engine/datasets.js";
import { exportModel, loadModel } from "../../../src/engine/export.js";
import { type LoggerCall, recordingLogger } from "../../../src/engine/logger.js";
import { Rng } from "../../../src/engine/random.js";
import { formatResultsLog, metricsJson } from "../../../src/engine/results.js";
import {
  fitStandardScaler,
  learningRate,
  StepLr,
  splitIndices,
  standardScale,
  trainExperiment,
} from "../../../src/engine/train.js";
import { isMtrackError } from "../../../src/errors.js";

before(async () => {
  await initBackend();
});

const data = generateDataset({
  ...DEFAULT_DATASET_CONFIG,
  problem_type: "moons",
  n_samples: 160,
  input_dim: 2,
});

/** Tiny and quick, with acc_threshold 1 so the controller always germinates after the 15-epoch plateau. */
const tiny: ExperimentConfig = {
  ...DEFAULT_EXPERIMENT_CONFIG,
  problem_type: "moons",
  n_samples: 160,
  input_dim: 2,
  hidden_dim: 8,
  num_layers: 2,
  seeds_per_layer: 2,
  batch_size: 32,
  lr: 0.01,
  warm_up_epochs: 3,
  adaptation_epochs: 26,
  blend_steps: 4,
  progress_thresh: 0.2,
  acc_threshold: 1,
};

test("standardScale and splitIndices behave like StandardScaler and random_split", () => {
  assert.deepEqual([...standardScale(new Float32Array([1, 5, 3, 5]), 2, 2)], [-1, 0, 1, 0]);
  // The fitted scaler (saved with the model for serving); a constant column gets scale 1.
  assert.deepEqual(fitStandardScaler(new Float32Array([1, 5, 3, 5]), 2, 2), { mean: [2, 5], scale: [1, 1] });
  const { train, val } = splitIndices(10, 0.8, new Rng(1));
  assert.equal(train.length, 8);
  assert.equal(val.length, 2);
  assert.deepEqual(
    [...train, ...val].sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
});

test("StepLR lowers the learning rate by 10× every 20 epochs", () => {
  const opt = tf.train.adam(0.1);
  const s = new StepLr(opt, 0.1);
  for (let i = 0; i < 19; i++) s.step();
  assert.equal(learningRate(opt), 0.1);
  s.step();
  assert.ok(Math.abs(learningRate(opt) - 0.01) < 1e-12);
  opt.dispose();
});

test("a tiny run germinates, logs what EXPERIMENT.md §4 names, is deterministic and leaks no tensors", async () => {
  const baseline = tf.memory().numTensors;
  const perEpoch: number[] = [];
  const log = recordingLogger();
  const result = await trainExperiment({
    config: tiny,
    data,
    logger: log,
    onEpoch: () => perEpoch.push(tf.memory().numTensors),
  });
  assert.equal(tf.memory().numTensors, baseline, "everything is disposed after the run");
  // Phase 1: every epoch buffers exactly one tensor per seed per batch (4 train + 1 val), nothing else.
  assert.equal(perEpoch[1]! - perEpoch[0]!, 4 * 5);
  assert.equal(perEpoch[2]! - perEpoch[1]!, 4 * 5);

  assert.equal(result.germinations.length >= 1, true);
  assert.equal(
    result.germinations[0]?.epoch,
    tiny.warm_up_epochs + 16,
    "15 plateau epochs after the first phase-2 epoch",
  );
  assert.equal(result.seedsActivated, true);
  assert.ok(result.activeSeeds >= 1, "the germinated seed went all the way to active");
  assert.equal(result.totalSeeds, 4);
  assert.ok(
    result.recoveryTime === null || result.recoveryTime >= 1,
    "recovery is counted from the next epoch",
  );
  assert.equal(result.epochs.length, 29);

  const calls = log.calls;
  const of = <K extends LoggerCall["kind"]>(kind: K) =>
    calls.filter((c): c is Extract<LoggerCall, { kind: K }> => c.kind === kind);
  assert.equal(Object.keys(of("logParams")[0]!.params).length, 18);
  assert.deepEqual(
    of("setTag")
      .filter((c) => c.key === "phase")
      .map((c) => c.value),
    ["phase_1", "phase_2"],
  );
  assert.deepEqual(
    of("text")
      .filter((c) => c.tag === "phase/transitions")
      .map((c) => [c.text, c.step]),
    [
      ["Epoch 0: init → phase_1", 0],
      ["Epoch 3: phase_1 → phase_2", 3],
    ],
  );
  const valAccSteps = of("logMetric")
    .filter((c) => c.key === "val_acc")
    .map((c) => c.step);
  assert.deepEqual(
    valAccSteps,
    Array.from({ length: 29 }, (_, i) => i + 1),
  );
  const trainLossSteps = of("logMetric")
    .filter((c) => c.key === "train_loss")
    .map((c) => c.step);
  assert.ok(
    trainLossSteps.includes(3) && !trainLossSteps.includes(4),
    "no train_loss in phase 2 before an optimizer exists",
  );
  for (const tag of ["train/loss", "validation/loss", "validation/accuracy", "validation/best_acc"]) {
    assert.ok(
      of("scalar").some((c) => c.tag === tag),
      tag,
    );
  }
  const events = of("text").filter((c) => c.tag.endsWith("/events"));
  assert.deepEqual(
    events.filter((c) => c.step === 1).map((c) => [c.tag, c.text]),
    ["seed1_1", "seed1_2", "seed2_1", "seed2_2"].map((id) => [
      `seed/${id}/events`,
      "Epoch 1: unknown → dormant",
    ]),
  );
  const germinated = result.germinations[0]!.seedId;
  const transitions = of("logText").filter((c) => c.name === `seed_${germinated}_transitions.txt`);
  assert.ok(transitions.length >= 3 && transitions.every((c) => c.append), "transitions are appended");
  assert.ok(of("logMetric").some((c) => c.key === `seed/${germinated}/alpha`));
  assert.ok(of("scalar").some((c) => c.tag === `seed/${germinated}/alpha`));
  for (const key of ["final_best_acc", "total_seeds", "active_seeds"]) {
    assert.ok(
      of("logMetric").some((c) => c.key === key),
      key,
    );
  }
  assert.deepEqual(
    of("setTag")
      .filter((c) => c.key === "seeds_activated")
      .at(-1)?.value,
    "True",
  );
  assert.deepEqual(of("end"), [{ kind: "end", status: "FINISHED" }]);

  const metrics = metricsJson(result);
  assert.equal(metrics["best_acc"], result.bestAcc);
  assert.equal(metrics["total_seeds"], 4);
  assert.ok(Object.values(metrics).every((v) => v !== null));
  const text = formatResultsLog(result);
  assert.ok(text.startsWith("# Morphogenetic Architecture Experiment Log"));
  assert.ok(text.includes("\n1,seed1_1,dormant,0.000\n"));
  assert.ok(text.trimEnd().endsWith("# ===== LOG COMPLETE ====="));

  const again = await trainExperiment({ config: tiny, data });
  assert.deepEqual(
    again.epochs.map((e) => [e.valLoss, e.valAcc, e.trainLoss]),
    result.epochs.map((e) => [e.valLoss, e.valAcc, e.trainLoss]),
  );
  assert.deepEqual(again.germinations, result.germinations);
});

test("an aborted run ends KILLED with ERR_MTRACK_INTERRUPTED; bad input ends FAILED", async () => {
  const baseline = tf.memory().numTensors;
  const controller = new AbortController();
  // Abort mid-run (after epoch 2) to check that an interrupted run frees everything too.
  const onEpoch = (e: { epoch: number }) => {
    if (e.epoch === 2) controller.abort();
  };
  const log = recordingLogger();
  await assert.rejects(
    trainExperiment({ config: tiny, data, logger: log, signal: controller.signal, onEpoch }),
    (e) => isMtrackError(e, "ERR_MTRACK_INTERRUPTED"),
  );
  assert.equal(tf.memory().numTensors, baseline, "an interrupted run frees its tensors");
  assert.deepEqual(log.calls.at(-1), { kind: "end", status: "KILLED" });
  const log2 = recordingLogger();
  await assert.rejects(trainExperiment({ config: { ...tiny, input_dim: 3 }, data, logger: log2 }), (e) =>
    isMtrackError(e, "ERR_MTRACK_DATASET_INVALID"),
  );
  assert.deepEqual(log2.calls.at(-1), { kind: "end", status: "FAILED" });
  await assert.rejects(trainExperiment({ config: { ...tiny, lr: 0 }, data }), (e) =>
    isMtrackError(e, "ERR_MTRACK_PARAMS_INVALID"),
  );
});

test("a trained model exports to model.json + weights.bin and loads back with identical outputs", async () => {
  const x = tf.tensor2d([0.1, -0.3, 1.2, 0.4, -1, 2], [3, 2]);
  let expected: number[] = [];
  let artifact: ReturnType<typeof exportModel> | undefined;
  await trainExperiment({
    config: { ...tiny, warm_up_epochs: 1, adaptation_epochs: 0 },
    data,
    onTrained: (model) => {
      model.allSeeds[1]!.initializeChild(); // a germinated seed's child is stored too
      model.allSeeds[1]!.setState("active");
      expected = [...tf.tidy(() => model.forward(x)).dataSync()];
      artifact = exportModel(model, { lr: tiny.lr });
    },
  });
  assert.ok(artifact);
  const json = JSON.parse(JSON.stringify(artifact.modelJson));
  assert.equal(json.architecture.input_dim, 2);
  const loaded = loadModel(json, artifact.weights);
  const logits = tf.tidy(() => loaded.forward(x));
  for (const [i, v] of [...logits.dataSync()].entries()) assert.ok(Math.abs(v - expected[i]!) < 1e-6);
  assert.throws(
    () => loadModel(json, artifact!.weights.subarray(4)),
    (e) => isMtrackError(e, "ERR_MTRACK_FORMAT_INVALID"),
  );
  loaded.dispose();
  tf.dispose([x, logits]);
});
