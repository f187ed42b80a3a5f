/**
 * Stage outputs as tracked paths: what `pipeline.lock` records of each cached output (its hash, size and
 * file count) is all a checkout needs, as a pointer file is for `mtrack add`ed data. So `pull` and
 * `checkout` bring a fresh clone's pipeline outputs back from the store, as `dvc pull` does, and the
 * next `repro` finds every stage up to date.
 */
import * as path from "node:path";
import { errnoCode, isMtrackError, MtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import type { Pointer } from "../workspace/pointer.js";
import { resolveTarget, selectTracked } from "../workspace/tracked.js";
import { lockPathFor } from "./load.js";
import { type LockFile, parseLock } from "./lockfile.js";
import { parsePipeline, repoRelative } from "./parse.js";

/** The pipeline files at the repository's root (a lock is looked for beside each). */
export const ROOT_PIPELINE_FILES = ["pipeline.yaml", "dvc.yaml"] as const;

/** One cached stage output recorded in a lock. */
export interface LockedOutput {
  /** Repo-relative posix path. */
  path: string;
  stage: string;
  /** Repo-relative lock file that records it. */
  lockFile: string;
  /** The output as a pointer would describe it. */
  pointer: Pointer;
}

function readOptional(repo: Repo, rel: string): string | undefined {
  try {
    return repo.fs.readFileSync(repo.abs(rel), "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "EISDIR") return undefined;
    throw err;
  }
}

/**
 * Which outputs of a pipeline file git keeps (`cache: false`), as pipeline-relative paths; undefined
 * when the pipeline file cannot be parsed. `readFile` reads the params files its templates use, relative
 * to the pipeline's folder (from the workspace, or from a commit).
 *
 * @example
 * uncachedOutputs("stages: {s: {cmd: x, metrics: [{m.json: {cache: false}}]}}", "pipeline.yaml", () => undefined)
 * // → Set {"m.json"}
 */
export function uncachedOutputs(
  text: string,
  file: string,
  readFile: (rel: string) => string | undefined,
): Set<string> | undefined {
  const dirRel = path.posix.dirname(file) === "." ? "" : path.posix.dirname(file);
  try {
    const pipeline = parsePipeline({ text, file, dir: dirRel, readFile });
    return new Set(pipeline.stages.flatMap((s) => s.outs.filter((o) => !o.cache).map((o) => o.path)));
  } catch (err) {
    if (isMtrackError(err)) return undefined;
    throw err;
  }
}

/** Matches pipeline files at any depth, and their locks. */
export const PIPELINE_FILE_NAME = /(^|\/)(pipeline|dvc)\.yaml$/;
export const LOCK_FILE_NAME = /(^|\/)(pipeline|dvc)\.lock$/;

/**
 * The pipeline files whose locks name the workspace's outputs: the root ones, and those in subfolders
 * that git tracks (a pipeline in `sub/` has its lock in `sub/`, as `mtrack repro` run there writes it).
 */
function pipelineFiles(repo: Repo): string[] {
  const files = new Set<string>(ROOT_PIPELINE_FILES);
  for (const p of repo.git().trackedPaths()) if (PIPELINE_FILE_NAME.test(p)) files.add(p);
  return [...files];
}

/**
 * The cached outputs recorded in the locks of the repository's pipeline files (the root's and the
 * subfolders' git tracks), validated as any
 * user path is (inside the repository, not `.git`/`.mtrack`, not through a symlink out of it): a lock
 * comes with a clone and is only data. Outputs git keeps (`cache: false` in the pipeline file; or, when
 * that cannot be parsed, outputs git tracks) are not listed: git restores them. A missing or malformed
 * lock names nothing.
 *
 * @example
 * lockedOutputs(repo).map((o) => o.path) // → ["data/prepared", "model.bin"]
 */
export function lockedOutputs(repo: Repo): LockedOutput[] {
  const out = new Map<string, LockedOutput>();
  let gitTracked: Set<string> | undefined;
  for (const file of pipelineFiles(repo)) {
    const lockFile = lockPathFor(file);
    const lockText = readOptional(repo, lockFile);
    if (lockText === undefined) continue;
    let lock: LockFile;
    try {
      lock = parseLock(lockText, lockFile);
    } catch (err) {
      if (isMtrackError(err)) continue;
      throw err;
    }
    const pipelineText = readOptional(repo, file);
    const dirRel = path.posix.dirname(file) === "." ? "" : path.posix.dirname(file);
    const uncached =
      pipelineText === undefined
        ? undefined
        : uncachedOutputs(pipelineText, file, (rel) => readOptional(repo, dirRel ? `${dirRel}/${rel}` : rel));
    for (const [stage, entry] of Object.entries(lock.stages)) {
      for (const o of entry.outs) {
        if (uncached?.has(o.path)) continue;
        const rel = repoRelative(dirRel, o.path);
        if (rel === null || rel === "" || out.has(rel)) continue;
        try {
          if (resolveTarget(repo, repo.abs(rel)) !== rel) continue;
        } catch (err) {
          if (isMtrackError(err)) continue;
          throw err;
        }
        if (uncached === undefined) {
          gitTracked ??= new Set(repo.git().trackedPaths());
          if (gitTracked.has(rel)) continue;
        }
        out.set(rel, {
          path: rel,
          stage,
          lockFile,
          pointer: {
            path: path.posix.basename(rel),
            type: o.files === undefined ? "file" : "directory",
            hash: o.hash,
            size: o.size,
            ...(o.files === undefined ? {} : { files: o.files }),
          },
        });
      }
    }
  }
  return [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** What a checkout works on: tracked paths, and the pointers of those that are stage outputs. */
export interface CheckoutSelection {
  /** Repo-relative paths, sorted: pointer-tracked paths and locked stage outputs. */
  paths: string[];
  /** Stage outputs (paths without a pointer file) and what their lock records. */
  outputs: Map<string, Pointer>;
}

/**
 * The tracked paths and locked stage outputs that targets name (all of them when none): a target selects
 * a tracked path or output it equals or contains, and the output it lies inside. A target naming neither is an error
 * (ERR_MTRACK_NOT_TRACKED). A path with a pointer file is checked out from its pointer.
 *
 * @example
 * const sel = selectCheckout(repo, [path.resolve("model")]);
 * await checkoutPaths(repo, sel.paths, { outputs: sel.outputs });
 */
export function selectCheckout(repo: Repo, targetsAbs: readonly string[] | undefined): CheckoutSelection {
  const locked = lockedOutputs(repo);
  const chosen = new Set<string>();
  const outputs = new Map<string, Pointer>();
  const addOutput = (o: LockedOutput) => {
    outputs.set(o.path, o.pointer);
    chosen.add(o.path);
  };
  if (!targetsAbs || targetsAbs.length === 0) {
    for (const rel of selectTracked(repo, undefined)) chosen.add(rel);
    for (const o of locked) if (!chosen.has(o.path)) addOutput(o);
  } else {
    for (const t of targetsAbs) {
      const rel = resolveTarget(repo, t);
      // A path inside an output directory selects that output (it is checked out whole).
      const hits = locked.filter(
        (o) => o.path === rel || o.path.startsWith(`${rel}/`) || rel.startsWith(`${o.path}/`),
      );
      let tracked: string[] = [];
      try {
        tracked = selectTracked(repo, [t]);
      } catch (err) {
        if (!(err instanceof MtrackError && err.code === "ERR_MTRACK_NOT_TRACKED" && hits.length > 0))
          throw err;
      }
      for (const p of tracked) chosen.add(p);
      for (const o of hits) if (!tracked.includes(o.path)) addOutput(o);
    }
  }
  return { paths: [...chosen].sort(), outputs };
}
