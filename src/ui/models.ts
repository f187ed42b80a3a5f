/**
 * The model registry in the UI's JSON API (docs/ui.md): registered models, one model with its versions,
 * one version with its files, signature and URIs, a version file's bytes, and the versions a run was
 * registered as. Read-only: it folds the registry's event log (registry/registry.ts) and reads the files
 * from the store; it never takes the registry lock nor writes an event. The shaping is pure and
 * unit-tested; the routes are thin.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { MtrackError } from "../errors.js";
import { modelEntries } from "../registry/content.js";
import { modelNotFound, versionNotFound } from "../registry/models.js";
import { parseVersion, stageOf } from "../registry/names.js";
import type { Registry } from "../registry/registry.js";
import type { ModelVersion, RegisteredModel, RegistryState } from "../registry/types.js";
import { Router } from "../server/router.js";
import type { Hash, ObjectStore } from "../store/types.js";
import { validateArtifactName } from "../tracking/names.js";
import type { DirEntry } from "../tracking/types.js";
import { artifactHeaders, artifactKind } from "./artifacts.js";
import { sendUiJson } from "./respond.js";
import type {
  ModelFile,
  ModelInfo,
  ModelSummary,
  ModelVersionInfo,
  ModelVersionRow,
  RegisteredRef,
} from "./wire.js";

/** Opens a stored object as a stream; undefined when it is not there as one (it is then read whole). */
export type OpenObject = (hash: Hash) => Promise<Readable | undefined>;

/** What the models routes read. */
export interface ModelsApiOptions {
  /** The registry's event log (read only). */
  registry: Registry;
  store: ObjectStore;
  /** The name of a run of this repository, or undefined (for the versions table's run column). */
  runNames?: () => ReadonlyMap<string, string>;
  /** Streams a file's object (large model files are not read whole); default: read it whole. */
  openObject?: OpenObject;
}

/**
 * The registry directory that sits beside a tracking dir (`<repo>/.mtrack/runs` → `<repo>/.mtrack/registry`).
 *
 * @example
 * registryDirBeside("/repo/.mtrack/runs"); // "/repo/.mtrack/registry"
 */
export function registryDirBeside(trackingDir: string): string {
  return path.join(path.dirname(trackingDir), "registry");
}

/**
 * A streaming opener over a store's loose objects (where large files live; small ones are packed and read
 * whole instead).
 *
 * @example
 * const ui = await startUiServer({ ..., openObject: looseObjectOpener(repo.store) });
 */
export function looseObjectOpener(store: { loosePath(hash: Hash): string }): OpenObject {
  return async (hash) => {
    const file = store.loosePath(hash);
    return fs.existsSync(file) ? fs.createReadStream(file) : undefined;
  };
}

/**
 * A model as a row of GET /models.
 *
 * @example
 * modelSummary(registry.state().models.get("clf")!).latestVersion; // 3
 */
export function modelSummary(m: RegisteredModel): ModelSummary {
  return {
    name: m.name,
    description: m.description,
    tags: m.tags,
    versionCount: m.versions.size,
    latestVersion: m.versions.size === 0 ? null : Math.max(...m.versions.keys()),
    aliases: m.aliases,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
    user: m.user,
  };
}

/**
 * A version as a row of its model's versions table; `runName` names its source run when known.
 *
 * @example
 * versionRow(v, "lr0.1").uri; // "models:/clf/2"
 */
export function versionRow(v: ModelVersion, runName?: string): ModelVersionRow {
  return {
    name: v.name,
    version: v.version,
    uri: `models:/${v.name}/${v.version}`,
    aliases: v.aliases,
    stage: stageOf(v.aliases),
    source: v.source,
    runId: v.runId,
    runName: runName ?? null,
    modelId: v.modelId,
    commit: v.commit,
    size: v.content.size,
    fileCount: v.content.files,
    flavor: v.flavor,
    description: v.description,
    tags: v.tags,
    createdAt: v.createdAt,
    user: v.user,
  };
}

/**
 * A model with its versions, newest first (GET /models/:name).
 *
 * @example
 * modelInfo(m, new Map()).versions[0]?.version; // the latest
 */
export function modelInfo(m: RegisteredModel, runNames: ReadonlyMap<string, string>): ModelInfo {
  const versions = [...m.versions.values()].sort((a, b) => b.version - a.version);
  return {
    ...modelSummary(m),
    versions: versions.map((v) => versionRow(v, v.runId === null ? undefined : runNames.get(v.runId))),
  };
}

/**
 * One version in detail (GET /models/:name/versions/:version): `entries` are its files, undefined when its
 * manifest is not in this store.
 *
 * @example
 * versionInfo(v, entries).uris; // ["models:/clf/2", "models:/clf@champion"]
 */
export function versionInfo(
  v: ModelVersion,
  entries: readonly DirEntry[] | undefined,
  runName?: string,
): ModelVersionInfo {
  const files: ModelFile[] = (entries ?? [])
    .map((e) => ({ path: e.name, size: e.size, kind: artifactKind(e.name) }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    ...versionRow(v, runName),
    contentHash: v.content.hash,
    signature: v.signature,
    uris: [`models:/${v.name}/${v.version}`, ...v.aliases.map((a) => `models:/${v.name}@${a}`)],
    files,
    missing: entries === undefined,
  };
}

/**
 * The live versions registered from a run, by model name then version (the run page's "Registered as").
 *
 * @example
 * versionsOfRun(registry.state(), run.runId); // [{ name: "clf", version: 2, aliases: ["champion"] }]
 */
export function versionsOfRun(state: RegistryState, runId: string): RegisteredRef[] {
  const refs: RegisteredRef[] = [];
  for (const m of state.models.values()) {
    for (const v of m.versions.values()) {
      if (v.runId === runId) refs.push({ name: v.name, version: v.version, aliases: v.aliases });
    }
  }
  return refs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version - b.version));
}

/** A model of the folded registry, or ERR_MTRACK_MODEL_NOT_FOUND. */
function modelOf(state: RegistryState, name: string): RegisteredModel {
  const m = state.models.get(name);
  if (m === undefined) throw modelNotFound(name);
  return m;
}

/** A live version (`3` or `v3`), or ERR_MTRACK_MODEL_NOT_FOUND / ERR_MTRACK_INVALID_ARGUMENT. */
function versionOf(state: RegistryState, name: string, versionText: string): ModelVersion {
  const n = parseVersion(versionText);
  const v = modelOf(state, name).versions.get(n);
  if (v === undefined) throw versionNotFound(name, n);
  return v;
}

/** The files of a version, or undefined when its manifest is not in this store. */
function entriesOf(store: ObjectStore, v: ModelVersion): DirEntry[] | undefined {
  try {
    return modelEntries(store, v.content);
  } catch (err) {
    if (err instanceof MtrackError && err.code === "ERR_MTRACK_OBJECT_MISSING") return undefined;
    throw err;
  }
}

/**
 * The registry's routes (mounted under /api/v1 by uiApi): `/models`, `/models/:name`,
 * `/models/:name/versions/:version` and `/models/:name/versions/:version/file?path=<p>[&download=1]`.
 *
 * @example
 * router.mount("", modelsApi({ registry: new Registry({ dir }), store }));
 */
export function modelsApi(options: ModelsApiOptions): Router {
  const { registry, store } = options;
  const runNames = options.runNames ?? (() => new Map<string, string>());
  const router = new Router();

  router.add({
    method: "GET",
    pattern: "/models",
    access: "public",
    handler: async ({ res }) => {
      const models = [...registry.state().models.values()]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map(modelSummary);
      sendUiJson(res, 200, { models });
    },
  });

  router.add({
    method: "GET",
    pattern: "/models/:name",
    access: "public",
    handler: async ({ res, params }) => {
      sendUiJson(res, 200, modelInfo(modelOf(registry.state(), params.name ?? ""), runNames()));
    },
  });

  router.add({
    method: "GET",
    pattern: "/models/:name/versions/:version",
    access: "public",
    handler: async ({ res, params }) => {
      const v = versionOf(registry.state(), params.name ?? "", params.version ?? "");
      const runName = v.runId === null ? undefined : runNames().get(v.runId);
      sendUiJson(res, 200, versionInfo(v, entriesOf(store, v), runName));
    },
  });

  router.add({
    method: "GET",
    pattern: "/models/:name/versions/:version/file",
    access: "public",
    handler: async ({ req, res, params, url }) => {
      const name = url.searchParams.get("path") ?? "";
      // The path is looked up in the manifest, never joined to a directory; refusing '..' and absolute
      // paths anyway keeps the answer a clear 400 rather than a 404 that looks like a missing file.
      validateArtifactName(name);
      const v = versionOf(registry.state(), params.name ?? "", params.version ?? "");
      const entry = modelEntries(store, v.content).find((e) => e.name === name);
      if (entry === undefined) {
        throw new MtrackError(
          "ERR_MTRACK_PATH_NOT_FOUND",
          `Version ${v.version} of model ${JSON.stringify(v.name)} has no file ${name}.`,
          {
            hint: `List its files with GET /api/v1/models/${encodeURIComponent(v.name)}/versions/${v.version}.`,
            data: { name: v.name, version: v.version, path: name },
          },
        );
      }
      const headers = artifactHeaders(name, entry.size, url.searchParams.get("download") === "1");
      const stream = req.method === "HEAD" ? undefined : await options.openObject?.(entry.hash);
      // Read before the headers go out, so a missing object is still an error answer.
      const bytes = req.method === "HEAD" || stream !== undefined ? undefined : store.readObject(entry.hash);
      res.writeHead(200, headers);
      if (stream === undefined) res.end(bytes);
      else await pipeline(stream, res);
    },
  });
  return router;
}
