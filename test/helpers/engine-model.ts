/**
 * A small trained model of the engine, saved the way the train stage saves it (results/model:
 * model.json + weights.bin + metadata.json), for tests that load or serve models.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/engine/backend.js";
import { DEFAULT_DATASET_CONFIG, DEFAULT_EXPERIMENT_CONFIG } from "../../src/engine/config.js";
import { generateDataset } from "../../src/engine/datasets.js";
import { exportModel } from "../../src/engine/export.js";
import { type StandardScaler, standardScale, trainExperiment } from "../../src/engine/train.js";

export interface SavedModel {
  dir: string;
  inputDim: number;
  /**
   * The class index the trained network gave each of `probe`'s rows before saving (argmax of its logits
   * for the rows standardised with the training scaler, as training feeds them).
   */
  expected: number[];
  /** Raw rows to compare a loaded model with (`inputDim` per row). */
  probe: number[][];
  scaler: StandardScaler;
}

/**
 * Trains a tiny moons model for one epoch with one seed germinated and active (so the seed path of the
 * forward pass is stored and served too) and saves it under `dir`.
 *
 * @example
 * const m = await saveTinyModel(path.join(tmp, "model"));
 */
export async function saveTinyModel(dir: string, inputDim = 3): Promise<SavedModel> {
  await initBackend();
  const data = generateDataset({
    ...DEFAULT_DATASET_CONFIG,
    problem_type: "moons",
    n_samples: 120,
    input_dim: inputDim,
  });
  const probe = Array.from({ length: 16 }, (_, r) =>
    Array.from({ length: inputDim }, (_, c) => Math.sin(r * 7 + c * 3) * 2),
  );
  let expected: number[] = [];
  let fitted: StandardScaler | undefined;
  let artifact: ReturnType<typeof exportModel> | undefined;
  const config = {
    ...DEFAULT_EXPERIMENT_CONFIG,
    problem_type: "moons" as const,
    n_samples: 120,
    input_dim: inputDim,
    hidden_dim: 8,
    num_layers: 2,
    seeds_per_layer: 1,
    batch_size: 32,
    warm_up_epochs: 1,
    adaptation_epochs: 0,
  };
  await trainExperiment({
    config,
    data,
    onTrained: (model, { scaler }) => {
      model.allSeeds[0]!.initializeChild();
      model.allSeeds[0]!.setState("active");
      const scaled = standardScale(new Float32Array(probe.flat()), probe.length, inputDim, scaler);
      expected = tf.tidy(() => [
        ...tf.argMax(model.forward(tf.tensor2d(scaled, [probe.length, inputDim])), 1).dataSync(),
      ]);
      artifact = exportModel(model, { ...config }, { scaler });
      fitted = scaler;
    },
  });
  if (!artifact || !fitted) throw new Error("training produced no model");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "weights.bin"), artifact.weights);
  fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(artifact.modelJson));
  fs.writeFileSync(path.join(dir, "metadata.json"), JSON.stringify({ input_dim: inputDim, classes: 2 }));
  return { dir, inputDim, expected, probe, scaler: fitted };
}
