/**
 * Loading the engine's model by model URI (`models:/<name>@<alias>`, `models:/<name>/<version>`,
 * `runs:/<run>/model`), straight from the repository's store: no files are written. The TF.js backend is
 * initialised first (initBackend).
 */
import { MtrackError } from "../errors.js";
import { ModelRegistry } from "../registry/models.js";
import { Repo } from "../repo.js";
import { initBackend } from "./backend.js";
import { loadModel, type ModelJson } from "./export.js";
import type { BaseNet } from "./model.js";

/**
 * The morphogenetic network a model URI names, ready for `predict`.
 *
 * @example
 * const net = await loadModelByUri("models:/morphogenetic-spirals@champion", { cwd: process.cwd() });
 */
export async function loadModelByUri(
  uri: string,
  options: { cwd?: string; repo?: Repo } = {},
): Promise<BaseNet> {
  const repo = options.repo ?? Repo.open({ cwd: options.cwd ?? process.cwd() });
  const models = ModelRegistry.open(repo);
  const resolved = models.resolve(uri);
  const files = new Map(models.files(resolved.content).map((f) => [f.name, f.hash]));
  const json = files.get("model.json");
  if (json === undefined || resolved.flavor !== "tfjs-morphogenetic") {
    throw new MtrackError(
      "ERR_MTRACK_NOT_A_MODEL",
      `${uri} is not a model of mtrack's engine (flavor ${resolved.flavor}).`,
      {
        hint: "Load it with the library of its flavor, or write it out with `mtrack models get`.",
        data: { uri, flavor: resolved.flavor },
      },
    );
  }
  const modelJson = JSON.parse(repo.store.readObject(json).toString("utf8")) as ModelJson;
  const weightsName = modelJson.weightsManifest[0]?.paths[0] ?? "weights.bin";
  const weights = files.get(weightsName.replace(/^\.\//, ""));
  if (weights === undefined) {
    throw new MtrackError("ERR_MTRACK_NOT_A_MODEL", `${uri} has no ${weightsName}.`, {
      hint: "Register the whole model directory (model.json and its weights).",
      data: { uri },
    });
  }
  const bytes = repo.store.readObject(weights);
  await initBackend();
  return loadModel(modelJson, bytes);
}
