/**
 * Which pipeline stages are stale and why, for `mtrack status` and `mtrack stage list`: a dry repro
 * against the real workspace (nothing runs, nothing is written but the stat cache).
 */
import { isMtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import { DEFAULT_PIPELINE_FILE, type LoadedPipeline, loadPipeline } from "./load.js";
import type { PlannedStage } from "./plan.js";
import { reproduce } from "./run.js";
import { WorkspaceIO } from "./workspace-io.js";

/** The staleness of one pipeline. */
export interface PipelineStatus {
  /** Repo-relative pipeline file; null when the repository has none. */
  file: string | null;
  /** Every stage in execution order: `run` (stale), `maybe` (an upstream stage is stale), `skip`. */
  stages: PlannedStage[];
  /** Only the stages that a repro would (or might) run. */
  stale: PlannedStage[];
  /**
   * Why the pipeline could not be planned: a malformed pipeline file or lock (`data` has file, line and
   * column), a dependency nobody produces that is missing. `stages` is then empty.
   */
  error?: { code: string; message: string; hint?: string; data?: Record<string, unknown> };
}

/** The plan of a loaded pipeline against the workspace. */
export async function planLoaded(repo: Repo, loaded: LoadedPipeline): Promise<PlannedStage[]> {
  const io = new WorkspaceIO({ repo, ...loaded, runCache: false });
  try {
    const r = await reproduce({
      dag: loaded.dag,
      lock: loaded.lock,
      io,
      dir: loaded.dirAbs,
      env: {},
      dry: true,
    });
    return r.plan?.stages ?? [];
  } finally {
    io.close();
  }
}

/**
 * The stale stages of the repository's pipeline with their reasons. A repository without a pipeline file
 * has no stages; a pipeline that cannot be planned (an invalid file, with its file:line:col) is reported
 * in `error`, so `status` can still show the data.
 *
 * @example
 * const s = await pipelineStatus(repo);
 * for (const st of s.stale) console.log(`${st.name}: ${st.reasons.join(", ")}`);
 * // train: param train.lr changed: 0.01 → 0.02
 */
export async function pipelineStatus(
  repo: Repo,
  file: string = DEFAULT_PIPELINE_FILE,
): Promise<PipelineStatus> {
  if (!repo.fs.existsSync(repo.abs(file))) return { file: null, stages: [], stale: [] };
  let stages: PlannedStage[];
  try {
    stages = await planLoaded(repo, loadPipeline(repo, file));
  } catch (err) {
    if (!isMtrackError(err)) throw err;
    return {
      file,
      stages: [],
      stale: [],
      error: { code: err.code, message: err.message, hint: err.hint, data: err.data },
    };
  }
  return { file, stages, stale: stages.filter((s) => s.action !== "skip") };
}
