/**
 * The three user-facing operations — push, fetch, pull — as library calls: select what travels, move
 * objects, then refs (runs, run-cache) when asked, and for pull check the workspace out.
 */

import { resolveRemote } from "../remotes/config.js";
import { openRemote } from "../remotes/index.js";
import type { Remote } from "../remotes/types.js";
import type { Repo } from "../repo.js";
import { type CheckoutResult, checkoutPaths } from "../workspace/checkout.js";
import type { ProgressFn } from "../workspace/scan.js";
import { selectTracked } from "../workspace/tracked.js";
import { DEFAULT_JOBS, fetchObjects, pushObjects, type TransferSummary } from "./objects.js";
import { fetchRunCache, fetchRuns, pushRunCache, pushRuns, type RefsSummary } from "./refs.js";
import { type Selection, selectRoots } from "./select.js";

export interface SyncOptions extends Selection {
  /** Remote name (default: core.remote, or the only one). */
  remote?: string;
  /** Also sealed runs. */
  runs?: boolean;
  /** Also run-cache entries. */
  runCache?: boolean;
  jobs?: number;
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
  runCache?: RefsSummary;
}

async function withRemote<T>(
  repo: Repo,
  options: SyncOptions,
  fn: (remote: Remote, name: string) => Promise<T>,
): Promise<T> {
  if (options.open) return fn(options.open, "(given)");
  const spec = resolveRemote(repo.config, { name: options.remote, root: repo.root, env: options.env });
  const remote = openRemote(spec, { stateDir: repo.paths.stateDir, jobs: options.jobs });
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
    const t = { jobs: jobsOf(repo, options, name), onProgress: options.onProgress };
    const objects = await pushObjects(repo.store, remote, await selectRoots(repo, options), t);
    const result: SyncResult = { remote: name, url: remote.url, objects };
    if (options.runs) result.runs = await pushRuns(repo, remote, t);
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
  return withRemote(repo, options, async (remote, name) => {
    const t = { jobs: jobsOf(repo, options, name), onProgress: options.onProgress };
    repo.store.reload();
    const objects = await fetchObjects(repo.store, remote, await selectRoots(repo, options), t);
    const result: SyncResult = { remote: name, url: remote.url, objects };
    if (options.runs) result.runs = await fetchRuns(repo, remote, t);
    if (options.runCache) result.runCache = await fetchRunCache(repo, remote, t);
    await repo.store.flush();
    return result;
  });
}

/** A fetch followed by a checkout of the selected paths. */
export interface PullResult extends SyncResult {
  checkout: CheckoutResult;
}

/**
 * fetch + checkout: after a fresh clone, brings the data of HEAD into the workspace.
 *
 * @example
 * await pull(repo, { force: false });
 */
export async function pull(repo: Repo, options: SyncOptions & { force?: boolean } = {}): Promise<PullResult> {
  const fetched = await fetch(repo, options);
  const checkout = await checkoutPaths(repo, selectTracked(repo, options.targets), {
    force: options.force,
    onProgress: options.onProgress,
  });
  return { ...fetched, checkout };
}
