/**
 * Saving and loading a trained BaseNet: `model.json` (architecture, seed states, run params and a TF.js
 * style weights manifest) plus one little-endian float32 `weights.bin`. The network is not a
 * tf.LayersModel (seeds change its graph), so {@link loadModel} rebuilds it from these two files.
 */
import * as tf from "@tensorflow/tfjs";
import { MtrackError } from "../errors.js";
import { BaseNet } from "./model.js";
import { Rng } from "./random.js";
import { SeedManager, type SeedState } from "./seeds.js";
import type { StandardScaler } from "./train.js";

/** The `model.json` document. */
export interface ModelJson {
  format: "mtrack-morphogenetic-v1";
  architecture: {
    input_dim: number;
    hidden_dim: number;
    num_layers: number;
    seeds_per_layer: number;
    classes: 2;
  };
  seeds: { id: string; state: SeedState; alpha: number; germinated: boolean }[];
  params: Record<string, unknown>;
  /**
   * How raw features become the network's input, when the trainer recorded it: `(x - mean) / scale` per
   * column (the scaler fitted in training). Absent in models saved before it was recorded.
   */
  preprocessing?: { standard_scaler: StandardScaler };
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: "float32" }[] }[];
}

/** The two files of a saved model. */
export interface ModelArtifact {
  modelJson: ModelJson;
  weights: Uint8Array;
}

function namedVariables(model: BaseNet): [string, tf.Variable][] {
  const out: [string, tf.Variable][] = [
    ["input/kernel", model.inputLayer.w],
    ["input/bias", model.inputLayer.b],
  ];
  model.layers.forEach((l, i) => {
    out.push([`hidden${i + 1}/kernel`, l.w], [`hidden${i + 1}/bias`, l.b]);
  });
  out.push(["out/kernel", model.out.w], ["out/bias", model.out.b]);
  for (const s of model.allSeeds) {
    // Dormant seeds are the identity; their zero children are not worth storing.
    if (!s.germinated) continue;
    out.push([`${s.id}/w1`, s.w1], [`${s.id}/b1`, s.b1], [`${s.id}/w2`, s.w2], [`${s.id}/b2`, s.b2]);
  }
  return out;
}

/**
 * Serialises the model's weights and seed states (and the scaler its inputs need, when given).
 *
 * @example
 * const { modelJson, weights } = exportModel(model, config, { scaler }); // scaler: from onTrained
 * fs.writeFileSync("model/model.json", JSON.stringify(modelJson)); fs.writeFileSync("model/weights.bin", weights);
 */
export function exportModel(
  model: BaseNet,
  params: Record<string, unknown>,
  options: { scaler?: StandardScaler } = {},
): ModelArtifact {
  const vars = namedVariables(model);
  const chunks = vars.map(([, v]) => v.dataSync() as Float32Array);
  const weights = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    weights.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), at);
    at += c.byteLength;
  }
  return {
    modelJson: {
      format: "mtrack-morphogenetic-v1",
      architecture: {
        input_dim: model.inputDim,
        hidden_dim: model.hiddenDim,
        num_layers: model.numLayers,
        seeds_per_layer: model.seedsPerLayer,
        classes: 2,
      },
      seeds: model.allSeeds.map((s) => ({
        id: s.id,
        state: s.state,
        alpha: s.alpha,
        germinated: s.germinated,
      })),
      params,
      ...(options.scaler
        ? {
            preprocessing: {
              standard_scaler: { mean: [...options.scaler.mean], scale: [...options.scaler.scale] },
            },
          }
        : {}),
      weightsManifest: [
        {
          paths: ["weights.bin"],
          weights: vars.map(([name, v]) => ({ name, shape: v.shape, dtype: "float32" as const })),
        },
      ],
    },
    weights,
  };
}

function invalidModel(problem: string): MtrackError {
  return new MtrackError("ERR_MTRACK_FORMAT_INVALID", `model.json/weights.bin: ${problem}`, {
    data: { problem },
    hint: "Use the model.json and weights.bin written together by the train stage.",
  });
}

/**
 * Rebuilds a trained model for inference (`tf.tidy(() => model.forward(x))`); call `model.dispose()`
 * when done. Throws ERR_MTRACK_FORMAT_INVALID when the two files do not fit together.
 *
 * @example
 * const model = loadModel(JSON.parse(fs.readFileSync("model/model.json", "utf8")), fs.readFileSync("model/weights.bin"));
 */
export function loadModel(modelJson: ModelJson, weights: Uint8Array): BaseNet {
  if (modelJson?.format !== "mtrack-morphogenetic-v1")
    throw invalidModel(`unknown format ${String(modelJson?.format)}`);
  const a = modelJson.architecture;
  const model = new BaseNet({
    inputDim: a.input_dim,
    hiddenDim: a.hidden_dim,
    numLayers: a.num_layers,
    seedsPerLayer: a.seeds_per_layer,
    manager: new SeedManager({ bufferSize: 0 }),
    rng: new Rng(0),
  });
  try {
    const byName = new Map(namedVariablesForLoad(model, modelJson));
    const specs = modelJson.weightsManifest.flatMap((m) => m.weights);
    const floats = new Float32Array(
      weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    );
    let at = 0;
    for (const spec of specs) {
      const v = byName.get(spec.name);
      const size = spec.shape.reduce((n, d) => n * d, 1);
      if (!v || v.size !== size) throw invalidModel(`weight ${spec.name} does not fit the architecture`);
      if (at + size > floats.length) throw invalidModel("weights.bin is shorter than the manifest");
      const values = floats.subarray(at, at + size);
      tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
      at += size;
    }
    if (at !== floats.length) throw invalidModel("weights.bin is longer than the manifest");
    for (const s of modelJson.seeds) {
      const seed = model.allSeeds.find((x) => x.id === s.id);
      if (!seed) throw invalidModel(`unknown seed ${s.id}`);
      seed.state = s.state;
      seed.alpha = s.alpha;
    }
    return model;
  } catch (err) {
    model.dispose();
    throw err;
  }
}

function namedVariablesForLoad(model: BaseNet, json: ModelJson): [string, tf.Variable][] {
  const germinated = new Set(json.seeds.filter((s) => s.germinated).map((s) => s.id));
  for (const s of model.allSeeds)
    if (germinated.has(s.id)) for (const v of s.childVariables()) v.trainable = true;
  return namedVariables(model);
}
