/**
 * Locating and loading a pipeline in a repository: which file, its folder, its lock, its DAG. The one
 * place commands (`repro`, `dag`, `stage list`, `status`) go through, so they agree on paths.
 */
import * as path from "node:path";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import { isInside, toPosix } from "../util/fs.js";
import { buildDag, type Dag } from "./dag.js";
import { emptyLock, type LockFile, parseLock } from "./lockfile.js";
import { parsePipeline } from "./parse.js";
import { lookupParse, storeParse } from "./parse-cache.js";
import type { Pipeline } from "./types.js";

/** The default pipeline file at the repository root. */
export const DEFAULT_PIPELINE_FILE = "pipeline.yaml";

/** A loaded pipeline with everything needed to plan or run it. */
export interface LoadedPipeline {
  pipeline: Pipeline;
  dag: Dag;
  lock: LockFile;
  /** Repo-relative posix path of the pipeline file (`pipeline.yaml`, `models/pipeline.yaml`). */
  file: string;
  /** Repo-relative posix folder of the pipeline file ("" at the root); stage paths are relative to it. */
  dirRel: string;
  /** Absolute folder of the pipeline file. */
  dirAbs: string;
  /** Repo-relative path of its lock file (`pipeline.lock` beside `pipeline.yaml`). */
  lockFile: string;
}

/**
 * The lock file beside a pipeline file: `pipeline.yaml` → `pipeline.lock`, `dvc.yaml` → `dvc.lock`.
 *
 * @example
 * lockPathFor("models/pipeline.yaml") // → "models/pipeline.lock"
 */
export function lockPathFor(pipelineFile: string): string {
  return pipelineFile.replace(/\.ya?ml$/i, "") + ".lock";
}

/**
 * Turns a user-given pipeline file (absolute, or relative to `cwd`) into a repo-relative posix path,
 * refusing files outside the repository.
 */
export function resolvePipelineFile(repo: Repo, cwd: string, given: string | undefined): string {
  if (given === undefined) return DEFAULT_PIPELINE_FILE;
  const abs = path.resolve(cwd, given);
  if (!isInside(abs, repo.root) || abs === repo.root) {
    throw new MtrackError("ERR_MTRACK_PATH_OUTSIDE_REPO", `${given} is outside the repository.`, {
      hint: "Give a pipeline file inside the repository.",
      data: { path: given, root: repo.root },
    });
  }
  return toPosix(path.relative(repo.root, abs));
}

function readText(repo: Repo, abs: string): string | undefined {
  try {
    return repo.fs.readFileSync(abs, "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "EISDIR") return undefined;
    throw ioError(err, `reading ${abs}`);
  }
}

/**
 * Parses a repository's pipeline file, builds its DAG (checking that every dep nobody produces exists)
 * and reads its lock. Throws ERR_MTRACK_PATH_NOT_FOUND when the file does not exist.
 *
 * @example
 * const loaded = loadPipeline(repo, "pipeline.yaml");
 * loaded.dag.order.map((s) => s.name) // → ["prepare", "train"]
 */
export function loadPipeline(repo: Repo, file: string = DEFAULT_PIPELINE_FILE): LoadedPipeline {
  const abs = repo.abs(file);
  const text = readText(repo, abs);
  if (text === undefined) {
    throw new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", `No pipeline file ${file}.`, {
      hint: "Write a pipeline.yaml at the repository root (see docs/pipeline.md), or pass --pipeline FILE.",
      data: { path: file },
    });
  }
  const dirAbs = path.dirname(abs);
  const dirRel = path.posix.dirname(file) === "." ? "" : path.posix.dirname(file);
  const inDir = (rel: string) => path.join(dirAbs, ...rel.split("/"));
  const readRel = (rel: string) => readText(repo, inDir(rel)) ?? null;
  let pipeline = lookupParse<Pipeline>(repo, "pipeline", file, text, readRel);
  if (!pipeline) {
    const reads = new Map<string, string | null>();
    pipeline = parsePipeline({
      text,
      file,
      dir: dirRel,
      readFile: (rel) => {
        const content = readRel(rel);
        reads.set(rel, content);
        return content ?? undefined;
      },
    });
    storeParse(repo, "pipeline", file, [[file, text], ...reads], pipeline);
  }
  const dag = buildDag(pipeline, { exists: (rel) => repo.fs.existsSync(inDir(rel)) });
  const lockFile = lockPathFor(file);
  const lockText = readText(repo, repo.abs(lockFile));
  let lock =
    lockText === undefined
      ? emptyLock()
      : lookupParse<LockFile>(repo, "lock", lockFile, lockText, () => null);
  if (!lock && lockText !== undefined) {
    lock = parseLock(lockText, lockFile);
    storeParse(repo, "lock", lockFile, [[lockFile, lockText]], lock);
  }
  return { pipeline, dag, lock: lock ?? emptyLock(), file, dirRel, dirAbs, lockFile };
}
