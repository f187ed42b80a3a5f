/**
 * The two-phase training loop (EXPERIMENT.md §3): a warm-up of the plain network, then an adaptation
 * phase with the backbone frozen where the controller may germinate seeds. Emits every metric, tag and
 * text through an injected TrainingLogger and returns the run's results.
 */
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import * as tf from "@tensorflow/tfjs";
import { MtrackError } from "../errors.js";
import { initBackend } from "./backend.js";
import {
  EXPERIMENT_KEYS,
  type ExperimentConfig,
  experimentSlug,
  validateExperimentConfig,
} from "./config.js";
import { KasminaMicro } from "./controller.js";
import type { Dataset } from "./datasets.js";
import { noopLogger, type TrainingLogger } from "./logger.js";
import { BaseNet } from "./model.js";
import { Rng } from "./random.js";
import { type GerminationEvent, SeedManager } from "./seeds.js";

/** The run script hard-codes these controller settings (only acc_threshold is configurable). */
export const KASMINA_PATIENCE = 15;
export const KASMINA_DELTA = 5e-4;
/** StepLR(step_size=20, gamma=0.1) in both phases. */
export const LR_STEP_SIZE = 20;
export const LR_GAMMA = 0.1;

// Independent PRNG streams per purpose, so e.g. a change in batch count never alters the weight init.
const STREAM_SPLIT = 1;
const STREAM_INIT = 2;
const STREAM_SHUFFLE = 3;
const STREAM_SEED_SAMPLING = 4;

/** One epoch's numbers. */
export interface EpochRecord {
  epoch: number;
  phase: 1 | 2;
  trainLoss: number;
  valLoss: number;
  valAcc: number;
  bestAcc: number;
  /** `sid:status, …` as the original's metrics dict. */
  seeds: string;
  germinated: boolean;
}

/** One line of the results log: an ExperimentLogger-style JSON event or an `epoch,seed,state,alpha` row. */
export type RunLogEntry =
  | {
      kind: "event";
      timestamp: number;
      epoch: number;
      eventType: string;
      message: string;
      data: Record<string, unknown>;
    }
  | { kind: "seed_row"; epoch: number; seed: string; state: string; alpha: number };

/** Everything a finished run reports. */
export interface TrainResult {
  slug: string;
  config: ExperimentConfig;
  backend: string;
  bestAcc: number;
  finalValAcc: number;
  finalValLoss: number;
  /** acc_pre - acc_post around the last germination (positive = a dip); null without germination. */
  accuracyDip: number | null;
  /** Epochs after the germination until val_acc ≥ acc_pre again; null if none or never recovered. */
  recoveryTime: number | null;
  seedsActivated: boolean;
  accPre: number | null;
  accPost: number | null;
  /** Successful germinations, in order. */
  germinations: { epoch: number; seedId: string }[];
  totalSeeds: number;
  activeSeeds: number;
  epochs: EpochRecord[];
  germinationLog: GerminationEvent[];
  log: RunLogEntry[];
  startedAt: number;
  endedAt: number;
}

/** Inputs of {@link trainExperiment}. */
export interface TrainOptions {
  config: ExperimentConfig;
  /** The raw (unscaled) dataset; scaling and the split happen here, deterministically from config.seed. */
  data: Dataset;
  logger?: TrainingLogger;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** Aborting ends the run as KILLED with ERR_MTRACK_INTERRUPTED at the next epoch boundary. */
  signal?: AbortSignal;
  /** Called after every epoch (progress display). */
  onEpoch?: (record: EpochRecord) => void;
  /**
   * Called once with the trained model before it is freed (e.g. to export it), and the scaler fitted on
   * the raw data: the model takes `(x - mean) / scale`, so whoever serves it needs the scaler too.
   */
  onTrained?: (model: BaseNet, info: { scaler: StandardScaler }) => void;
}

/** A fitted standard scaler, per column (sklearn's `mean_` and `scale_`). */
export interface StandardScaler {
  mean: number[];
  scale: number[];
}

/**
 * Fits sklearn's StandardScaler on all rows (population std; a constant column gets scale 1, so it is
 * only centred).
 *
 * @example
 * fitStandardScaler(new Float32Array([1, 5, 3, 5]), 2, 2) // { mean: [2, 5], scale: [1, 1] }
 */
export function fitStandardScaler(X: Float32Array, rows: number, cols: number): StandardScaler {
  const mean = new Float64Array(cols);
  const sq = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mean[j]! += X[i * cols + j]!;
  for (let j = 0; j < cols; j++) mean[j]! /= rows;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const d = X[i * cols + j]! - mean[j]!;
      sq[j]! += d * d;
    }
  }
  const scale = Array.from(sq, (s) => {
    const std = Math.sqrt(s / rows);
    return std === 0 ? 1 : std;
  });
  return { mean: Array.from(mean), scale };
}

/**
 * Fits sklearn's StandardScaler on all rows (or uses `scaler`) and returns the standardised copy.
 *
 * @example
 * standardScale(new Float32Array([1, 2, 3, 4]), 2, 2) // [-1, -1, 1, 1]
 */
export function standardScale(
  X: Float32Array,
  rows: number,
  cols: number,
  scaler: StandardScaler = fitStandardScaler(X, rows, cols),
): Float32Array {
  const { mean, scale } = scaler;
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) out[i * cols + j] = (X[i * cols + j]! - mean[j]!) / scale[j]!;
  return out;
}

/**
 * `random_split` semantics: a seeded permutation, the first ⌊trainFrac·N⌋ indices train, the rest validate.
 *
 * @example
 * splitIndices(10, 0.8, new Rng(42)) // { train: 8 indices, val: 2 indices }
 */
export function splitIndices(n: number, trainFrac: number, rng: Rng): { train: Int32Array; val: Int32Array } {
  const nTrain = Math.trunc(trainFrac * n);
  const perm = rng.permutation(n);
  return { train: perm.slice(0, nTrain), val: perm.slice(nTrain) };
}

/** PyTorch's StepLR over a TF.js optimizer: lr = base·γ^⌊epochs/stepSize⌋, stepped once per epoch. */
export class StepLr {
  private epochs = 0;
  constructor(
    private readonly optimizer: tf.Optimizer,
    private readonly baseLr: number,
    private readonly stepSize = LR_STEP_SIZE,
    private readonly gamma = LR_GAMMA,
  ) {}

  /** Advances one epoch and updates the optimizer's learning rate. */
  step(): void {
    this.epochs += 1;
    setLearningRate(this.optimizer, this.baseLr * this.gamma ** Math.floor(this.epochs / this.stepSize));
  }
}

/** The optimizer's current learning rate. TF.js reads `learningRate` on every update, so it can be changed. */
export function learningRate(optimizer: tf.Optimizer): number {
  return (optimizer as unknown as { learningRate: number }).learningRate;
}

function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
}

interface Batch {
  x: tf.Tensor2D;
  yOneHot: tf.Tensor2D;
  yIndex: tf.Tensor1D;
}

function crossEntropy(logits: tf.Tensor2D, yOneHot: tf.Tensor2D): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(yOneHot, logits) as tf.Scalar;
}

/**
 * Runs the whole experiment: scale, split, phase 1 (Adam lr, StepLR), phase 2 (frozen backbone, Adam
 * lr×0.1 over germinated seeds, rebuilt on each germination), with the seed bookkeeping after every
 * batch. Same config, data and machine → same metrics.
 *
 * @example
 * const result = await trainExperiment({ config, data: generateDataset(dataConfig), logger });
 * result.bestAcc; result.germinations.length;
 */
export async function trainExperiment(options: TrainOptions): Promise<TrainResult> {
  const { config, data } = options;
  const logger = options.logger ?? noopLogger();
  const clock = options.clock ?? Date.now;
  let run: Run | undefined;
  try {
    validateExperimentConfig(config);
    if (data.cols !== config.input_dim) {
      throw new MtrackError(
        "ERR_MTRACK_DATASET_INVALID",
        `the data has ${data.cols} features but input_dim is ${config.input_dim}`,
        {
          data: { cols: data.cols, input_dim: config.input_dim },
          hint: "Regenerate the data with the same input_dim (rerun generate_data).",
        },
      );
    }
    const nTrain = Math.trunc(config.train_frac * data.rows);
    if (nTrain < 1 || data.rows - nTrain < 1) {
      throw new MtrackError(
        "ERR_MTRACK_PARAMS_INVALID",
        `train_frac ${config.train_frac} of ${data.rows} rows leaves an empty training or validation set`,
        {
          data: { key: "train_frac", rows: data.rows },
          hint: "Use more samples or a train_frac that keeps both parts non-empty.",
        },
      );
    }
    const backend = await initBackend();
    run = new Run(options, logger, clock, backend);
    const result = await run.execute();
    logger.end("FINISHED");
    return result;
  } catch (err) {
    logger.end(err instanceof MtrackError && err.code === "ERR_MTRACK_INTERRUPTED" ? "KILLED" : "FAILED");
    throw err;
  } finally {
    run?.dispose();
  }
}

/** One run's mutable state, kept together so the phases read like the original's functions. */
class Run {
  private readonly config: ExperimentConfig;
  private readonly scaler: StandardScaler;
  private readonly manager: SeedManager;
  private readonly model: BaseNet;
  private readonly kasmina: KasminaMicro;
  private readonly shuffler: Rng;
  private readonly sampler: Rng;
  private readonly xTrain: tf.Tensor2D;
  private readonly yTrain: tf.Tensor2D;
  private readonly nTrain: number;
  private readonly valBatches: Batch[];
  private readonly valRows: number;
  private readonly lastReport = new Map<string, string>();
  private readonly log: RunLogEntry[] = [];
  private readonly epochs: EpochRecord[] = [];
  private readonly startedAt: number;
  private bestAcc = 0;
  /** Every optimizer created, so an interrupted run still frees their moment buffers. */
  private readonly optimizers: tf.Optimizer[] = [];

  constructor(
    private readonly options: TrainOptions,
    private readonly logger: TrainingLogger,
    private readonly clock: () => number,
    private readonly backend: string,
  ) {
    const c = options.config;
    this.config = c;
    this.startedAt = clock();
    const { data } = options;
    this.scaler = fitStandardScaler(data.X, data.rows, data.cols);
    const scaled = standardScale(data.X, data.rows, data.cols, this.scaler);
    const { train, val } = splitIndices(data.rows, c.train_frac, new Rng(c.seed, STREAM_SPLIT));
    this.nTrain = train.length;
    this.valRows = val.length;
    const rowsOf = (idx: Int32Array) => {
      const out = new Float32Array(idx.length * data.cols);
      idx.forEach((r, i) => {
        out.set(scaled.subarray(r * data.cols, (r + 1) * data.cols), i * data.cols);
      });
      return out;
    };
    const labelsOf = (idx: Int32Array) => Int32Array.from(idx, (r) => data.y[r]!);
    this.xTrain = tf.tensor2d(rowsOf(train), [train.length, data.cols]);
    this.yTrain = tf.tidy(() => tf.oneHot(tf.tensor1d(labelsOf(train), "int32"), 2).toFloat() as tf.Tensor2D);
    const valSize = 2 * c.batch_size;
    this.valBatches = [];
    for (let at = 0; at < val.length; at += valSize) {
      const idx = val.slice(at, at + valSize);
      const yIndex = tf.tensor1d(labelsOf(idx), "int32");
      this.valBatches.push({
        x: tf.tensor2d(rowsOf(idx), [idx.length, data.cols]),
        yIndex,
        yOneHot: tf.tidy(() => tf.oneHot(yIndex, 2).toFloat() as tf.Tensor2D),
      });
    }
    this.manager = new SeedManager({ clock });
    this.model = new BaseNet({
      inputDim: c.input_dim,
      hiddenDim: c.hidden_dim,
      numLayers: c.num_layers,
      seedsPerLayer: c.seeds_per_layer,
      blendSteps: c.blend_steps,
      shadowLr: c.shadow_lr,
      progressThresh: c.progress_thresh,
      driftWarn: c.drift_warn,
      manager: this.manager,
      rng: new Rng(c.seed, STREAM_INIT),
    });
    this.kasmina = new KasminaMicro(this.manager, {
      patience: KASMINA_PATIENCE,
      delta: KASMINA_DELTA,
      accThreshold: c.acc_threshold,
    });
    this.shuffler = new Rng(c.seed, STREAM_SHUFFLE);
    this.sampler = new Rng(c.seed, STREAM_SEED_SAMPLING);
  }

  async execute(): Promise<TrainResult> {
    const c = this.config;
    const params: Record<string, string | number | boolean> = {};
    for (const key of EXPERIMENT_KEYS) params[key] = c[key];
    params["device"] = "cpu"; // the resolved device, as the original logged it
    this.logger.logParams(params);
    this.event(0, "experiment_start", "Experiment started", { config: params, backend: this.backend });
    this.logger.setTag("phase", "phase_1");
    this.logger.text("phase/transitions", "Epoch 0: init → phase_1", 0);
    this.event(0, "phase_transition", "Phase transition init -> phase_1", { from: "init", to: "phase_1" });

    // Phase 1: the plain network (seeds dormant, children frozen).
    const opt1 = this.adam(c.lr);
    const sched1 = new StepLr(opt1, c.lr);
    for (let epoch = 1; epoch <= c.warm_up_epochs; epoch++) {
      await this.checkpoint(epoch);
      const trainLoss = this.trainEpoch(opt1, sched1, () => this.model.backboneVariables());
      const [valLoss, valAcc] = this.evaluate();
      this.bestAcc = Math.max(this.bestAcc, valAcc);
      this.endEpoch({
        epoch,
        phase: 1,
        trainLoss,
        valLoss,
        valAcc,
        bestAcc: this.bestAcc,
        seeds: this.seedSummary(),
        germinated: false,
      });
    }

    // Phase 2: frozen backbone; an optimizer exists only once a seed has germinated.
    const w = c.warm_up_epochs;
    this.logger.setTag("phase", "phase_2");
    this.logger.text("phase/transitions", `Epoch ${w}: phase_1 → phase_2`, w);
    this.event(w, "phase_transition", "Phase transition phase_1 -> phase_2", {
      from: "phase_1",
      to: "phase_2",
    });
    this.model.freezeBackbone();
    let opt2: tf.Optimizer | undefined;
    let sched2: StepLr | undefined;
    let germEpoch: number | undefined;
    let accPre: number | null = null;
    let accPost: number | null = null;
    let tRecover: number | null = null;
    const germinations: { epoch: number; seedId: string }[] = [];
    for (let epoch = w + 1; epoch <= w + c.adaptation_epochs; epoch++) {
      await this.checkpoint(epoch);
      const trainLoss =
        opt2 && sched2 ? this.trainEpoch(opt2, sched2, () => this.model.seedTaskVariables()) : 0;
      const [valLoss, valAcc] = this.evaluate();
      const before = new Set(this.germinatedIds());
      const germinated = this.kasmina.step(valLoss, valAcc, epoch);
      if (germinated) {
        const seedId = this.germinatedIds().find((id) => !before.has(id)) ?? "?";
        germinations.push({ epoch, seedId });
        germEpoch = epoch;
        accPre = valAcc;
        opt2 = this.adam(c.lr * 0.1);
        sched2 = new StepLr(opt2, c.lr * 0.1);
        this.logger.setTag("seeds_activated", "True");
        this.event(epoch, "germination", `Seed ${seedId} germinated`, { seed_id: seedId, val_acc: valAcc });
      }
      if (germEpoch !== undefined && accPre !== null) {
        if (epoch === germEpoch + 1) {
          accPost = valAcc;
          if (accPre - accPost > 0) {
            this.event(epoch, "accuracy_dip", "Accuracy dip detected", {
              acc_pre: accPre,
              acc_post: accPost,
            });
          }
        }
        // Port decision: counted from the epoch after germination (the original checked the same epoch → 0).
        if (tRecover === null && epoch > germEpoch && valAcc >= accPre) tRecover = epoch - germEpoch;
      }
      this.bestAcc = Math.max(this.bestAcc, valAcc);
      this.endEpoch({
        epoch,
        phase: 2,
        trainLoss,
        valLoss,
        valAcc,
        bestAcc: this.bestAcc,
        seeds: this.seedSummary(),
        germinated,
      });
    }

    const seedsActivated = germinations.length > 0;
    const accuracyDip = accPre !== null && accPost !== null ? accPre - accPost : null;
    const totalSeeds = this.manager.seeds.size;
    const activeSeeds = this.model.allSeeds.filter((s) => s.state === "active").length;
    const last = this.epochs.at(-1);
    this.logger.setTag("seeds_activated", seedsActivated ? "True" : "False");
    this.logger.logMetric("final_best_acc", this.bestAcc, 0);
    if (accuracyDip !== null) this.logger.logMetric("accuracy_dip", accuracyDip, 0);
    if (tRecover !== null) this.logger.logMetric("recovery_time", tRecover, 0);
    this.logger.logMetric("total_seeds", totalSeeds, 0);
    this.logger.logMetric("active_seeds", activeSeeds, 0);
    this.options.onTrained?.(this.model, { scaler: this.scaler });
    const endEpoch = w + c.adaptation_epochs;
    this.event(endEpoch, "experiment_end", "Experiment completed", {
      best_acc: this.bestAcc,
      seeds_activated: seedsActivated,
      summary: this.eventCounts(),
    });
    return {
      slug: experimentSlug(c),
      config: { ...c },
      backend: this.backend,
      bestAcc: this.bestAcc,
      finalValAcc: last?.valAcc ?? 0,
      finalValLoss: last?.valLoss ?? 0,
      accuracyDip,
      recoveryTime: tRecover,
      seedsActivated,
      accPre,
      accPost,
      germinations,
      totalSeeds,
      activeSeeds,
      epochs: this.epochs,
      germinationLog: [...this.manager.germinationLog],
      log: this.log,
      startedAt: this.startedAt,
      endedAt: this.clock(),
    };
  }

  /** PyTorch's Adam defaults (eps 1e-8; TF.js would use 1e-7). */
  private adam(lr: number): tf.Optimizer {
    const opt = tf.train.adam(lr, 0.9, 0.999, 1e-8);
    this.optimizers.push(opt);
    return opt;
  }

  /** Yields to the event loop (so Ctrl-C handlers run) and honours the abort signal. */
  private async checkpoint(epoch: number): Promise<void> {
    await yieldToEventLoop();
    this.manager.epoch = epoch;
    if (this.options.signal?.aborted) {
      throw new MtrackError("ERR_MTRACK_INTERRUPTED", `training interrupted at epoch ${epoch}`, {
        data: { epoch },
        hint: "Run the stage again to start over.",
        exitCode: 130,
      });
    }
  }

  /** One pass over shuffled training batches; returns the mean of per-batch losses (one device read). */
  private trainEpoch(opt: tf.Optimizer, sched: StepLr, variables: () => tf.Variable[]): number {
    const bs = this.config.batch_size;
    const order = this.shuffler.permutation(this.nTrain);
    let lossSum: tf.Scalar = tf.scalar(0);
    let batches = 0;
    for (let at = 0; at < this.nTrain; at += bs) {
      const idx = tf.tensor1d(order.subarray(at, Math.min(at + bs, this.nTrain)), "int32");
      const xb = tf.gather(this.xTrain, idx);
      const yb = tf.gather(this.yTrain, idx);
      const vars = variables();
      // With nothing reachable to train (e.g. only a still-training seed) the loss has no gradient
      // path: the forward pass still runs (filling buffers), but no optimizer step is taken.
      const loss =
        vars.length > 0
          ? (opt.minimize(() => crossEntropy(this.model.forward(xb), yb), true, vars) as tf.Scalar)
          : tf.tidy(() => crossEntropy(this.model.forward(xb), yb));
      const next = tf.add(lossSum, loss) as tf.Scalar;
      tf.dispose([lossSum, loss, idx, xb, yb]);
      lossSum = next;
      batches += 1;
      this.handleSeedTraining();
    }
    if (batches > 0) sched.step();
    const total = lossSum.dataSync()[0]!;
    lossSum.dispose();
    return batches > 0 ? total / batches : 0;
  }

  /** After every batch: one child step for each training seed with ≥ 10 buffered batches, then the α ramps. */
  private handleSeedTraining(): void {
    for (const seed of this.model.allSeeds) {
      if (seed.state !== "training") continue;
      const buffer = this.manager.buffer(seed.id);
      if (buffer.length < 10) continue;
      const picks = this.sampler.sample(buffer.length, Math.min(64, buffer.length)).map((i) => buffer[i]!);
      const rows = picks.reduce((n, t) => n + t.shape[0], 0);
      const keep = rows > 64 ? Int32Array.from(this.sampler.permutation(rows).subarray(0, 64)) : undefined;
      const batch = tf.tidy(() => {
        const all = tf.concat(picks, 0);
        return keep ? (tf.gather(all, keep) as tf.Tensor2D) : all;
      });
      seed.trainChildStep(batch);
      batch.dispose();
    }
    for (const seed of this.model.allSeeds) seed.updateBlending();
  }

  /** Mean per-batch CE and accuracy over the validation batches (one device read). */
  private evaluate(): [loss: number, acc: number] {
    if (this.valBatches.length === 0) return [0, 0];
    const sums = tf.tidy(() => {
      const losses: tf.Scalar[] = [];
      const correct: tf.Scalar[] = [];
      for (const b of this.valBatches) {
        const logits = this.model.forward(b.x);
        losses.push(crossEntropy(logits, b.yOneHot));
        correct.push(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), b.yIndex), "float32")));
      }
      return tf.stack([tf.addN(losses), tf.addN(correct)]);
    });
    const [lossSum = 0, correct = 0] = sums.dataSync();
    sums.dispose();
    return [lossSum / this.valBatches.length, correct / this.valRows];
  }

  private endEpoch(record: EpochRecord): void {
    const { epoch } = record;
    this.epochs.push(record);
    if (record.phase === 1 || record.trainLoss > 0) {
      this.logger.logMetric("train_loss", record.trainLoss, epoch);
      this.logger.scalar("train/loss", record.trainLoss, epoch);
    }
    this.logger.logMetric("val_loss", record.valLoss, epoch);
    this.logger.logMetric("val_acc", record.valAcc, epoch);
    this.logger.logMetric("best_acc", record.bestAcc, epoch);
    this.logger.scalar("validation/loss", record.valLoss, epoch);
    this.logger.scalar("validation/accuracy", record.valAcc, epoch);
    this.logger.scalar("validation/best_acc", record.bestAcc, epoch);
    this.event(epoch, "epoch_progress", `Epoch ${epoch} completed`, {
      phase: `phase_${record.phase}`,
      train_loss: record.trainLoss,
      val_loss: record.valLoss,
      val_acc: record.valAcc,
      best_acc: record.bestAcc,
      seeds: record.seeds,
    });
    this.logSeedUpdates(epoch);
    this.warnDrift(epoch);
    this.options.onEpoch?.(record);
  }

  /** The original's log_seed_updates: report each seed whose `state` / `blending:α` tag changed. */
  private logSeedUpdates(epoch: number): void {
    for (const seed of this.model.allSeeds) {
      const tag = seed.state === "blending" ? `blending:${seed.alpha.toFixed(2)}` : seed.state;
      const prev = this.lastReport.get(seed.id);
      if (tag === prev) continue;
      this.lastReport.set(seed.id, tag);
      const prevState = prev === undefined ? "unknown" : (prev.split(":")[0] ?? prev);
      if (seed.state === "blending") {
        this.logger.scalar(`seed/${seed.id}/alpha`, seed.alpha, epoch);
        this.logger.logMetric(`seed/${seed.id}/alpha`, seed.alpha, epoch);
        this.event(epoch, "blending_progress", `Blending ${seed.id} alpha=${seed.alpha.toFixed(3)}`, {
          seed_id: seed.id,
          alpha: seed.alpha,
        });
      }
      if (seed.state !== prevState) {
        const line = `Epoch ${epoch}: ${prevState} → ${seed.state}`;
        this.logger.text(`seed/${seed.id}/events`, line, epoch);
        this.logger.logText(`seed_${seed.id}_transitions.txt`, `${line}\n`, true);
        this.event(epoch, "seed_state_change", `Seed ${seed.id}: ${prevState} -> ${seed.state}`, {
          seed_id: seed.id,
          from: prevState,
          to: seed.state,
        });
      }
      this.log.push({ kind: "seed_row", epoch, seed: seed.id, state: seed.state, alpha: seed.alpha });
    }
  }

  /** The original warned when a blending seed's drift exceeded drift_warn (> 0); we log it as an event. */
  private warnDrift(epoch: number): void {
    const limit = this.config.drift_warn;
    if (limit <= 0) return;
    for (const seed of this.model.allSeeds) {
      if (seed.state !== "blending") continue;
      const drift = this.manager.drift(seed.id);
      if (drift > limit) {
        this.event(epoch, "drift_warning", `Seed ${seed.id} drift ${drift.toFixed(4)} > ${limit}`, {
          seed_id: seed.id,
          drift,
        });
      }
    }
  }

  private germinatedIds(): string[] {
    return this.model.allSeeds.filter((s) => s.germinated).map((s) => s.id);
  }

  private seedSummary(): string {
    return [...this.manager.seeds].map(([id, e]) => `${id}:${e.status}`).join(", ");
  }

  private event(epoch: number, eventType: string, message: string, data: Record<string, unknown>): void {
    this.log.push({ kind: "event", timestamp: this.clock(), epoch, eventType, message, data });
  }

  private eventCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const e of this.log) if (e.kind === "event") counts[e.eventType] = (counts[e.eventType] ?? 0) + 1;
    return counts;
  }

  dispose(): void {
    for (const opt of this.optimizers) opt.dispose();
    this.model.dispose();
    this.manager.dispose();
    tf.dispose([this.xTrain, this.yTrain]);
    for (const b of this.valBatches) tf.dispose([b.x, b.yIndex, b.yOneHot]);
  }
}
