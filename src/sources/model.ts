/**
 * `mtrack import <repo> models:/<name>@<alias>`: a registered model of another repository's model
 * registry, written here as a tracked directory whose pointer records the repository, the URI and the
 * version it resolved to. The registry travels on the source's default remote (`mtrack push --models`
 * there: one ref per event), so it is read from that remote, folded, and never imported into this
 * repository's own registry; the version's files come from the same remote through the local store.
 * `update` resolves the URI again (an alias that moved gives another version).
 */
import * as path from "node:path";
import { MtrackError } from "../errors.js";
import { foldEvents } from "../registry/fold.js";
import { modelNotFound, versionNotFound } from "../registry/models.js";
import { STAGE_ALIASES } from "../registry/names.js";
import type { ModelVersion, RegistryState } from "../registry/types.js";
import { parseModelUri } from "../registry/uri.js";
import type { Remote } from "../remotes/types.js";
import type { Repo } from "../repo.js";
import type { Store } from "../store/store.js";
import { encodeTree, type TreeEntry } from "../store/tree.js";
import { readManifest } from "../tracking/read.js";
import { DEFAULT_JOBS, fetchObjects, fetchProblems, type TransferSummary } from "../transfer/objects.js";
import { readRemoteEvents } from "../transfer/registry.js";
import type { ModelSource, Pointer } from "../workspace/pointer.js";
import type { ProgressFn } from "../workspace/scan.js";
import { resolveTarget } from "../workspace/tracked.js";
import {
  checkNewTarget,
  checkUnmodified,
  type ImportCheck,
  type ImportResult,
  recordedRepo,
  sourceLocation,
  writeImported,
} from "./import.js";
import { openFor, remoteFor, type SourceContext, sourceContextOf } from "./ops.js";

/**
 * The version a model URI names in a folded registry: `/<version>`, `@<alias>`, `/latest`, `/<Stage>`.
 * Pure.
 *
 * @example
 * versionInState(foldEvents(events), "models:/clf@champion").version // 3
 */
export function versionInState(state: RegistryState, uri: string): ModelVersion {
  const u = parseModelUri(uri);
  if (u.kind === "logged" || u.kind === "run") {
    throw new MtrackError(
      "ERR_MTRACK_MODEL_URI_INVALID",
      `${uri} names no registered version: import takes models:/<name>/<version>, @<alias> or /latest.`,
      {
        hint: "Register the model in the source repository first (`mtrack models register`), then import the version.",
        data: { uri },
      },
    );
  }
  const m = state.models.get(u.name);
  if (!m) throw modelNotFound(u.name);
  let n: number | undefined;
  if (u.kind === "version") n = u.version;
  else if (u.kind === "latest") n = Math.max(0, ...m.versions.keys()) || undefined;
  else n = m.aliases[u.kind === "alias" ? u.alias : (STAGE_ALIASES[u.stage] as string)];
  const v = n === undefined ? undefined : m.versions.get(n);
  if (!v) {
    if (u.kind === "version") throw versionNotFound(u.name, u.version);
    throw new MtrackError("ERR_MTRACK_MODEL_NOT_FOUND", `${uri} names no live version of ${u.name}.`, {
      hint: `List its versions and aliases with \`mtrack models show ${u.name}\` in the source repository.`,
      data: { uri },
    });
  }
  return v;
}

/** Reads and folds the registry a remote holds (all its events). */
async function remoteRegistry(remote: Remote, jobs: number | undefined): Promise<RegistryState> {
  const { events } = await readRemoteEvents(remote, new Set(), jobs ?? DEFAULT_JOBS);
  return foldEvents(events);
}

/**
 * Fetches a version's manifest and files into `store` and returns the workspace manifest (a directory
 * tree, stored) that a pointer names: the model's files as a tracked directory.
 */
async function fetchVersionTree(
  store: Store,
  remote: Remote,
  v: ModelVersion,
  options: { jobs?: number; onProgress?: ProgressFn },
): Promise<{ hash: string; size: number; files: number; downloaded: number; downloadedBytes: number }> {
  const label = `models:/${v.name}/${v.version}`;
  const first = await fetchObjects(store, remote, [{ hash: v.content.hash, size: 0, tree: false, label }], {
    jobs: options.jobs,
  });
  const err1 = fetchProblems(first);
  if (err1) throw err1;
  const entries = readManifest(store, v.content.hash);
  const files = await fetchObjects(
    store,
    remote,
    entries.map((e) => ({ hash: e.hash, size: e.size, tree: false, label: `${label}/${e.name}` })),
    { jobs: options.jobs, onProgress: options.onProgress },
  );
  const err2 = fetchProblems(files);
  if (err2) throw err2;
  const tree: TreeEntry[] = entries.map((e) => ({
    path: e.name,
    hash: e.hash,
    size: e.size,
    executable: false,
  }));
  const put = store.putBuffer(encodeTree(tree));
  await store.flush();
  return {
    hash: put.hash,
    size: entries.reduce((n, e) => n + e.size, 0),
    files: entries.length,
    downloaded: first.objects + files.objects,
    downloadedBytes: first.bytes + files.bytes,
  };
}

/** Resolves `source.model` in the source's registry and fetches that version; returns its pointer. */
async function fetchModel(
  repo: Repo,
  ctx: SourceContext,
  rel: string,
  source: { repo: string; rev: string; model: string },
  options: { jobs?: number; onProgress?: ProgressFn; version?: number },
) {
  const src = await openFor(sourceLocation(repo, source.repo), source.rev, ctx);
  const remote = await remoteFor(src, ctx, options.jobs);
  try {
    const state = await remoteRegistry(remote, options.jobs);
    const v =
      options.version === undefined
        ? versionInState(state, source.model)
        : versionInState(state, `models:/${parseName(source.model)}/${options.version}`);
    const t = await fetchVersionTree(ctx.store, remote, v, options);
    const recorded: ModelSource = {
      kind: "model",
      repo: source.repo,
      rev: source.rev,
      model: source.model,
      version: v.version,
    };
    const pointer: Pointer = {
      path: path.posix.basename(rel),
      type: "directory",
      hash: t.hash,
      size: t.size,
      files: t.files,
      source: recorded,
    };
    return { pointer, recorded, t };
  } finally {
    await remote.close();
  }
}

function parseName(uri: string): string {
  const u = parseModelUri(uri);
  return "name" in u ? u.name : "";
}

/**
 * Imports the model version `uri` names in the registry of repository `url` to `outAbs` (default: the
 * model's name): its files as a tracked directory, with a pointer recording the source.
 *
 * @example
 * await importModel(repo, "../registry", "models:/clf@champion", { outAbs: "/repo/models/clf" });
 */
export async function importModel(
  repo: Repo,
  url: string,
  uri: string,
  options: {
    rev?: string;
    outAbs: string;
    force?: boolean;
    jobs?: number;
    onProgress?: ProgressFn;
    env?: NodeJS.ProcessEnv;
  },
): Promise<ImportResult> {
  parseModelUri(uri);
  const rel = resolveTarget(repo, options.outAbs);
  const ctx = sourceContextOf(repo, options.env ?? process.env);
  checkNewTarget(repo, rel, options.force);
  const { pointer, recorded, t } = await fetchModel(
    repo,
    ctx,
    rel,
    { repo: recordedRepo(repo, url), rev: options.rev ?? "HEAD", model: uri },
    options,
  );
  const files = writeImported(repo, rel, pointer, uri, options.onProgress);
  return result(rel, pointer, recorded, {
    files,
    downloaded: t.downloaded,
    downloadedBytes: t.downloadedBytes,
  });
}

function result(
  rel: string,
  pointer: Pointer,
  source: ModelSource,
  extra: Partial<ImportResult>,
): ImportResult {
  return {
    path: rel,
    pointer: `${rel}.mtrack`,
    source,
    type: pointer.type,
    hash: pointer.hash,
    size: pointer.size,
    files: pointer.files ?? 0,
    changed: true,
    dataChanged: true,
    downloaded: 0,
    downloadedBytes: 0,
    ...extra,
  };
}

/**
 * Resolves a model import's URI again (an alias may have moved, `/latest` grown) and, when it names
 * another version, writes that version's files and the pointer.
 *
 * @example
 * const r = await updateModelImport(repo, "models/clf", pointer, {}); r.changed
 */
export async function updateModelImport(
  repo: Repo,
  rel: string,
  pointer: Pointer & { source: ModelSource },
  options: { force?: boolean; jobs?: number; onProgress?: ProgressFn; env?: NodeJS.ProcessEnv } = {},
): Promise<ImportResult> {
  const ctx = sourceContextOf(repo, options.env ?? process.env);
  const old = pointer.source;
  const src = await openFor(sourceLocation(repo, old.repo), old.rev, ctx);
  const remote = await remoteFor(src, ctx, options.jobs);
  let latest: ModelVersion;
  try {
    latest = versionInState(await remoteRegistry(remote, options.jobs), old.model);
  } finally {
    await remote.close();
  }
  if (latest.version === old.version) {
    return result(rel, pointer, old, { from: old, changed: false, dataChanged: false });
  }
  await checkUnmodified(repo, rel, pointer, options.force);
  const got = await fetchModel(repo, ctx, rel, old, { ...options, version: latest.version });
  const files = writeImported(repo, rel, got.pointer, old.model, options.onProgress);
  return result(rel, got.pointer, got.recorded, {
    from: old,
    files,
    dataChanged: got.pointer.hash !== pointer.hash,
    downloaded: got.t.downloaded,
    downloadedBytes: got.t.downloadedBytes,
  });
}

/**
 * Whether a model import's URI now names another version in the source's registry.
 *
 * @example
 * const c = await checkModelImport(repo, "models/clf", pointer.source); c.moved
 */
export async function checkModelImport(
  repo: Repo,
  rel: string,
  source: ModelSource,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ImportCheck> {
  const ctx = sourceContextOf(repo, env);
  try {
    const src = await openFor(sourceLocation(repo, source.repo), source.rev, ctx);
    const remote = await remoteFor(src, ctx);
    try {
      const v = versionInState(await remoteRegistry(remote, undefined), source.model);
      return { path: rel, source, latest: `v${v.version}`, moved: v.version !== source.version };
    } finally {
      await remote.close();
    }
  } catch (err) {
    if (err instanceof MtrackError) return { path: rel, source, moved: false, error: err.code };
    throw err;
  }
}

/**
 * `pull` of model imports whose files are on no remote of this project: the recorded version's files
 * come from the source's remote (the directory manifest is rebuilt, and must be the one the pointer
 * names). Counts what moved into `summary` and drops the problems it fixed.
 *
 * @example
 * await fetchModelImports(repo, [{ rel: "models/clf", pointer }], summary, {});
 */
export async function fetchModelImports(
  repo: Repo,
  imports: ReadonlyArray<{ rel: string; pointer: Pointer & { source: ModelSource } }>,
  summary: TransferSummary,
  options: { jobs?: number; onProgress?: ProgressFn; env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  if (imports.length === 0) return;
  const ctx = sourceContextOf(repo, options.env ?? process.env);
  for (const { rel, pointer } of imports) {
    const got = await fetchModel(repo, ctx, rel, pointer.source, {
      ...options,
      version: pointer.source.version,
    });
    if (got.pointer.hash !== pointer.hash) {
      throw new MtrackError(
        "ERR_MTRACK_OBJECT_MISSING",
        `${rel}: version ${pointer.source.version} of ${pointer.source.model} in ${pointer.source.repo} is not the content its pointer names.`,
        {
          hint: "The source registry changed that version; import it again (`mtrack import --force`).",
          data: { path: rel },
        },
      );
    }
    summary.objects += got.t.downloaded;
    summary.bytes += got.t.downloadedBytes;
  }
  const store = repo.store;
  summary.missingRemote = summary.missingRemote.filter((p) => !store.has(p.hash));
}
