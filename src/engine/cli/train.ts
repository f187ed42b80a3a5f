/**
 * Stage program `train`: reads `data/<problem_type>.npz`, trains the morphogenetic network, writes
 * `results/metrics.json`, `results/results_<slug>.log`, the model under `results/model/` and TensorBoard
 * event files under `runs/<slug>/`, logs a run to mtrack when started inside an mtrack repository, and
 * prints a short summary. Flags are the seed's run-script flags (the 18 run keys; dataset flags are
 * accepted for compatibility).
 *
 *   node dist/src/engine/cli/train.js --problem_type spirals --warm_up_epochs 40 --adaptation_epochs 60 ...
 */
import fs from "node:fs";
import path from "node:path";
import { errnoCode, ioError, isMtrackError, MtrackError } from "../../errors.js";
import { decodeNpz } from "../../formats/npz.js";
import { ModelRegistry } from "../../registry/models.js";
import { validateModelName } from "../../registry/names.js";
import { Repo } from "../../repo.js";
import { type Env, startRun } from "../../tracking/context.js";
import {
  DEFAULT_EXPERIMENT_CONFIG,
  DEVICES,
  EXPERIMENT_KEYS,
  type ExperimentConfig,
  experimentSlug,
  PROBLEM_TYPES,
  validateExperimentConfig,
} from "../config.js";
import { datasetFromArrays } from "../datasets.js";
import { exportModel, type ModelArtifact } from "../export.js";
import type { RunStatus, TrainingLogger } from "../logger.js";
import { MODEL_NAME, MtrackLogger, type TrackingRun } from "../mtrack-logger.js";
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
    help: "Where metrics.json, the results log and the model go.",
  },
  {
    name: "runs_dir",
    kind: "string",
    default: "runs",
    help: "TensorBoard event files go to <runs_dir>/<slug>/.",
  },
  {
    name: "no-track",
    kind: "boolean",
    optional: true,
    help: "Do not log a run to mtrack, even inside an mtrack repository.",
  },
  {
    name: "register",
    kind: "string",
    optional: true,
    help: "Register the trained model as a new version of this registered model (runs:/<run>/model).",
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
  /**
   * Replaces tracking and TensorBoard with this sink (tests). Default: an mtrack run when `cwd` is inside
   * an mtrack repository, plus TensorBoard event files under `runs/<slug>/`.
   */
  logger?: TrainingLogger;
  /** Starts the tracking run (tests inject a fake). Default: tracking's repository-level startRun. */
  openRun?: (repo: Repo, options: RunIdentity) => Promise<TrackingRun>;
  /** Read for MTRACK_STAGE / MTRACK_REPRO_ID (run tags under `mtrack repro`). Default process.env. */
  env?: Env;
  stdout?: Writer;
  stderr?: Writer;
  cwd?: string;
  /** Aborts the run (KILLED); by default Ctrl-C does. */
  signal?: AbortSignal;
}

/** What a tracked run is called: experiment = problem_type, name = the slug; its command line and tags. */
export interface RunIdentity {
  experiment: string;
  name: string;
  command: string[];
  tags: Record<string, string>;
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

/** Where the summary points the user. */
interface SummaryPaths {
  metrics: string;
  log: string;
  model: string;
  runsDir: string;
  runId: string | undefined;
}

function summary(result: TrainResult, p: SummaryPaths): string {
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
    `Metrics: ${p.metrics}`,
    `Log:     ${p.log}`,
    `Model:   ${p.model}/model.json (+ weights.bin, metadata.json)`,
  );
  if (p.runId !== undefined) lines.push(`Run:     ${p.runId}  (mtrack runs show ${p.runId})`);
  lines.push(`TensorBoard: tensorboard --logdir ${p.runsDir}`);
  return `${lines.join("\n")}\n`;
}

/**
 * The run sink: an mtrack run inside an mtrack repository (unless --no-track), TensorBoard files always
 * (they are a declared stage output). Outside a repository the note says why nothing is tracked.
 */
async function openSink(
  config: ExperimentConfig,
  tags: Record<string, string>,
  track: boolean,
  tensorboardDir: string,
  io: TrainIo,
  cwd: string,
  argv: readonly string[],
): Promise<{ logger: MtrackLogger; note: string | undefined }> {
  if (!track) {
    return { logger: new MtrackLogger({ tensorboardDir }), note: "Tracking disabled (--no-track)." };
  }
  let repo: Repo;
  try {
    repo = Repo.open({ cwd });
  } catch (err) {
    if (isMtrackError(err, "ERR_MTRACK_NOT_A_GIT_REPO") || isMtrackError(err, "ERR_MTRACK_NOT_INITIALIZED")) {
      return {
        logger: new MtrackLogger({ tensorboardDir }),
        note: `Not tracked: ${err.message} (run \`mtrack init\` there to record runs).`,
      };
    }
    throw err;
  }
  const identity: RunIdentity = {
    experiment: config.problem_type,
    name: experimentSlug(config),
    command: [process.argv[0] ?? "node", process.argv[1] ?? "train", ...argv],
    tags,
  };
  const run = io.openRun
    ? await io.openRun(repo, identity)
    : // The program handles Ctrl-C itself, so the run ends KILLED between epochs, not mid-write.
      await startRun({ repo, env: io.env, installProcessHooks: false, ...identity });
  try {
    return { logger: new MtrackLogger({ run, tensorboardDir }), note: undefined };
  } catch (err) {
    // The event file could not be created: the run exists already and must not stay RUNNING.
    await run.end("FAILED");
    throw err;
  }
}

/**
 * Registers the run's model as the next version of `name`; returns the line that says so.
 */
async function registerTrained(cwd: string, name: string, runId: string, env: Env): Promise<string> {
  const user = env["USER"] ?? env["LOGNAME"] ?? "";
  const models = ModelRegistry.open(Repo.open({ cwd }), { user });
  const { value: v, git } = await models.register(name, `runs:/${runId}/${MODEL_NAME}`);
  const tag = git.flatMap((g) => g.tags)[0];
  return `Registered: ${v.name} version ${v.version} (models:/${v.name}/${v.version}${tag ? `, git tag ${tag}` : ""})`;
}

/**
 * Runs the program; returns the exit code (0 ok, 2 bad arguments/data, 130 interrupted, 1 unexpected).
 *
 * @example
 * await main(["--problem_type", "moons", "--warm_up_epochs", "2"], { cwd: dir }) // 0
 */
export async function main(argv: readonly string[], io: TrainIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const cwd = io.cwd ?? process.cwd();
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  if (!io.signal) {
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  let sink: MtrackLogger | undefined;
  try {
    const { help, values } = parseFlags(argv, TRAIN_FLAGS);
    if (help) {
      stdout.write(
        helpText(
          "train [flags]",
          "Trains the morphogenetic network on data/<problem_type>.npz; writes results/metrics.json,\n" +
            "results/results_<slug>.log, the model under results/model/ and TensorBoard files under runs/<slug>/.\n" +
            "Inside an mtrack repository the run is logged to mtrack (experiment = problem_type, name = slug).",
          TRAIN_FLAGS,
          [
            "train --problem_type spirals --n_samples 2000 --input_dim 3 --hidden_dim 128 --batch_size 64 --lr 0.003 \\\n    --warm_up_epochs 40 --adaptation_epochs 30 --num_layers 3 --seeds_per_layer 2 --acc_threshold 0.99",
            "train --problem_type moons --data data/moons.npz --results_dir results --no-track",
          ],
        ),
      );
      return 0;
    }
    const config = configFromFlags(values);
    validateExperimentConfig(config);
    const registerAs = typeof values["register"] === "string" ? values["register"] : undefined;
    if (registerAs !== undefined) validateModelName(registerAs);
    const dataPath = path.resolve(
      cwd,
      typeof values["data"] === "string" ? values["data"] : `data/${config.problem_type}.npz`,
    );
    const data = readDataset(dataPath);
    const slug = experimentSlug(config);
    const runsDir = path.resolve(cwd, String(values["runs_dir"]));
    let logger = io.logger;
    if (!logger) {
      const tags: Record<string, string> = {};
      const opened = await openSink(
        config,
        tags,
        values["no-track"] !== true,
        path.join(runsDir, slug),
        io,
        cwd,
        argv,
      );
      sink = opened.logger;
      logger = sink;
      if (opened.note) stderr.write(`${opened.note}\n`);
    }
    const total = config.warm_up_epochs + config.adaptation_epochs;
    let artifact: ModelArtifact | undefined;
    const result = await trainExperiment({
      config,
      data,
      logger,
      signal: io.signal ?? abort.signal,
      onTrained: (model, { scaler }) => {
        // The scaler goes with the model: it takes standardised features, and serving gets raw ones.
        artifact = exportModel(model, { ...config }, { scaler });
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
    const modelDir = path.join(resultsDir, "model");
    const modelMetadata = { input_dim: config.input_dim, classes: 2, params: { ...config } };
    try {
      writeFileAtomic(metricsFile, `${JSON.stringify(metricsJson(result), null, 2)}\n`);
      writeFileAtomic(logFile, formatResultsLog(result, { dataPath: path.relative(cwd, dataPath) }));
      if (artifact) {
        writeFileAtomic(path.join(modelDir, "weights.bin"), artifact.weights);
        writeFileAtomic(
          path.join(modelDir, "model.json"),
          `${JSON.stringify(artifact.modelJson, null, 2)}\n`,
        );
        // What a consumer needs without parsing model.json: the input width, the classes, the run's params.
        const metadata = {
          ...modelMetadata,
          format: artifact.modelJson.format,
          loader: "loadModel from mtrack",
        };
        writeFileAtomic(path.join(modelDir, "metadata.json"), `${JSON.stringify(metadata, null, 2)}\n`);
      }
    } catch (err) {
      throw ioError(err, `writing results to ${resultsDir}`);
    }
    await sink?.finish({ resultsLog: logFile, modelDir, modelMetadata });
    const registered =
      registerAs !== undefined && sink?.run !== undefined
        ? await registerTrained(cwd, registerAs, sink.run.id, io.env ?? process.env)
        : undefined;
    const shown = (p: string) => path.relative(cwd, p) || ".";
    stdout.write(
      summary(result, {
        metrics: shown(metricsFile),
        log: shown(logFile),
        model: shown(modelDir),
        runsDir: shown(runsDir),
        runId: sink?.run?.id,
      }),
    );
    if (registered) stdout.write(`${registered}\n`);
    else if (registerAs !== undefined)
      stderr.write(`Not registered as ${registerAs}: the run was not tracked.\n`);
    return 0;
  } catch (err) {
    if (sink) {
      const outcome: RunStatus = isMtrackError(err, "ERR_MTRACK_INTERRUPTED") ? "KILLED" : "FAILED";
      try {
        await sink.finish({}, outcome);
      } catch (finishErr) {
        stderr.write(`Warning: could not close the run: ${(finishErr as Error).message}\n`);
      }
      if (sink.run) stderr.write(`Run ${sink.run.id} ended ${outcome}.\n`);
    }
    return reportError(err, stderr);
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

if (isEntryPoint(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
