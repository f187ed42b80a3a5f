/**
 * Stage program `train`: reads `data/<problem_type>.npz`, trains the morphogenetic network, writes
 * `results/metrics.json` and `results/results_<slug>.log`, and prints a short summary. Flags are the
 * seed's run-script flags (the 18 run keys; dataset flags are accepted for compatibility).
 *
 *   node dist/src/engine/cli/train.js --problem_type spirals --warm_up_epochs 40 --adaptation_epochs 60 ...
 */
import fs from "node:fs";
import path from "node:path";
import { errnoCode, ioError, MtrackError } from "../../errors.js";
import { decodeNpz } from "../../formats/npz.js";
import {
  DEFAULT_EXPERIMENT_CONFIG,
  DEVICES,
  EXPERIMENT_KEYS,
  type ExperimentConfig,
  PROBLEM_TYPES,
} from "../config.js";
import { datasetFromArrays } from "../datasets.js";
import { exportModel, type ModelArtifact } from "../export.js";
import type { TrainingLogger } from "../logger.js";
import { formatResultsLog, metricsJson } from "../results.js";
import { type TrainResult, trainExperiment } from "../train.js";
import {
  type FlagSpec,
  helpText,
  isEntryPoint,
  parseFlags,
  reportError,
  type Writer,
  writeFileAtomic,
} from "./args.js";

const C = DEFAULT_EXPERIMENT_CONFIG;

/** The run script's flags: the 18 run keys, our paths, and the dataset flags it also accepted. */
export const TRAIN_FLAGS: readonly FlagSpec[] = [
  {
    name: "problem_type",
    kind: "string",
    choices: PROBLEM_TYPES,
    default: C.problem_type,
    help: "Dataset problem; picks data/<problem_type>.npz.",
  },
  {
    name: "n_samples",
    kind: "int",
    default: C.n_samples,
    help: "Dataset size (logged; the data file decides).",
  },
  {
    name: "input_dim",
    kind: "int",
    default: C.input_dim,
    help: "Number of input features; must match the data.",
  },
  {
    name: "train_frac",
    kind: "float",
    default: C.train_frac,
    help: "Fraction of rows used for training, in (0, 1).",
  },
  {
    name: "batch_size",
    kind: "int",
    default: C.batch_size,
    help: "Training batch size (validation uses twice this).",
  },
  {
    name: "device",
    kind: "string",
    choices: DEVICES,
    default: C.device,
    help: "Requested device (TF.js runs on the CPU).",
  },
  { name: "seed", kind: "int", default: C.seed, help: "Seed for the split, shuffling and weight init." },
  { name: "warm_up_epochs", kind: "int", default: C.warm_up_epochs, help: "Phase 1 epochs (plain network)." },
  {
    name: "adaptation_epochs",
    kind: "int",
    default: C.adaptation_epochs,
    help: "Phase 2 epochs (frozen backbone, seeds).",
  },
  { name: "lr", kind: "float", default: C.lr, help: "Adam learning rate (phase 2 uses lr*0.1)." },
  { name: "hidden_dim", kind: "int", default: C.hidden_dim, help: "Hidden layer width." },
  { name: "num_layers", kind: "int", default: C.num_layers, help: "Number of hidden layers." },
  {
    name: "seeds_per_layer",
    kind: "int",
    default: C.seeds_per_layer,
    help: "Sentinel seeds after each hidden layer.",
  },
  { name: "blend_steps", kind: "int", default: C.blend_steps, help: "Batches to blend a seed in." },
  {
    name: "shadow_lr",
    kind: "float",
    default: C.shadow_lr,
    help: "Learning rate of a seed's own autoencoder training.",
  },
  {
    name: "progress_thresh",
    kind: "float",
    default: C.progress_thresh,
    help: "Training progress after which a seed blends, in (0, 1).",
  },
  { name: "drift_warn", kind: "float", default: C.drift_warn, help: "Drift warning threshold (0 disables)." },
  {
    name: "acc_threshold",
    kind: "float",
    default: C.acc_threshold,
    help: "Germinate only while val accuracy is below this.",
  },
  { name: "data", kind: "string", optional: true, help: "Dataset .npz (default: data/<problem_type>.npz)." },
  {
    name: "results_dir",
    kind: "string",
    default: "results",
    help: "Where metrics.json and the results log go.",
  },
  ...(
    [
      ["noise", "float", 0.25],
      ["rotations", "float", 4],
      ["moon_noise", "float", 0.1],
      ["moon_sep", "float", 0.5],
      ["cluster_count", "int", 2],
      ["cluster_size", "int", 500],
      ["cluster_std", "float", 0.5],
      ["cluster_sep", "float", 3.0],
      ["sphere_count", "int", 2],
      ["sphere_size", "int", 500],
      ["sphere_noise", "float", 0.05],
    ] as const
  ).map(
    ([name, kind, def]): FlagSpec => ({
      name,
      kind,
      default: def,
      help: "Accepted for compatibility; the data comes from --data.",
    }),
  ),
  {
    name: "sphere_radii",
    kind: "floatList",
    default: [1, 2],
    help: "Accepted for compatibility; the data comes from --data.",
  },
];

/** Options of {@link main}. */
export interface TrainIo {
  /** Tracking/TensorBoard sink; default: none. */
  logger?: TrainingLogger;
  stdout?: Writer;
  stderr?: Writer;
  cwd?: string;
  /** Aborts the run (KILLED); by default Ctrl-C does. */
  signal?: AbortSignal;
}

/** Builds the run configuration from parsed flag values. */
export function configFromFlags(values: Record<string, unknown>): ExperimentConfig {
  const config = { ...C } as ExperimentConfig;
  for (const key of EXPERIMENT_KEYS) {
    if (values[key] !== undefined) (config as unknown as Record<string, unknown>)[key] = values[key];
  }
  return config;
}

function readDataset(file: string) {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") {
      throw new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", `dataset ${file} does not exist`, {
        data: { path: file },
        hint: "Generate it first (mtrack repro generate_data, or the generate-data program), or pass --data.",
      });
    }
    throw ioError(err, `reading ${file}`);
  }
  return datasetFromArrays(decodeNpz(bytes), file);
}

function summary(result: TrainResult, metricsFile: string, logFile: string, modelDir: string): string {
  const g = result.germinations;
  const lines = [
    `Best val accuracy: ${result.bestAcc.toFixed(4)} (final ${result.finalValAcc.toFixed(4)})`,
    `Germinations: ${g.length}${g.length ? ` (${g.map((x) => `${x.seedId} at epoch ${x.epoch}`).join(", ")})` : ""}; active seeds ${result.activeSeeds}/${result.totalSeeds}`,
  ];
  if (result.accuracyDip !== null)
    lines.push(`Accuracy dip after germination: ${result.accuracyDip.toFixed(4)}`);
  if (result.recoveryTime !== null) lines.push(`Recovery time: ${result.recoveryTime} epoch(s)`);
  lines.push(
    `Time: ${((result.endedAt - result.startedAt) / 1000).toFixed(1)} s on the ${result.backend} backend`,
    `Metrics: ${metricsFile}`,
    `Log:     ${logFile}`,
    `Model:   ${modelDir}/model.json (+ weights.bin)`,
  );
  return `${lines.join("\n")}\n`;
}

/**
 * Runs the program; returns the exit code (0 ok, 2 bad arguments/data, 130 interrupted, 1 unexpected).
 *
 * @example
 * await main(["--problem_type", "moons", "--warm_up_epochs", "2"], { cwd: dir, logger }) // 0
 */
export async function main(argv: readonly string[], io: TrainIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const cwd = io.cwd ?? process.cwd();
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  if (!io.signal) process.once("SIGINT", onSigint);
  try {
    const { help, values } = parseFlags(argv, TRAIN_FLAGS);
    if (help) {
      stdout.write(
        helpText(
          "train [flags]",
          "Trains the morphogenetic network on data/<problem_type>.npz and writes results/metrics.json and\nresults/results_<slug>.log and the trained model under results/model/.",
          TRAIN_FLAGS,
          [
            "train --problem_type spirals --n_samples 2000 --input_dim 3 --hidden_dim 128 --batch_size 64 --lr 0.001 \\\n    --warm_up_epochs 40 --adaptation_epochs 60 --num_layers 3 --seeds_per_layer 2",
            "train --problem_type moons --data data/moons.npz --results_dir results",
          ],
        ),
      );
      return 0;
    }
    const config = configFromFlags(values);
    const dataPath = path.resolve(
      cwd,
      typeof values["data"] === "string" ? values["data"] : `data/${config.problem_type}.npz`,
    );
    const data = readDataset(dataPath);
    const total = config.warm_up_epochs + config.adaptation_epochs;
    let artifact: ModelArtifact | undefined;
    const result = await trainExperiment({
      config,
      data,
      logger: io.logger,
      signal: io.signal ?? abort.signal,
      onTrained: (model) => {
        artifact = exportModel(model, { ...config });
      },
      onEpoch: (e) => {
        if (e.epoch % 10 === 0 || e.germinated || e.epoch === total) {
          stderr.write(
            `epoch ${e.epoch}/${total} phase ${e.phase}  train_loss ${e.trainLoss.toFixed(4)}  val_loss ${e.valLoss.toFixed(4)}  val_acc ${e.valAcc.toFixed(4)}${e.germinated ? "  (germination)" : ""}\n`,
          );
        }
      },
    });
    const resultsDir = path.resolve(cwd, String(values["results_dir"]));
    const metricsFile = path.join(resultsDir, "metrics.json");
    const logFile = path.join(resultsDir, `results_${result.slug}.log`);
    try {
      writeFileAtomic(metricsFile, `${JSON.stringify(metricsJson(result), null, 2)}\n`);
      writeFileAtomic(logFile, formatResultsLog(result, { dataPath: path.relative(cwd, dataPath) }));
      if (artifact) {
        writeFileAtomic(path.join(resultsDir, "model", "weights.bin"), artifact.weights);
        writeFileAtomic(
          path.join(resultsDir, "model", "model.json"),
          `${JSON.stringify(artifact.modelJson, null, 2)}\n`,
        );
      }
    } catch (err) {
      throw ioError(err, `writing results to ${resultsDir}`);
    }
    stdout.write(
      summary(
        result,
        path.relative(cwd, metricsFile),
        path.relative(cwd, logFile),
        path.relative(cwd, path.join(resultsDir, "model")),
      ),
    );
    return 0;
  } catch (err) {
    return reportError(err, stderr);
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}

if (isEntryPoint(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
