/**
 * Sentinel seeds (dormant residual adapters that can grow a child network) and the per-model manager
 * that holds their activation buffers, telemetry and germination log (EXPERIMENT.md §2).
 *
 * Port decision, no output jump at blending → active: a blending seed outputs
 * `(1-α)·x + α·(x + child(x)) = x + α·child(x)` and an active seed `x + child(x)`, i.e. the blending
 * output at α = 1. On activation α is set to exactly 1 (the 0.99 threshold otherwise leaves e.g. 0.99 for
 * blend_steps = 100), so the only change at the switch is the last ramp step.
 */
import * as tf from "@tensorflow/tfjs";
import { dense } from "./ops.js";
import type { Rng } from "./random.js";

/** A seed's lifecycle state. */
export type SeedState = "dormant" | "training" | "blending" | "active";
/** The manager's coarse status, which germination selection looks at. */
export type SeedStatus = "dormant" | "pending" | "active" | "failed";

/** One germination-log record (the original's two event types). */
export type GerminationEvent =
  | {
      event_type: "germination_attempt";
      seed_id: string;
      success: boolean;
      epoch: number;
      timestamp: number;
      error?: string;
    }
  | {
      event_type: "state_transition";
      seed_id: string;
      from: SeedState;
      to: SeedState;
      epoch: number;
      timestamp: number;
    };

/** What the manager keeps per registered seed. */
export interface SeedEntry {
  seed: SentinelSeed;
  status: SeedStatus;
  state: SeedState;
  alpha: number;
  /** Whole activation batches [B, dim], newest last, at most `bufferSize` of them; kept on device. */
  buffer: tf.Tensor2D[];
  /** The last drift as a device scalar; read lazily so the forward pass never waits on the device. */
  driftTensor: tf.Scalar | undefined;
}

/** Callbacks the original's ExperimentLogger received; both optional. */
export interface SeedManagerHooks {
  onGermination?(epoch: number, seedId: string): void;
  onTransition?(epoch: number, seedId: string, from: SeedState, to: SeedState): void;
}

/** Construction options for {@link SeedManager}. */
export interface SeedManagerOptions {
  /** Milliseconds since the epoch, for log timestamps; default Date.now. */
  clock?: () => number;
  /** Max batches per seed buffer (the original's deque maxlen); 0 disables buffering (inference). */
  bufferSize?: number;
  hooks?: SeedManagerHooks;
}

/**
 * Registry of one model's seeds (deliberately not a process-wide singleton, so sweep runs never share
 * seeds). Call `dispose()` when the model is done to free the buffered activations.
 *
 * @example
 * const manager = new SeedManager();
 * const model = new BaseNet({ inputDim: 3, hiddenDim: 16, numLayers: 2, manager, rng: new Rng(1) });
 * manager.requestGermination("seed1_1", 5); // true: seed1_1 starts training its child
 */
export class SeedManager {
  readonly seeds = new Map<string, SeedEntry>();
  readonly germinationLog: GerminationEvent[] = [];
  /** The epoch stamped on log records; the training loop advances it. */
  epoch = 0;
  private readonly clock: () => number;
  private readonly bufferSize: number;
  private readonly hooks: SeedManagerHooks;

  constructor(options: SeedManagerOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.bufferSize = options.bufferSize ?? 500;
    this.hooks = options.hooks ?? {};
  }

  /** Adds a seed (its constructor calls this). */
  register(seed: SentinelSeed): void {
    this.seeds.set(seed.id, {
      seed,
      status: "dormant",
      state: "dormant",
      alpha: 0,
      buffer: [],
      driftTensor: undefined,
    });
  }

  /** Stores a reference to `x` (a cheap clone sharing its data) in the seed's buffer; unknown ids are ignored. */
  appendToBuffer(seedId: string, x: tf.Tensor2D): void {
    const entry = this.seeds.get(seedId);
    if (!entry || this.bufferSize <= 0) return;
    if (entry.buffer.length >= this.bufferSize) entry.buffer.shift()?.dispose();
    entry.buffer.push(tf.keep(x.clone()));
  }

  /** The seed's buffered batches (oldest first); empty for an unknown id. */
  buffer(seedId: string): readonly tf.Tensor2D[] {
    return this.seeds.get(seedId)?.buffer ?? [];
  }

  /** Records the latest drift (takes ownership of `drift`); unknown ids are ignored. */
  recordDrift(seedId: string, drift: tf.Scalar): void {
    const entry = this.seeds.get(seedId);
    if (!entry) {
      drift.dispose();
      return;
    }
    entry.driftTensor?.dispose();
    entry.driftTensor = tf.keep(drift);
  }

  /** The last recorded drift `1 - mean cos(x, out)`, or 0 before any (reads the device). */
  drift(seedId: string): number {
    const t = this.seeds.get(seedId)?.driftTensor;
    return t ? t.dataSync()[0]! : 0;
  }

  /** Mirrors a seed's α into its entry. */
  setAlpha(seedId: string, alpha: number): void {
    const entry = this.seeds.get(seedId);
    if (entry) entry.alpha = alpha;
  }

  /** Logs a state change and syncs the entry's state and status. */
  recordTransition(seedId: string, from: SeedState, to: SeedState): void {
    const entry = this.seeds.get(seedId);
    if (entry) {
      entry.state = to;
      entry.status = to === "active" ? "active" : to === "dormant" ? "dormant" : "pending";
    }
    this.germinationLog.push({
      event_type: "state_transition",
      seed_id: seedId,
      from,
      to,
      epoch: this.epoch,
      timestamp: this.clock(),
    });
    this.hooks.onTransition?.(this.epoch, seedId, from, to);
  }

  /**
   * Germinates a dormant seed: initialises its child (state → training) and marks its status active.
   * Returns false for an unknown or non-dormant seed, or when initialisation throws (status → failed).
   */
  requestGermination(seedId: string, epoch = 0): boolean {
    const entry = this.seeds.get(seedId);
    if (entry?.status !== "dormant") return false;
    try {
      entry.seed.initializeChild();
    } catch (err) {
      entry.status = "failed";
      this.germinationLog.push({
        event_type: "germination_attempt",
        seed_id: seedId,
        success: false,
        epoch,
        timestamp: this.clock(),
        error: err instanceof Error ? err.message : String(err),
      });
      return false;
    }
    // As in the original: status says "active" right away while the state is still "training";
    // the next transition resyncs it.
    entry.status = "active";
    this.germinationLog.push({
      event_type: "germination_attempt",
      seed_id: seedId,
      success: true,
      epoch,
      timestamp: this.clock(),
    });
    this.hooks.onGermination?.(epoch, seedId);
    return true;
  }

  /** Frees every buffered activation and drift scalar. */
  dispose(): void {
    for (const entry of this.seeds.values()) {
      for (const t of entry.buffer) t.dispose();
      entry.buffer = [];
      entry.driftTensor?.dispose();
      entry.driftTensor = undefined;
    }
  }
}

/** Construction options for {@link SentinelSeed} (defaults as the original's). */
export interface SentinelSeedOptions {
  id: string;
  dim: number;
  manager: SeedManager;
  /** Source of the Kaiming-normal initial weights at germination. */
  rng: Rng;
  blendSteps?: number;
  shadowLr?: number;
  progressThresh?: number;
  driftWarn?: number;
}

/**
 * A residual adapter after a hidden layer: identity until germinated, then a child
 * `Linear(dim, 4·dim) → ReLU → Linear(4·dim, dim)` trained as an autoencoder on buffered activations,
 * blended in over `blendSteps` batches, and finally added as `x + child(x)`.
 *
 * @example
 * const seed = new SentinelSeed({ id: "s", dim: 8, manager, rng: new Rng(1) });
 * seed.forward(x); // returns x unchanged while dormant
 */
export class SentinelSeed {
  readonly id: string;
  readonly dim: number;
  readonly blendSteps: number;
  readonly progressThresh: number;
  readonly driftWarn: number;
  state: SeedState = "dormant";
  alpha = 0;
  trainingProgress = 0;
  readonly w1: tf.Variable;
  readonly b1: tf.Variable;
  readonly w2: tf.Variable;
  readonly b2: tf.Variable;
  private readonly manager: SeedManager;
  private readonly rng: Rng;
  private readonly childOptim: tf.AdamOptimizer;

  constructor(o: SentinelSeedOptions) {
    this.id = o.id;
    this.dim = o.dim;
    this.manager = o.manager;
    this.rng = o.rng;
    this.blendSteps = o.blendSteps ?? 30;
    this.progressThresh = o.progressThresh ?? 0.6;
    this.driftWarn = o.driftWarn ?? 0.12;
    // Zero and frozen until germination, as the original; no names, so several models can coexist.
    // tidy frees the initial values; variables themselves are never tidied.
    const zeros = (shape: number[]) => tf.tidy(() => tf.variable(tf.zeros(shape), false));
    this.w1 = zeros([o.dim, 4 * o.dim]);
    this.b1 = zeros([4 * o.dim]);
    this.w2 = zeros([4 * o.dim, o.dim]);
    this.b2 = zeros([o.dim]);
    this.childOptim = tf.train.adam(o.shadowLr ?? 1e-3, 0.9, 0.999, 1e-8);
    this.manager.register(this);
  }

  /** The child's four variables. */
  childVariables(): tf.Variable[] {
    return [this.w1, this.b1, this.w2, this.b2];
  }

  /** True once germinated (the child's variables are trainable). */
  get germinated(): boolean {
    return this.w1.trainable;
  }

  /** The child network applied to `x` [B, dim]. */
  child(x: tf.Tensor2D): tf.Tensor2D {
    return dense(dense(x, this.w1, this.b1, true), this.w2, this.b2, false);
  }

  /**
   * The seed's output for `x`; buffers `x` unless active and records drift once the child contributes.
   * Call inside tf.tidy (or an optimizer's minimize).
   */
  forward(x: tf.Tensor2D): tf.Tensor2D {
    if (this.state !== "active") this.manager.appendToBuffer(this.id, x);
    if (this.state === "dormant" || this.state === "training") return x;
    const c = this.child(x);
    const out: tf.Tensor2D = this.state === "blending" ? tf.add(x, tf.mul(c, this.alpha)) : tf.add(x, c);
    this.manager.recordDrift(this.id, cosineDrift(x, out));
    return out;
  }

  /** Germination: Kaiming-normal weights, zero biases, trainable child, state → training. */
  initializeChild(): void {
    const dim = this.dim;
    tf.tidy(() => {
      this.w1.assign(kaimingNormal(this.rng, dim, 4 * dim));
      this.b1.assign(tf.zeros([4 * dim]));
      this.w2.assign(kaimingNormal(this.rng, 4 * dim, dim));
      this.b2.assign(tf.zeros([dim]));
    });
    for (const v of this.childVariables()) v.trainable = true;
    this.setState("training");
  }

  /**
   * One Adam step of the child as an identity autoencoder on `inputs` (only while training), then
   * +0.01 progress; past `progressThresh` the seed starts blending at α = 0.
   */
  trainChildStep(inputs: tf.Tensor2D): void {
    if (this.state !== "training" || inputs.shape[0] === 0) return;
    this.childOptim.minimize(
      () => tf.losses.meanSquaredError(inputs, this.child(inputs)) as tf.Scalar,
      false,
      this.childVariables(),
    );
    this.trainingProgress = Math.min(1, this.trainingProgress + 0.01);
    if (this.trainingProgress > this.progressThresh) {
      this.setState("blending");
      this.alpha = 0;
    }
    this.manager.setAlpha(this.id, this.alpha);
  }

  /** While blending: α += 1/blendSteps (capped at 1); at α ≥ 0.99 the seed becomes active with α = 1. */
  updateBlending(): void {
    if (this.state !== "blending") return;
    this.alpha = Math.min(1, this.alpha + 1 / this.blendSteps);
    if (this.alpha >= 0.99) {
      this.alpha = 1;
      this.setState("active");
    }
    this.manager.setAlpha(this.id, this.alpha);
  }

  /** Moves to `next` and logs it; a transition to the current state is ignored. */
  setState(next: SeedState): void {
    if (next === this.state) return;
    const prev = this.state;
    this.state = next;
    this.manager.recordTransition(this.id, prev, next);
  }

  /**
   * Mean unbiased per-feature variance of all buffered activations; Infinity with fewer than 10
   * buffered batches. Lower means a worse bottleneck, so the controller germinates the lowest.
   */
  healthSignal(): number {
    const buffer = this.manager.buffer(this.id);
    if (buffer.length < 10) return Number.POSITIVE_INFINITY;
    const value = tf.tidy(() => {
      const all = tf.concat([...buffer], 0);
      const n = all.shape[0];
      return tf.mean(tf.mul(tf.moments(all, 0).variance, n / (n - 1)));
    });
    const v = value.dataSync()[0]!;
    value.dispose();
    return v;
  }

  /** Frees the child's variables and optimizer state. */
  dispose(): void {
    for (const v of this.childVariables()) v.dispose();
    this.childOptim.dispose();
  }
}

/** `1 - mean_rows cos(x, out)` with torch's eps 1e-8 on the norm product. */
function cosineDrift(x: tf.Tensor2D, out: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const dot = tf.sum(tf.mul(x, out), 1);
    const norms = tf.mul(tf.norm(x, "euclidean", 1), tf.norm(out, "euclidean", 1));
    return tf.sub(1, tf.mean(tf.div(dot, tf.maximum(norms, 1e-8)))) as tf.Scalar;
  });
}

/** Kaiming-normal (fan_in, ReLU gain) weights for a [fanIn, fanOut] matrix from our PRNG. */
export function kaimingNormal(rng: Rng, fanIn: number, fanOut: number): tf.Tensor2D {
  const std = Math.sqrt(2 / fanIn);
  const values = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal(0, std);
  return tf.tensor2d(values, [fanIn, fanOut]);
}
