import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { isMtrackError } from "../../../src/errors.js";
import { loadPredictor } from "../../../src/serving/predictor.js";
import { saveTinyModel } from "../../helpers/engine-model.js";
import { withTempDir, writeTree } from "../../helpers/tmp.js";

test("a saved engine model loads and predicts what the trained network predicted, without leaking tensors", () =>
  withTempDir(async (tmp) => {
    const m = await saveTinyModel(path.join(tmp, "model"), 3);
    const p = await loadPredictor(m.dir);
    assert.equal(p.flavor, "tfjs-morphogenetic");
    assert.equal(p.inputDim, 3);
    assert.equal(p.classes, 2);
    assert.equal(p.scalesInputs, true, "the train stage's scaler is saved with the model");
    const values = new Float32Array(m.probe.flat());
    assert.deepEqual(p.predict({ rows: m.probe.length, cols: 3, values }), m.expected);
    // An active seed keeps its latest drift scalar (one per seed, replaced on every call): count after that.
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(p.predict({ rows: 1, cols: 3, values: values.subarray(3 * i, 3 * i + 3) }), [
        m.expected[i],
      ]);
    }
    assert.equal(tf.memory().numTensors, after1, "predict frees its tensors");
    assert.throws(
      () => p.predict({ rows: 1, cols: 2, values: new Float32Array(2) }),
      (e) => isMtrackError(e, "ERR_MTRACK_SCORING_INPUT_INVALID"),
    );
    p.dispose();
  }));

test("a model saved without a scaler takes its inputs as given; a broken scaler is refused", () =>
  withTempDir(async (tmp) => {
    const m = await saveTinyModel(path.join(tmp, "model"), 2);
    const file = path.join(m.dir, "model.json");
    const json = JSON.parse(fs.readFileSync(file, "utf8"));
    assert.deepEqual(json.preprocessing.standard_scaler, m.scaler);
    // Without the scaler, the same predictions need the rows standardised by the caller.
    fs.writeFileSync(file, JSON.stringify({ ...json, preprocessing: undefined }));
    const p = await loadPredictor(m.dir);
    assert.equal(p.scalesInputs, false);
    const scaled = m.probe.flatMap((row) => row.map((v, c) => (v - m.scaler.mean[c]!) / m.scaler.scale[c]!));
    assert.deepEqual(
      p.predict({ rows: m.probe.length, cols: 2, values: new Float32Array(scaled) }),
      m.expected,
    );
    p.dispose();
    const broken = { ...json, preprocessing: { standard_scaler: { mean: [0, 0], scale: [1, 0] } } };
    fs.writeFileSync(file, JSON.stringify(broken));
    await assert.rejects(loadPredictor(m.dir), (e) => isMtrackError(e, "ERR_MTRACK_FORMAT_INVALID"));
  }));

test("directories that are not an engine model are refused with ERR_MTRACK_NOT_A_MODEL", () =>
  withTempDir(async (tmp) => {
    writeTree(tmp, {
      "empty/.keep": "",
      "mlflow/MLmodel": "flavors: {}\n",
      "notjson/model.json": "{",
      "tfjs-layers/model.json": JSON.stringify({ format: "layers-model", modelTopology: {} }),
      "nodim/model.json": JSON.stringify({ format: "mtrack-morphogenetic-v1", architecture: {} }),
      "noweights/model.json": JSON.stringify({
        format: "mtrack-morphogenetic-v1",
        architecture: { input_dim: 2 },
        weightsManifest: [{ paths: ["weights.bin"], weights: [] }],
      }),
      "escape/model.json": JSON.stringify({
        format: "mtrack-morphogenetic-v1",
        architecture: { input_dim: 2 },
        weightsManifest: [{ paths: ["../weights.bin"], weights: [] }],
      }),
      "file.txt": "x",
    });
    for (const name of [
      "empty",
      "mlflow",
      "notjson",
      "tfjs-layers",
      "nodim",
      "noweights",
      "escape",
      "file.txt",
      "missing",
    ]) {
      await assert.rejects(
        loadPredictor(path.join(tmp, name)),
        (e) => isMtrackError(e, "ERR_MTRACK_NOT_A_MODEL") && e.exitCode === 2,
        name,
      );
    }
    // The weights file of another model: the engine's own check says the two files do not fit.
    const m = await saveTinyModel(path.join(tmp, "a"), 3);
    await saveTinyModel(path.join(tmp, "b"), 2);
    fs.copyFileSync(path.join(tmp, "b", "weights.bin"), path.join(m.dir, "weights.bin"));
    await assert.rejects(loadPredictor(m.dir), (e) => isMtrackError(e, "ERR_MTRACK_FORMAT_INVALID"));
  }));
