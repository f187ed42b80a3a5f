/**
 * `mtrack exp apply`: the workspace gets an experiment's changed files (params, pipeline.lock, pointer
 * files, `cache: false` metrics) and then its data: what its pointer files name (`mtrack checkout`) and
 * the cached stage outputs its lock names. Checked before anything is written, so a refusal leaves the
 * workspace as it was.
 */

import { spawnSync } from "node:child_process";
import { isMtrackError, MtrackError } from "../errors.js";
import { loadPipeline } from "../pipeline/load.js";
import type { FileEntry } from "../pipeline/lockfile.js";
import { WorkspaceIO } from "../pipeline/workspace-io.js";
import type { Repo } from "../repo.js";
import { decodeTree } from "../store/tree.js";
import { StatCache } from "../workspace/statcache.js";
import { currentState } from "../workspace/tracked.js";
import { findExp, git, listExpRefs } from "./refs.js";

/**
 * Writes the cached stage outputs `pipeline.lock` names that the workspace does not have (a clone that
 * got the experiment with `exp pull` has its objects in the store, not its files), from the store.
 * Every object is checked first, so a missing one writes nothing. Returns the paths written.
 */
async function restoreLockOutputs(repo: Repo): Promise<string[]> {
  let loaded: ReturnType<typeof loadPipeline>;
  try {
    loaded = loadPipeline(repo);
  } catch (err) {
    if (isMtrackError(err, "ERR_MTRACK_PATH_NOT_FOUND")) return [];
    throw err;
  }
  const { pipeline, lock, dirRel } = loaded;
  const rel = (p: string) => (dirRel ? `${dirRel}/${p}` : p);
  const cache = StatCache.load(repo.paths.stateDir, repo.fs);
  const todo: Array<{ stage: (typeof pipeline.stages)[number]; outs: FileEntry[] }> = [];
  for (const stage of pipeline.stages) {
    const entry = lock.stages[stage.name];
    if (!entry) continue;
    const outs: FileEntry[] = [];
    for (const out of entry.outs) {
      // `cache: false` outputs are in git: the checkout wrote them.
      if (stage.outs.find((o) => o.path === out.path)?.cache === false) continue;
      const now = await currentState(repo, rel(out.path), { cache, quick: true });
      if (now.hash !== out.hash) outs.push(out);
    }
    if (outs.length > 0) todo.push({ stage, outs });
  }
  const missing = todo
    .flatMap((t) => t.outs)
    .filter(
      (o) =>
        !repo.store.has(o.hash) ||
        (o.files !== undefined &&
          decodeTree(repo.store.readObject(o.hash)).some((e) => !repo.store.has(e.hash))),
    );
  if (missing.length > 0)
    throw new MtrackError(
      "ERR_MTRACK_OBJECT_MISSING",
      `The data of ${missing.map((o) => o.path).join(", ")} is not in the store.`,
      {
        data: { paths: missing.map((o) => o.path) },
        hint: "The experiment's files are applied. Fetch its data (`mtrack exp pull <git-remote> <exp>`, or `mtrack fetch -A`), then `mtrack repro` restores it.",
      },
    );
  const io = new WorkspaceIO({ repo, pipeline, dirRel, lockFile: loaded.lockFile, runCache: false });
  try {
    for (const t of todo) await io.restoreOutputs(t.stage, t.outs);
  } finally {
    io.close();
  }
  return todo.flatMap((t) => t.outs.map((o) => rel(o.path)));
}

/**
 * @example
 * await applyExp({ repo, name: "swift-otter", cli: [process.execPath, "bin/run.js"] }); // { files: ["params.yaml", ...] }
 */
export async function applyExp(options: {
  repo: Repo;
  name: string;
  force?: boolean;
  cli: readonly string[];
}): Promise<{ name: string; commit: string; files: string[]; outputs: string[] }> {
  const root = options.repo.root;
  const exp = findExp(listExpRefs(root), options.name);
  const files = git(root, ["diff", "--name-only", "-z", exp.baseline, exp.commit])
    .split("\0")
    .filter(Boolean);
  if (!options.force) {
    const dirty = git(root, ["status", "--porcelain", "--untracked-files=no"]).trim();
    if (dirty !== "")
      throw new MtrackError("ERR_MTRACK_EXP_DIRTY_WORKSPACE", "The workspace has uncommitted changes.", {
        data: { changed: dirty.split("\n").map((l) => l.slice(3)) },
        hint: "Commit or stash them first, or pass --force to overwrite them.",
      });
  }
  // One checkout writes every file (git refuses up front if a path is unknown).
  if (files.length > 0) git(root, ["checkout", exp.commit, "--", ...files]);
  const [cmd, ...pre] = options.cli as [string, ...string[]];
  const r = spawnSync(cmd, [...pre, "checkout", "--force"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0)
    throw new MtrackError("ERR_MTRACK_OBJECT_MISSING", `mtrack checkout failed: ${r.stderr.trim()}`, {
      hint: "The experiment's files are applied; fetch its data with `mtrack pull`, then `mtrack checkout`.",
    });
  // `git checkout <commit> -- files` also stages them; leave them as workspace changes, as DVC does.
  if (files.length > 0) git(root, ["reset", "-q", "--", ...files]);
  const outputs = await restoreLockOutputs(options.repo);
  return { name: exp.name, commit: exp.commit, files, outputs };
}
