import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DEFAULT_DATASET_CONFIG,
  DEFAULT_EXPERIMENT_CONFIG,
  EXPERIMENT_KEYS,
  experimentSlug,
  pyFloatStr,
  validateDatasetConfig,
  validateExperimentConfig,
} from "../../../src/engine/config.js";
import { isMtrackError } from "../../../src/errors.js";

test("the slug matches the original's examples", () => {
  const params = { ...DEFAULT_EXPERIMENT_CONFIG, lr: 0.001, num_layers: 3 };
  assert.equal(experimentSlug(params), "spirals_dim3_cpu_h128_bs30_lr0.001_pt0.6_dw0.12");
  assert.equal(
    experimentSlug({
      ...params,
      problem_type: "moons",
      device: "cuda",
      blend_steps: 50,
      shadow_lr: 0.01,
      progress_thresh: 0.8,
      drift_warn: 0.05,
    }),
    "moons_dim3_cuda_h128_bs50_lr0.01_pt0.8_dw0.05",
  );
});

test("pyFloatStr follows Python's str(float)", () => {
  const cases: [number, string][] = [
    [0.001, "0.001"],
    [1e-4, "0.0001"],
    [1e-5, "1e-05"],
    [1.5e-7, "1.5e-07"],
    [3, "3.0"],
    [0, "0.0"],
    [0.1 + 0.2, "0.30000000000000004"],
    [123456.789, "123456.789"],
    [1e15, "1000000000000000.0"],
    [1e16, "1e+16"],
    [-2.5, "-2.5"],
    [0.12, "0.12"],
  ];
  for (const [x, s] of cases) assert.equal(pyFloatStr(x), s, String(x));
});

test("the defaults are the run script's and there are 18 keys", () => {
  assert.equal(EXPERIMENT_KEYS.length, 18);
  assert.equal(DEFAULT_EXPERIMENT_CONFIG.warm_up_epochs, 50);
  assert.equal(DEFAULT_EXPERIMENT_CONFIG.lr, 3e-3);
  assert.equal(DEFAULT_EXPERIMENT_CONFIG.num_layers, 8);
  assert.equal(DEFAULT_DATASET_CONFIG.sphere_noise, 0.1);
  validateExperimentConfig({ ...DEFAULT_EXPERIMENT_CONFIG });
  validateDatasetConfig({ ...DEFAULT_DATASET_CONFIG });
});

test("bad run values fail with ERR_MTRACK_PARAMS_INVALID naming the key", () => {
  const bad: [string, unknown][] = [
    ["problem_type", "circles"],
    ["train_frac", 1],
    ["train_frac", 0],
    ["batch_size", 0],
    ["hidden_dim", 2.5],
    ["lr", -1],
    ["progress_thresh", 1],
    ["input_dim", 1],
    ["n_samples", 1],
    ["device", "tpu"],
    ["acc_threshold", 1.5],
  ];
  for (const [key, value] of bad) {
    assert.throws(
      () => validateExperimentConfig({ ...DEFAULT_EXPERIMENT_CONFIG, [key]: value }),
      (e) => isMtrackError(e, "ERR_MTRACK_PARAMS_INVALID") && e.data["key"] === key,
      key,
    );
  }
});

test("bad dataset values fail with ERR_MTRACK_DATASET_INVALID", () => {
  const cases = [
    { problem_type: "circles" },
    { n_samples: 1 },
    { input_dim: 1 },
    { problem_type: "spheres", sphere_radii: [1, 2, 3] },
    { sphere_radii: [1, -2] },
    { problem_type: "clusters", cluster_count: 5, n_samples: 4 },
  ];
  for (const patch of cases) {
    assert.throws(
      () => validateDatasetConfig({ ...DEFAULT_DATASET_CONFIG, ...patch } as typeof DEFAULT_DATASET_CONFIG),
      (e) => isMtrackError(e, "ERR_MTRACK_DATASET_INVALID"),
      JSON.stringify(patch),
    );
  }
});
