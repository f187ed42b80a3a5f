/**
 * A model's files: turning a source (a run's artifact or model, a logged model, a workspace path) into a
 * directory manifest in the store, reading what kind of model it is (its flavor and signature), and
 * writing a manifest out to a folder. The manifest format is the one runs use for directory artifacts
 * and models (DirEntry[], msgpackr), so a version made from a run's model is the same object: no copy.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { ioError, MtrackError } from "../errors.js";
import type { ObjectStore } from "../store/types.js";
import { putDirectory } from "../tracking/api.js";
import { newPackr } from "../tracking/frames.js";
import { getRun, readManifest, resolveRunId } from "../tracking/read.js";
import type { DirEntry } from "../tracking/types.js";
import type { LoggedModel, ModelContent, ModelSignature } from "./types.js";

/** A model's content with what was learnt while resolving it. */
export interface ResolvedContent {
  content: ModelContent;
  runId: string | null;
  /** Signature recorded with the run's model (logModel), if any. */
  signature: ModelSignature | null;
}

function contentOf(hash: string, entries: readonly DirEntry[]): ModelContent {
  return { hash, size: entries.reduce((n, e) => n + e.size, 0), files: entries.length };
}

/** Stores a manifest for entries whose objects are already in the store. */
export function putManifest(store: ObjectStore, entries: DirEntry[]): ModelContent {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const put = store.putBuffer(newPackr().pack(sorted));
  return contentOf(put.hash, sorted);
}

/** The entries of a stored model manifest. */
export function modelEntries(store: ObjectStore, content: ModelContent): DirEntry[] {
  if (!store.has(content.hash)) {
    throw new MtrackError(
      "ERR_MTRACK_OBJECT_MISSING",
      `The model's manifest ${content.hash} is not in the store.`,
      {
        hint: "Fetch it from the remote with `mtrack pull --runs` (or `mtrack fetch --runs`).",
        data: { hash: content.hash },
      },
    );
  }
  return readManifest(store, content.hash);
}

/**
 * The content of `runs:/<run>/<path>`: the run's model of that name (the same manifest), a directory
 * artifact, a file artifact, or every artifact under the prefix `path/` (collected into a new manifest
 * of objects already stored). Undefined when the run has nothing there (a logged model may).
 *
 * @example
 * contentFromRun(runsDir, store, "3f2a", "model")?.content.hash;
 */
export function contentFromRun(
  runsDir: string,
  store: ObjectStore,
  runIdOrPrefix: string,
  artifactPath: string,
): ResolvedContent | undefined {
  let runId: string;
  try {
    runId = resolveRunId(runsDir, runIdOrPrefix);
  } catch (err) {
    throw new MtrackError("ERR_MTRACK_MODEL_SOURCE_NOT_FOUND", (err as Error).message, {
      hint: "Name a run of this repository (`mtrack runs list`), or pull it first (`mtrack pull --runs`).",
      data: { runId: runIdOrPrefix },
    });
  }
  const run = getRun(runsDir, store, runId);
  const p = artifactPath.replace(/^\/+|\/+$/g, "");
  const model = run.models.find((m) => m.name === p);
  if (model !== undefined) {
    const entries = readManifest(store, model.hash);
    const sig = model.signature as ModelSignature | null;
    return { content: contentOf(model.hash, entries), runId, signature: sig ?? null };
  }
  const entries: DirEntry[] = [];
  for (const a of run.artifacts) {
    if (a.hash === "") continue;
    if (p === "" || a.name === p || a.name.startsWith(`${p}/`)) {
      const rel = p === "" ? a.name : a.name === p ? "" : a.name.slice(p.length + 1);
      if (a.kind === "dir") {
        if (rel === "" && p !== "") {
          const own = readManifest(store, a.hash);
          return { content: contentOf(a.hash, own), runId, signature: null };
        }
        for (const e of readManifest(store, a.hash))
          entries.push({ ...e, name: rel === "" ? e.name : `${rel}/${e.name}` });
      } else {
        entries.push({ name: rel === "" ? path.posix.basename(a.name) : rel, hash: a.hash, size: a.size });
      }
    } else if (a.kind === "dir" && p.startsWith(`${a.name}/`)) {
      const sub = p.slice(a.name.length + 1);
      for (const e of readManifest(store, a.hash)) {
        if (e.name === sub) entries.push({ ...e, name: path.posix.basename(e.name) });
        else if (e.name.startsWith(`${sub}/`)) entries.push({ ...e, name: e.name.slice(sub.length + 1) });
      }
    }
  }
  if (entries.length === 0) return undefined;
  return { content: putManifest(store, entries), runId, signature: null };
}

/**
 * The content of a logged model: its uploaded files.
 *
 * @example
 * contentFromLogged(store, loggedModel).hash;
 */
export function contentFromLogged(store: ObjectStore, lm: LoggedModel): ModelContent {
  return putManifest(
    store,
    [...lm.files.values()].map((f) => ({ name: f.path, hash: f.hash, size: f.size })),
  );
}

/**
 * Stores a workspace file or directory as a model (a file becomes a one-file model).
 *
 * @example
 * await contentFromPath(store, "/repo/results/model");
 */
export async function contentFromPath(store: ObjectStore, absPath: string): Promise<ModelContent> {
  let st: fs.Stats;
  try {
    st = fs.statSync(absPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new MtrackError("ERR_MTRACK_MODEL_SOURCE_NOT_FOUND", `${absPath} does not exist.`, {
        hint: "Register a path that exists, a run's model (runs:/<run-id>/model) or another version (models:/<name>/<n>).",
        data: { path: absPath },
      });
    }
    throw ioError(err, `reading ${absPath}`);
  }
  if (st.isDirectory()) {
    const put = await putDirectory(store, absPath);
    const entries = readManifest(store, put.hash);
    if (entries.length === 0) {
      throw new MtrackError("ERR_MTRACK_NOT_A_MODEL", `${absPath} is an empty directory.`, {
        hint: "Register the directory the model was saved to.",
        data: { path: absPath },
      });
    }
    return contentOf(put.hash, entries);
  }
  const put = await store.putFile(absPath);
  await store.flush();
  return putManifest(store, [{ name: path.basename(absPath), hash: put.hash, size: put.size }]);
}

/** What kind of model some files are. */
export interface ModelKind {
  /** "tfjs-morphogenetic" (mtrack's engine), "mlflow" (an MLmodel file), or "files". */
  flavor: string;
  signature: ModelSignature | null;
  /** For the engine's models: the input width. */
  inputDim?: number;
}

/**
 * Reads the flavor and signature from a model's files: MLflow's `MLmodel` (its `signature:` block), or
 * the engine's `model.json` (input width from the architecture). Unreadable files give "files".
 *
 * @example
 * inspectModel(store, entries).flavor; // "tfjs-morphogenetic"
 */
export function inspectModel(store: ObjectStore, entries: readonly DirEntry[]): ModelKind {
  const mlmodel = entries.find((e) => e.name === "MLmodel");
  if (mlmodel !== undefined) {
    try {
      const doc = YAML.parse(store.readObject(mlmodel.hash).toString("utf8")) as Record<string, unknown>;
      const sig = doc?.signature as Record<string, unknown> | undefined;
      const parse = (v: unknown) => (typeof v === "string" ? JSON.parse(v) : (v ?? null));
      return {
        flavor: "mlflow",
        signature: sig
          ? { inputs: parse(sig.inputs), outputs: parse(sig.outputs), params: parse(sig.params) }
          : null,
      };
    } catch {
      return { flavor: "mlflow", signature: null };
    }
  }
  const modelJson = entries.find((e) => e.name === "model.json");
  if (modelJson !== undefined) {
    try {
      const doc = JSON.parse(store.readObject(modelJson.hash).toString("utf8")) as {
        format?: string;
        architecture?: { input_dim?: number; classes?: number };
      };
      if (doc.format === "mtrack-morphogenetic-v1" && typeof doc.architecture?.input_dim === "number") {
        const inputDim = doc.architecture.input_dim;
        return {
          flavor: "tfjs-morphogenetic",
          inputDim,
          signature: {
            inputs: [{ type: "tensor", "tensor-spec": { dtype: "float32", shape: [-1, inputDim] } }],
            outputs: [{ type: "tensor", "tensor-spec": { dtype: "int64", shape: [-1] } }],
          },
        };
      }
    } catch {
      // not the engine's model.json
    }
  }
  return { flavor: "files", signature: null };
}

/**
 * Writes a model's files into `dest` (created; files already there are replaced).
 *
 * @example
 * materializeModel(store, version.content, "out/model");
 */
export function materializeModel(store: ObjectStore, content: ModelContent, dest: string): DirEntry[] {
  const entries = modelEntries(store, content);
  try {
    fs.mkdirSync(dest, { recursive: true });
    for (const e of entries) {
      const out = path.join(dest, ...e.name.split("/"));
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.rmSync(out, { force: true });
      store.materialize(e.hash, out);
    }
  } catch (err) {
    throw ioError(err, `writing the model to ${dest}`);
  }
  return entries;
}
