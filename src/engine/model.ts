/**
 * BaseNet: an MLP whose hidden layers are each followed by sentinel seeds (EXPERIMENT.md §2).
 * Weights are tf.Variables so optimisers take explicit variable lists (freezing = leaving them out).
 */
import * as tf from "@tensorflow/tfjs";
import { dense } from "./ops.js";
import type { Rng } from "./random.js";
import { type SeedManager, SentinelSeed } from "./seeds.js";

/** A dense layer `x·W + b`, W stored [in, out]. */
export interface Linear {
  w: tf.Variable;
  b: tf.Variable;
}

/**
 * PyTorch's default Linear init: W and b ~ U(-1/√fan_in, 1/√fan_in), drawn from our PRNG.
 *
 * @example
 * const layer = createLinear(new Rng(1), 3, 16);
 */
export function createLinear(rng: Rng, fanIn: number, fanOut: number): Linear {
  const bound = 1 / Math.sqrt(fanIn);
  const w = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < w.length; i++) w[i] = rng.uniform(-bound, bound);
  const b = new Float32Array(fanOut);
  for (let i = 0; i < b.length; i++) b[i] = rng.uniform(-bound, bound);
  return tf.tidy(() => ({ w: tf.variable(tf.tensor2d(w, [fanIn, fanOut])), b: tf.variable(tf.tensor1d(b)) }));
}

/** Construction options for {@link BaseNet}; defaults are the original class's. */
export interface BaseNetOptions {
  inputDim: number;
  hiddenDim?: number;
  numLayers?: number;
  seedsPerLayer?: number;
  blendSteps?: number;
  shadowLr?: number;
  progressThresh?: number;
  driftWarn?: number;
  /** The seed registry of this model (one per model). */
  manager: SeedManager;
  /** Source of every initial weight (backbone now, seed children at germination). */
  rng: Rng;
}

/**
 * `input → ReLU → [hidden → ReLU → seeds]×numLayers → 2 logits`. With several seeds per layer their
 * outputs are averaged. Seed ids are `seed{layer}_{k}`, 1-based.
 *
 * @example
 * const net = new BaseNet({ inputDim: 3, hiddenDim: 32, numLayers: 2, seedsPerLayer: 2, manager, rng: new Rng(42) });
 * const logits = tf.tidy(() => net.forward(x)); // [B, 2]
 */
export class BaseNet {
  readonly inputDim: number;
  readonly hiddenDim: number;
  readonly numLayers: number;
  readonly seedsPerLayer: number;
  readonly inputLayer: Linear;
  readonly layers: Linear[];
  readonly out: Linear;
  readonly allSeeds: SentinelSeed[];

  constructor(o: BaseNetOptions) {
    this.inputDim = o.inputDim;
    this.hiddenDim = o.hiddenDim ?? 64;
    this.numLayers = o.numLayers ?? 8;
    this.seedsPerLayer = o.seedsPerLayer ?? 1;
    this.inputLayer = createLinear(o.rng, this.inputDim, this.hiddenDim);
    this.layers = [];
    this.allSeeds = [];
    for (let i = 0; i < this.numLayers; i++) {
      this.layers.push(createLinear(o.rng, this.hiddenDim, this.hiddenDim));
      for (let j = 0; j < this.seedsPerLayer; j++) {
        this.allSeeds.push(
          new SentinelSeed({
            id: `seed${i + 1}_${j + 1}`,
            dim: this.hiddenDim,
            manager: o.manager,
            rng: o.rng,
            blendSteps: o.blendSteps,
            shadowLr: o.shadowLr,
            progressThresh: o.progressThresh,
            driftWarn: o.driftWarn,
          }),
        );
      }
    }
    this.out = createLinear(o.rng, this.hiddenDim, 2);
  }

  /** Logits [B, 2] for `x` [B, inputDim]. Call inside tf.tidy or an optimizer's minimize. */
  forward(x: tf.Tensor2D): tf.Tensor2D {
    let h = applyLinear(this.inputLayer, x, true);
    for (let i = 0; i < this.numLayers; i++) {
      h = applyLinear(this.layers[i]!, h, true);
      const input = h;
      const outs = this.getSeedsForLayer(i).map((seed) => seed.forward(input));
      // Identity seeds (dormant/training) return their input: averaging copies of x is x, so skip the ops.
      if (outs.every((o) => o === input)) continue;
      h = outs.length === 1 ? outs[0]! : (tf.div(tf.addN(outs), outs.length) as tf.Tensor2D);
    }
    return applyLinear(this.out, h, false);
  }

  /** The seeds after hidden layer `i` (0-based). Throws RangeError for a bad index. */
  getSeedsForLayer(i: number): SentinelSeed[] {
    if (!Number.isInteger(i) || i < 0 || i >= this.numLayers) {
      throw new RangeError(`layer index ${i} outside 0..${this.numLayers - 1}`);
    }
    return this.allSeeds.slice(i * this.seedsPerLayer, (i + 1) * this.seedsPerLayer);
  }

  /** Number of seeds in the model. */
  getTotalSeeds(): number {
    return this.allSeeds.length;
  }

  /** Input, hidden and output layer variables (everything that is not a seed). */
  backboneVariables(): tf.Variable[] {
    return [this.inputLayer, ...this.layers, this.out].flatMap((l) => [l.w, l.b]);
  }

  /**
   * Seed child variables the task loss can reach: germinated seeds that are blending or active
   * (a training seed is the identity, so the loss has no path to its child yet).
   */
  seedTaskVariables(): tf.Variable[] {
    return this.allSeeds
      .filter((s) => s.germinated && (s.state === "blending" || s.state === "active"))
      .flatMap((s) => s.childVariables());
  }

  /** Phase 2: makes every backbone variable non-trainable, so no optimizer can touch it. */
  freezeBackbone(): void {
    for (const v of this.backboneVariables()) v.trainable = false;
  }

  /** Frees all variables of the backbone and the seeds. */
  dispose(): void {
    for (const v of this.backboneVariables()) v.dispose();
    for (const s of this.allSeeds) s.dispose();
  }
}

function applyLinear(layer: Linear, x: tf.Tensor2D, relu: boolean): tf.Tensor2D {
  return dense(x, layer.w, layer.b, relu);
}
