/**
 * `mtrack exp apply`: the workspace gets an experiment's changed files (params, pipeline.lock, pointer
 * files, `cache: false` metrics) and then its data. Checked before anything is written, so a refusal
 * leaves the workspace as it was.
 */

import { spawnSync } from "node:child_process";
import { MtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import { findExp, git, listExpRefs } from "./refs.js";

/**
 * @example
 * await applyExp({ repo, name: "swift-otter", cli: [process.execPath, "bin/run.js"] }); // { files: ["params.yaml", ...] }
 */
export async function applyExp(options: {
  repo: Repo;
  name: string;
  force?: boolean;
  cli: readonly string[];
}): Promise<{ name: string; commit: string; files: string[] }> {
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
  return { name: exp.name, commit: exp.commit, files };
}
