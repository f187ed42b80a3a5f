/**
 * The experiment's configuration: the 18 run keys (what params.yaml holds and what a run logs), the
 * dataset flags, their defaults (EXPERIMENT.md §4), validation, and the run slug.
 */
import { MtrackError } from "../errors.js";

/** The five synthetic problems. */
export const PROBLEM_TYPES = ["spirals", "moons", "clusters", "spheres", "complex_moons"] as const;
export type ProblemType = (typeof PROBLEM_TYPES)[number];

/** Requested compute device; TF.js here always runs on the CPU (wasm or tfjs-node). */
export const DEVICES = ["cpu", "cuda"] as const;
export type Device = (typeof DEVICES)[number];

/**
 * The 18 keys of a training run. Names are snake_case on purpose: they are the params.yaml keys, the CLI
 * flags and the logged parameter names, so one spelling is used everywhere.
 */
export interface ExperimentConfig {
  problem_type: ProblemType;
  n_samples: number;
  input_dim: number;
  train_frac: number;
  batch_size: number;
  device: Device;
  seed: number;
  warm_up_epochs: number;
  adaptation_epochs: number;
  lr: number;
  hidden_dim: number;
  num_layers: number;
  seeds_per_layer: number;
  blend_steps: number;
  shadow_lr: number;
  progress_thresh: number;
  drift_warn: number;
  acc_threshold: number;
}

/** The logged order of the 18 keys (the order MLflow's `log_params(config)` used). */
export const EXPERIMENT_KEYS: readonly (keyof ExperimentConfig)[] = [
  "problem_type",
  "n_samples",
  "input_dim",
  "train_frac",
  "batch_size",
  "device",
  "seed",
  "warm_up_epochs",
  "adaptation_epochs",
  "lr",
  "hidden_dim",
  "num_layers",
  "seeds_per_layer",
  "blend_steps",
  "shadow_lr",
  "progress_thresh",
  "drift_warn",
  "acc_threshold",
];

/** The run script's argparse defaults (EXPERIMENT.md §4, runner table). */
export const DEFAULT_EXPERIMENT_CONFIG: Readonly<ExperimentConfig> = Object.freeze({
  problem_type: "spirals",
  n_samples: 2000,
  input_dim: 3,
  train_frac: 0.8,
  batch_size: 64,
  device: "cpu",
  seed: 42,
  warm_up_epochs: 50,
  adaptation_epochs: 200,
  lr: 3e-3,
  hidden_dim: 128,
  num_layers: 8,
  seeds_per_layer: 1,
  blend_steps: 30,
  shadow_lr: 1e-3,
  progress_thresh: 0.6,
  drift_warn: 0.12,
  acc_threshold: 0.95,
});

/** Everything a dataset generator needs. `seed` seeds our PRNG (the original always used 42). */
export interface DatasetConfig {
  problem_type: ProblemType;
  n_samples: number;
  input_dim: number;
  seed: number;
  noise: number;
  rotations: number;
  moon_noise: number;
  moon_sep: number;
  cluster_count: number;
  cluster_std: number;
  cluster_sep: number;
  sphere_count: number;
  sphere_radii: number[];
  sphere_noise: number;
}

/** `generate_data`'s defaults (note sphere_noise 0.1 there; the run script's was 0.05). */
export const DEFAULT_DATASET_CONFIG: Readonly<DatasetConfig> = Object.freeze({
  problem_type: "spirals",
  n_samples: 2000,
  input_dim: 3,
  seed: 42,
  noise: 0.25,
  rotations: 4,
  moon_noise: 0.1,
  moon_sep: 0.5,
  cluster_count: 2,
  cluster_std: 0.5,
  cluster_sep: 3.0,
  sphere_count: 2,
  sphere_radii: [1.0, 2.0],
  sphere_noise: 0.1,
});

type Check = [ok: boolean, key: string, value: unknown, requirement: string];

function firstFailure(checks: readonly Check[]): Check | undefined {
  return checks.find(([ok]) => !ok);
}

const isInt = (v: number) => Number.isSafeInteger(v);
const isFiniteNum = (v: number) => typeof v === "number" && Number.isFinite(v);

/** True when `value` is one of the problem types. */
export function isProblemType(value: unknown): value is ProblemType {
  return typeof value === "string" && (PROBLEM_TYPES as readonly string[]).includes(value);
}

/**
 * Checks a dataset configuration; throws ERR_MTRACK_DATASET_INVALID naming the key.
 *
 * @example
 * validateDatasetConfig({ ...DEFAULT_DATASET_CONFIG, problem_type: "spheres", sphere_radii: [1] }) // throws: 1 radius for 2 spheres
 */
export function validateDatasetConfig(c: DatasetConfig): void {
  const fail = firstFailure([
    [isProblemType(c.problem_type), "problem_type", c.problem_type, `one of ${PROBLEM_TYPES.join(", ")}`],
    [isInt(c.n_samples) && c.n_samples >= 2, "n_samples", c.n_samples, "an integer >= 2"],
    [isInt(c.input_dim) && c.input_dim >= 2, "input_dim", c.input_dim, "an integer >= 2"],
    [isInt(c.seed) && c.seed >= 0, "seed", c.seed, "a non-negative integer"],
    [isFiniteNum(c.noise) && c.noise >= 0, "noise", c.noise, "a number >= 0"],
    [isFiniteNum(c.rotations) && c.rotations > 0, "rotations", c.rotations, "a number > 0"],
    [isFiniteNum(c.moon_noise) && c.moon_noise >= 0, "moon_noise", c.moon_noise, "a number >= 0"],
    [isFiniteNum(c.moon_sep), "moon_sep", c.moon_sep, "a finite number"],
    [isInt(c.cluster_count) && c.cluster_count >= 1, "cluster_count", c.cluster_count, "an integer >= 1"],
    [isFiniteNum(c.cluster_std) && c.cluster_std >= 0, "cluster_std", c.cluster_std, "a number >= 0"],
    [isFiniteNum(c.cluster_sep), "cluster_sep", c.cluster_sep, "a finite number"],
    [isInt(c.sphere_count) && c.sphere_count >= 1, "sphere_count", c.sphere_count, "an integer >= 1"],
    [isFiniteNum(c.sphere_noise) && c.sphere_noise >= 0, "sphere_noise", c.sphere_noise, "a number >= 0"],
    [
      Array.isArray(c.sphere_radii) && c.sphere_radii.every((r) => isFiniteNum(r) && r > 0),
      "sphere_radii",
      c.sphere_radii,
      "a list of numbers > 0",
    ],
  ]);
  if (fail) {
    const [, key, value, requirement] = fail;
    throw new MtrackError(
      "ERR_MTRACK_DATASET_INVALID",
      `${key} must be ${requirement}, got ${JSON.stringify(value)}`,
      {
        data: { key, value },
        hint: `Fix ${key} in params.yaml or pass a valid --${key}.`,
      },
    );
  }
  if (c.problem_type === "spheres" && c.sphere_radii.length !== c.sphere_count) {
    throw new MtrackError(
      "ERR_MTRACK_DATASET_INVALID",
      `Number of radii (${c.sphere_radii.length}) must match sphere_count (${c.sphere_count})`,
      {
        data: { key: "sphere_radii", radii: c.sphere_radii, sphere_count: c.sphere_count },
        hint: "Give exactly one radius per sphere, e.g. --sphere_count 3 --sphere_radii 1 2 3.",
      },
    );
  }
  const groups =
    c.problem_type === "clusters" ? c.cluster_count : c.problem_type === "spheres" ? c.sphere_count : 0;
  if (groups > 0 && Math.floor(c.n_samples / groups) < 1) {
    throw new MtrackError(
      "ERR_MTRACK_DATASET_INVALID",
      `n_samples (${c.n_samples}) is smaller than the ${groups} groups`,
      {
        data: { key: "n_samples", value: c.n_samples, groups },
        hint: "Each cluster/sphere gets n_samples // count points; raise n_samples or lower the count.",
      },
    );
  }
}

/**
 * Checks a run configuration; throws ERR_MTRACK_PARAMS_INVALID naming the key.
 *
 * @example
 * validateExperimentConfig({ ...DEFAULT_EXPERIMENT_CONFIG, train_frac: 1.5 }) // throws
 */
export function validateExperimentConfig(c: ExperimentConfig): void {
  const fail = firstFailure([
    [isProblemType(c.problem_type), "problem_type", c.problem_type, `one of ${PROBLEM_TYPES.join(", ")}`],
    [isInt(c.n_samples) && c.n_samples >= 2, "n_samples", c.n_samples, "an integer >= 2"],
    [isInt(c.input_dim) && c.input_dim >= 2, "input_dim", c.input_dim, "an integer >= 2"],
    [
      isFiniteNum(c.train_frac) && c.train_frac > 0 && c.train_frac < 1,
      "train_frac",
      c.train_frac,
      "a number in (0, 1)",
    ],
    [isInt(c.batch_size) && c.batch_size >= 1, "batch_size", c.batch_size, "an integer >= 1"],
    [(DEVICES as readonly string[]).includes(c.device), "device", c.device, `one of ${DEVICES.join(", ")}`],
    [isInt(c.seed) && c.seed >= 0, "seed", c.seed, "a non-negative integer"],
    [isInt(c.warm_up_epochs) && c.warm_up_epochs >= 0, "warm_up_epochs", c.warm_up_epochs, "an integer >= 0"],
    [
      isInt(c.adaptation_epochs) && c.adaptation_epochs >= 0,
      "adaptation_epochs",
      c.adaptation_epochs,
      "an integer >= 0",
    ],
    [isFiniteNum(c.lr) && c.lr > 0, "lr", c.lr, "a number > 0"],
    [isInt(c.hidden_dim) && c.hidden_dim >= 1, "hidden_dim", c.hidden_dim, "an integer >= 1"],
    [isInt(c.num_layers) && c.num_layers >= 1, "num_layers", c.num_layers, "an integer >= 1"],
    [
      isInt(c.seeds_per_layer) && c.seeds_per_layer >= 1,
      "seeds_per_layer",
      c.seeds_per_layer,
      "an integer >= 1",
    ],
    [isInt(c.blend_steps) && c.blend_steps >= 1, "blend_steps", c.blend_steps, "an integer >= 1"],
    [isFiniteNum(c.shadow_lr) && c.shadow_lr > 0, "shadow_lr", c.shadow_lr, "a number > 0"],
    [
      isFiniteNum(c.progress_thresh) && c.progress_thresh > 0 && c.progress_thresh < 1,
      "progress_thresh",
      c.progress_thresh,
      "a number in (0, 1)",
    ],
    [
      isFiniteNum(c.drift_warn) && c.drift_warn >= 0,
      "drift_warn",
      c.drift_warn,
      "a number >= 0 (0 disables)",
    ],
    [
      isFiniteNum(c.acc_threshold) && c.acc_threshold >= 0 && c.acc_threshold <= 1,
      "acc_threshold",
      c.acc_threshold,
      "a number in [0, 1]",
    ],
  ]);
  if (fail) {
    const [, key, value, requirement] = fail;
    throw new MtrackError(
      "ERR_MTRACK_PARAMS_INVALID",
      `${key} must be ${requirement}, got ${JSON.stringify(value)}`,
      {
        data: { key, value },
        hint: `Fix ${key} in params.yaml or pass a valid --${key}.`,
      },
    );
  }
}

/**
 * Python's `str(float)`: shortest round-trip digits, `.0` on integral values, exponent form below 1e-4
 * and from 1e16 (`1e-05`, `1e+16`).
 *
 * @example
 * pyFloatStr(0.001) // "0.001"; pyFloatStr(1e-5) // "1e-05"; pyFloatStr(3) // "3.0"
 */
export function pyFloatStr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant = "", expText = "0"] = x.toExponential().split("e");
  const exp = Number(expText);
  const negative = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  const sign = negative ? "-" : "";
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = `${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
    return `${sign}${m}e${e}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac === "" ? "0" : frac}`;
}

/**
 * The run's slug, as the original names its log file, TensorBoard folder and run:
 * `{problem}_dim{input_dim}_{device}_h{hidden}_bs{blend_steps}_lr{shadow_lr}_pt{progress_thresh}_dw{drift_warn}`.
 *
 * @example
 * experimentSlug({ ...DEFAULT_EXPERIMENT_CONFIG }) // "spirals_dim3_cpu_h128_bs30_lr0.001_pt0.6_dw0.12"
 */
export function experimentSlug(c: ExperimentConfig): string {
  return (
    `${c.problem_type}_dim${c.input_dim}_${c.device}_h${c.hidden_dim}_bs${c.blend_steps}` +
    `_lr${pyFloatStr(c.shadow_lr)}_pt${pyFloatStr(c.progress_thresh)}_dw${pyFloatStr(c.drift_warn)}`
  );
}
