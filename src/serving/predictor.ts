/**
 * A loaded model that answers scoring requests: the engine's saved network (`model.json` +
 * `weights.bin`, see engine/export.ts) rebuilt with `loadModel` on the engine's TF.js backend.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { type BackendName, initBackend } from "../engine/backend.js";
import { loadModel, type ModelJson } from "../engine/export.js";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import type { ScoringInput } from "./input.js";

/** The flavor name of the engine's models (as `inspectModel` in registry/content.ts reports it). */
export const ENGINE_FLAVOR = "tfjs-morphogenetic";

/** A model ready to score. */
export interface Predictor {
  flavor: string;
  /** Features per row. */
  inputDim: number;
  /** Number of classes (the predicted index is in 0..classes-1). */
  classes: number;
  /** The TF.js backend it runs on. */
  backend: BackendName;
  /**
   * True when the model carries its training scaler (`preprocessing.standard_scaler` in model.json):
   * requests then send raw features, standardised here as in training. Older models take them as given.
   */
  scalesInputs: boolean;
  /** The predicted class index of every row. */
  predict(input: ScoringInput): number[];
  /** Frees the model's tensors. */
  dispose(): void;
}

/** The file system calls the loader makes (node:fs by default; a stand-in in tests). */
export type PredictorFs = Pick<typeof nodeFs, "readFileSync">;

export interface LoadPredictorOptions {
  fs?: PredictorFs;
  /** The TF.js backend; default: what the engine picks (tfjs-node if installed, else wasm, else cpu). */
  backend?: BackendName;
}

function notAModel(dir: string, why: string): MtrackError {
  return new MtrackError("ERR_MTRACK_NOT_A_MODEL", `${dir} is not a model mtrack can serve: ${why}.`, {
    hint: "Serve the directory the train stage saved its model to (it holds model.json and weights.bin), e.g. results/model.",
    data: { path: dir, reason: why },
  });
}

/**
 * Reads and checks a model directory's `model.json`: the engine's format with an input width.
 *
 * @example
 * readModelJson("results/model").architecture.input_dim; // 3
 */
export function readModelJson(dir: string, fs: PredictorFs = nodeFs): ModelJson {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, "model.json"), "utf8");
  } catch (err) {
    const errno = errnoCode(err);
    if (errno === "ENOENT" || errno === "ENOTDIR") {
      let hasMlmodel = false;
      try {
        fs.readFileSync(path.join(dir, "MLmodel"));
        hasMlmodel = true;
      } catch {
        // not an MLflow model either
      }
      throw notAModel(
        dir,
        hasMlmodel
          ? "it is an MLflow model (MLmodel); serve it with `mlflow models serve`"
          : "it has no model.json",
      );
    }
    throw ioError(err, `reading ${path.join(dir, "model.json")}`);
  }
  let doc: Partial<ModelJson>;
  try {
    doc = JSON.parse(text) as Partial<ModelJson>;
  } catch {
    throw notAModel(dir, "its model.json is not JSON");
  }
  if (doc?.format !== "mtrack-morphogenetic-v1") {
    throw notAModel(
      dir,
      `its model.json has format ${JSON.stringify(doc?.format ?? null)}, not mtrack-morphogenetic-v1`,
    );
  }
  const dim = doc.architecture?.input_dim;
  if (typeof dim !== "number" || !Number.isInteger(dim) || dim < 1) {
    throw notAModel(dir, "its model.json has no architecture.input_dim");
  }
  return doc as ModelJson;
}

/**
 * Loads the engine's model saved in `dir` for scoring. Throws ERR_MTRACK_NOT_A_MODEL when `dir` holds no
 * engine model.json, ERR_MTRACK_FORMAT_INVALID when its weights do not fit it.
 *
 * @example
 * const p = await loadPredictor("results/model");
 * p.predict({ rows: 1, cols: 3, values: new Float32Array([0.1, 0.2, 0.3]) }); // [1]
 * p.dispose();
 */
export async function loadPredictor(dir: string, options: LoadPredictorOptions = {}): Promise<Predictor> {
  const fs = options.fs ?? nodeFs;
  const modelJson = readModelJson(dir, fs);
  const files = modelJson.weightsManifest?.flatMap((m) => m.paths) ?? [];
  if (files.length === 0) throw notAModel(dir, "its model.json lists no weight files");
  const parts: Uint8Array[] = [];
  for (const f of files) {
    // Manifest paths are relative names written by exportModel; refuse anything that leaves the folder.
    if (path.isAbsolute(f) || f.split(/[\\/]/).includes(".."))
      throw notAModel(dir, `weight path ${f} leaves the folder`);
    try {
      parts.push(fs.readFileSync(path.join(dir, f)));
    } catch (err) {
      if (errnoCode(err) === "ENOENT") throw notAModel(dir, `its weight file ${f} is missing`);
      throw ioError(err, `reading ${path.join(dir, f)}`);
    }
  }
  const backend = await initBackend(options.backend);
  const weights = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  const model = loadModel(modelJson, weights);
  const inputDim = modelJson.architecture.input_dim;
  const scaler = modelJson.preprocessing?.standard_scaler;
  if (scaler !== undefined) {
    const ok = (xs: unknown, positive: boolean) =>
      Array.isArray(xs) &&
      xs.length === inputDim &&
      xs.every((x) => typeof x === "number" && Number.isFinite(x) && (!positive || x > 0));
    if (!ok(scaler.mean, false) || !ok(scaler.scale, true)) {
      model.dispose();
      throw new MtrackError(
        "ERR_MTRACK_FORMAT_INVALID",
        `model.json: preprocessing.standard_scaler needs ${inputDim} finite means and ${inputDim} positive scales.`,
        { data: { path: dir }, hint: "Use the model.json written by the train stage." },
      );
    }
  }
  // Doubles and a division, as train.ts's standardScale computes it: served inputs match training's exactly.
  const mean = scaler?.mean;
  const scale = scaler?.scale;
  return {
    flavor: ENGINE_FLAVOR,
    inputDim,
    classes: modelJson.architecture.classes ?? 2,
    backend,
    scalesInputs: scaler !== undefined,
    predict(input: ScoringInput): number[] {
      if (input.cols !== inputDim) {
        throw new MtrackError(
          "ERR_MTRACK_SCORING_INPUT_INVALID",
          `The input has ${input.cols} columns; the model takes ${inputDim} inputs.`,
          { data: { problem: "feature_count" } },
        );
      }
      let x = input.values;
      if (mean && scale) {
        x = new Float32Array(x.length);
        for (let i = 0; i < x.length; i++) {
          const c = i % inputDim;
          x[i] = (input.values[i]! - mean[c]!) / scale[c]!;
        }
      }
      const logits = tf.tidy(() => model.forward(tf.tensor2d(x, [input.rows, inputDim])));
      let scores: Float32Array;
      try {
        scores = logits.dataSync() as Float32Array;
      } finally {
        logits.dispose();
      }
      // The argmax here rather than as one more TF.js op: an op costs more than this loop for any batch.
      const k = logits.shape[1] ?? 1;
      const out = new Array<number>(input.rows);
      for (let r = 0; r < input.rows; r++) {
        let best = 0;
        for (let c = 1; c < k; c++) if (scores[r * k + c]! > scores[r * k + best]!) best = c;
        out[r] = best;
      }
      return out;
    },
    dispose: () => model.dispose(),
  };
}
