/**
 * The three user-facing operations — push, fetch, pull — as library calls: select what travels, move
 * objects, then refs (runs, the model registry, run-cache) when asked, and for pull check the workspace
 * out.
 */

import { isMtrackError } from "../errors.js";
import { selectCheckout } from "../pipeline/outputs.js";
import { resolveRemote } from "../remotes/config.js";
import { openRemote } from "../remotes/index.js";
import type { Remote } from "../remotes/types.js";
import type { Repo } from "../repo.js";
import { fetchImportsFromSources } from "../sources/import.js";
import { fetchModelImports } from "../sources/model.js";
import { fetchUrlImports } from "../sources/url.js";
import { decodeTree } from "../store/tree.js";
import { type CheckoutResult, checkoutPaths } from "../workspace/checkout.js";
import { CompleteTrees } from "../workspace/complete.js";
import type { GitSource, ModelSource, Pointer, UrlSource } from "../workspace/pointer.js";
import type { ProgressFn } from "../workspace/scan.js";
import { missingObjectsOf } from "../workspace/status.js";
import { loadPointer, selectTracked } from "../workspace/tracked.js";
import { DEFAULT_JOBS, emptySummary, fetchObjects, pushObjects, type TransferSummary } from "./objects.js";
import { fetchRunCache, fetchRuns, pushRunCache, pushRuns, type RefsSummary } from "./refs.js";
import { fetchRegistry, pushRegistry } from "./registry.js";
import { type Selection, selectRoots } from "./select.js";

/** Options of push, fetch, pull and remoteStatus. */
export interface SyncOptions extends Selection {
  /** Remote name (default: core.remote, or the only one). */
  remote?: string;
  /** Also sealed runs, and the model registry (whose versions are mostly made from runs). */
  runs?: boolean;
  /** Push with `runs`: only these sealed runs (`exp push`: those of the experiments pushed). */
  runIds?: ReadonlySet<string>;
  /** Also the model registry: its events and the files of its live versions and logged models. */
  models?: boolean;
  /** Also run-cache entries. */
  runCache?: boolean;
  jobs?: number;
  /** Push: re-check the remote's copies of the objects pushed and replace damaged ones. */
  repair?: boolean;
  onProgress?: ProgressFn;
  env?: NodeJS.ProcessEnv;
  /** An already open remote (tests, embedding); `remote` is then ignored. */
  open?: Remote;
}

/** What a push or fetch did. */
export interface SyncResult {
  remote: string;
  url: string;
  objects: TransferSummary;
  runs?: RefsSummary;
  /** The model registry (with `runs` or `models`). */
  registry?: RefsSummary;
  runCache?: RefsSummary;
}

async function withRemote<T>(
  repo: Repo,
  options: SyncOptions,
  fn: (remote: Remote, name: string) => Promise<T>,
): Promise<T> {
  if (options.open) return fn(options.open, "(given)");
  const spec = resolveRemote(repo.config, { name: options.remote, root: repo.root, env: options.env });
  const remote = await openRemote(spec, { stateDir: repo.paths.stateDir, jobs: options.jobs });
  try {
    return await fn(remote, spec.name);
  } finally {
    await remote.close();
  }
}

function jobsOf(repo: Repo, options: SyncOptions, name: string): number {
  const configured = repo.config.get(`remote.${name}.jobs`);
  return options.jobs ?? (configured === undefined ? DEFAULT_JOBS : Number(configured));
}

/**
 * Uploads what the selection needs and the remote lacks.
 *
 * @example
 * const r = await push(repo, { remote: "origin", runs: true });
 * r.objects.objects // objects sent
 */
export async function push(repo: Repo, options: SyncOptions = {}): Promise<SyncResult> {
  return withRemote(repo, options, async (remote, name) => {
    const t = { jobs: jobsOf(repo, options, name), onProgress: options.onProgress, repair: options.repair };
    const objects = await pushObjects(repo.store, remote, await selectRoots(repo, options), t);
    const result: SyncResult = { remote: name, url: remote.url, objects };
    if (options.runs) result.runs = await pushRuns(repo, remote, t, options.runIds);
    if (options.runs || options.models) result.registry = await pushRegistry(repo, remote, t);
    if (options.runCache) result.runCache = await pushRunCache(repo, remote, t);
    return result;
  });
}

/**
 * Downloads what the selection needs and the local store lacks, verifying every object.
 *
 * @example
 * const r = await fetch(repo, {}); if (r.objects.corrupt.length) ...
 */
export async function fetch(repo: Repo, options: SyncOptions = {}): Promise<SyncResult> {
  const { git: imports, url: urlImports, model: modelImports } = importsOf(repo, options);
  let result: SyncResult;
  try {
    result = await withRemote(repo, options, async (remote, name) => {
      const t = { jobs: jobsOf(repo, options, name), onProgress: options.onProgress };
      repo.store.reload();
      const complete = CompleteTrees.load(repo.paths.stateDir, repo.fs);
      const objects = await fetchObjects(repo.store, remote, await selectRoots(repo, options), {
        ...t,
        onTreeComplete: (h) => complete.add(h),
      });
      const result: SyncResult = { remote: name, url: remote.url, objects };
      if (options.runs) result.runs = await fetchRuns(repo, remote, t);
      if (options.runs || options.models) result.registry = await fetchRegistry(repo, remote, t);
      if (options.runCache) result.runCache = await fetchRunCache(repo, remote, t);
      await repo.store.flush();
      return result;
    });
  } catch (err) {
    // A project that only imports data needs no remote of its own: the sources' remotes have it all.
    const all = imports.length + urlImports.length + modelImports.length;
    const onlyImports = all > 0 && all === selectTracked(repo, options.targets).length && !options.open;
    if (!onlyImports || !isMtrackError(err, "ERR_MTRACK_CONFIG_INVALID")) throw err;
    result = { remote: "(sources)", url: "", objects: emptySummary() };
  }
  // Imports whose objects were never pushed to this project's remote come from their source's remote.
  const complete = CompleteTrees.load(repo.paths.stateDir, repo.fs);
  const lacking = imports.filter((i) => missingObjectsOf(repo, i.pointer, complete).length > 0);
  await fetchImportsFromSources(repo, lacking, result.objects, {
    jobs: options.jobs,
    onProgress: options.onProgress,
    env: options.env,
  });
  const lackingModels = modelImports.filter((i) => missingObjectsOf(repo, i.pointer, complete).length > 0);
  await fetchModelImports(repo, lackingModels, result.objects, {
    jobs: options.jobs,
    onProgress: options.onProgress,
    env: options.env,
  });
  // URL imports on no remote come from their URL again (verified to be the version recorded).
  const lackingUrls = urlImports.filter((i) => !repo.store.has(i.pointer.hash));
  await fetchUrlImports(repo, lackingUrls, result.objects, {
    onProgress: options.onProgress,
    env: options.env,
  });
  return result;
}

/** The imported paths (from another repository, from a URL) among the selected tracked paths. */
function importsOf(repo: Repo, options: SyncOptions) {
  const out: Array<{ rel: string; pointer: Pointer & { source: GitSource } }> = [];
  const url: Array<{ rel: string; pointer: Pointer & { source: UrlSource } }> = [];
  const model: Array<{ rel: string; pointer: Pointer & { source: ModelSource } }> = [];
  for (const rel of selectTracked(repo, options.targets)) {
    let pointer: Pointer | undefined;
    try {
      pointer = loadPointer(repo, rel);
    } catch {
      continue; // reported by the fetch itself
    }
    if (pointer?.source?.kind === "git")
      out.push({ rel, pointer: pointer as Pointer & { source: GitSource } });
    else if (pointer?.source?.kind === "url")
      url.push({ rel, pointer: pointer as Pointer & { source: UrlSource } });
    else if (pointer?.source?.kind === "model")
      model.push({ rel, pointer: pointer as Pointer & { source: ModelSource } });
  }
  return { git: out, url, model };
}

/** A fetch followed by a checkout of the selected paths. */
export interface PullResult extends SyncResult {
  checkout: CheckoutResult;
}

/**
 * fetch + checkout: after a fresh clone, brings the data of HEAD into the workspace, stage outputs
 * recorded in pipeline.lock included.
 *
 * @example
 * await pull(repo, { force: false });
 */
export async function pull(repo: Repo, options: SyncOptions & { force?: boolean } = {}): Promise<PullResult> {
  const fetched = await fetch(repo, options);
  const selection = selectCheckout(repo, options.targets);
  const checkout = await checkoutPaths(repo, selection.paths, {
    force: options.force,
    onProgress: options.onProgress,
    outputs: selection.outputs,
  });
  return { ...fetched, checkout };
}

/** One tracked path's standing against a remote. */
export interface RemoteStatusEntry {
  label: string;
  /** Objects this clone has that the remote lacks (push would send them). */
  notPushed: number;
  /** Objects on the remote but not here (fetch would get them). */
  notLocal: number;
  /** Objects in neither place. */
  lost: number;
}

/** What `mtrack status --remote` reports. */
export interface RemoteStatus {
  remote: string;
  url: string;
  paths: RemoteStatusEntry[];
  /** True when every object is both here and on the remote. */
  inSync: boolean;
}

/**
 * Compares the selection's objects with a remote in one batched existence check (directory manifests
 * that are only on the remote count as one object: their entries are unknown until fetched).
 *
 * @example
 * const s = await remoteStatus(repo, {}); s.paths.filter((p) => p.notPushed > 0);
 */
export async function remoteStatus(repo: Repo, options: SyncOptions = {}): Promise<RemoteStatus> {
  return withRemote(repo, options, async (remote, name) => {
    const store = repo.store;
    const roots = await selectRoots(repo, options);
    const perRoot = roots.map((r) => {
      const objects = [{ hash: r.hash, size: r.tree ? 0 : r.size }];
      if (r.tree && store.has(r.hash)) {
        for (const e of decodeTree(store.readObject(r.hash))) objects.push({ hash: e.hash, size: e.size });
      }
      return { label: r.label, objects };
    });
    const present = await remote.has(perRoot.flatMap((p) => p.objects));
    const paths = perRoot.map(({ label, objects }) => {
      const entry: RemoteStatusEntry = { label, notPushed: 0, notLocal: 0, lost: 0 };
      for (const o of objects) {
        const here = store.has(o.hash);
        const there = present.has(o.hash);
        if (here && !there) entry.notPushed++;
        else if (!here && there) entry.notLocal++;
        else if (!here && !there) entry.lost++;
      }
      return entry;
    });
    return {
      remote: name,
      url: remote.url,
      paths,
      inSync: paths.every((p) => p.notPushed + p.notLocal + p.lost === 0),
    };
  });
}
