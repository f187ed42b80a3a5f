/**
 * Experiment bookkeeping that runs nothing: `exp rename` (one atomic ref transaction), `exp save` (the
 * workspace as it is, committed as an experiment of HEAD), `exp clean` (temporary sweep worktrees left by
 * a killed `exp run`).
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { Repo } from "../repo.js";
import { alive, takenNames } from "./queue-store.js";
import {
  checkNewName,
  commitWorkTree,
  type ExpRef,
  expRefName,
  findExp,
  generateName,
  git,
  headBaseline,
  listExpRefs,
} from "./refs.js";

/**
 * Gives experiment `name` the name `to`: its commit moves to the new ref and the old ref goes, in one
 * `git update-ref --stdin` transaction (both or neither). Runs logged under the old name keep their
 * `mtrack.exp` tag.
 *
 * @example
 * renameExp(repo.root, "swift-otter", "lr-0.3"); // { from: "swift-otter", to: "lr-0.3", commit: "…" }
 */
export function renameExp(
  root: string,
  name: string,
  to: string,
): { from: string; to: string; commit: string; ref: string } {
  const refs = listExpRefs(root);
  const exp = findExp(refs, name);
  checkNewName(to, new Set(refs.map((r) => r.name)));
  const ref = expRefName(exp.baseline, to);
  git(root, ["update-ref", "--stdin"], {
    input: `start\ncreate ${ref} ${exp.commit}\ndelete ${exp.ref} ${exp.commit}\ncommit\n`,
  });
  return { from: exp.name, to, commit: exp.commit, ref };
}

/**
 * Records the workspace as an experiment of HEAD without running anything: the params files,
 * `pipeline.lock`, pointer files and `cache: false` metrics as they are now (every file git does not
 * ignore), through a temporary index, so the real index and branch are untouched. The data those
 * pointers and the lock name must be in the store already (`mtrack repro`/`add`/`commit` put it there).
 *
 * @example
 * saveExp({ repo, name: "by-hand" }); // { name: "by-hand", commit: "…", ref: "refs/exps/…/by-hand", baseline: "…" }
 */
export function saveExp(options: { repo: Repo; name?: string; message?: string }): ExpRef {
  const root = options.repo.root;
  const baseline = headBaseline(root);
  const taken = takenNames(options.repo);
  const name = options.name ?? generateName(taken);
  checkNewName(name, taken);
  const ref = expRefName(baseline, name);
  const message = `${options.message ?? `mtrack exp save ${name}`}\n\nstate: success\nsaved: workspace\n`;
  const commit = commitWorkTree({ cwd: root, baseline, ref, message, tmpDir: options.repo.paths.tmpDir });
  return { name, ref, commit, baseline, created: Math.floor(Date.now() / 1000), state: "success", message };
}

/** What `exp clean` did. */
export interface CleanResult {
  /** Sweep worktrees removed (repo-relative). */
  removed: string[];
  /** Worktrees kept because the `exp run` that made them is still running. */
  running: string[];
  /** Leftover temporary index files removed. */
  indexes: number;
}

/**
 * Removes the temporary sweep worktrees under `.mtrack/exps/` whose `exp run` is gone (killed, or the
 * machine restarted), their temporary index files, and git's records of worktrees that no longer exist
 * (`git worktree prune`). A worktree of a sweep still running (its directory ends in `-<pid>` of a live
 * process) is kept. The shared store, runs and run-cache the worktrees link to are not touched.
 *
 * @example
 * cleanExps(repo); // { removed: [".mtrack/exps/swift-otter-4242"], running: [], indexes: 1 }
 */
export function cleanExps(repo: Repo): CleanResult {
  const root = repo.root;
  const wtRoot = path.join(repo.paths.mtrackDir, "exps");
  const result: CleanResult = { removed: [], running: [], indexes: 0 };
  const registered = new Set(
    git(root, ["worktree", "list", "--porcelain"])
      .split("\n")
      .filter((l) => l.startsWith("worktree "))
      .map((l) => path.resolve(l.slice("worktree ".length))),
  );
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(wtRoot);
  } catch {
    // no sweep ever ran
  }
  for (const entry of entries.sort()) {
    const dir = path.join(wtRoot, entry);
    const rel = path.relative(root, dir);
    const pid = Number(/-(\d+)$/.exec(entry)?.[1]);
    if (pid > 0 && alive(pid)) {
      result.running.push(rel);
      continue;
    }
    // `git worktree remove` also drops git's record; a directory git does not know is removed as is
    // (fs.rmSync unlinks the .mtrack symlinks, never what they point to).
    if (registered.has(path.resolve(dir))) git(root, ["worktree", "remove", "--force", dir]);
    fs.rmSync(dir, { recursive: true, force: true });
    result.removed.push(rel);
  }
  git(root, ["worktree", "prune"]);
  let tmp: string[] = [];
  try {
    tmp = fs.readdirSync(repo.paths.tmpDir);
  } catch {
    // no tmp dir
  }
  for (const f of tmp) {
    const pid = Number(/^exp-index-(\d+)-/.exec(f)?.[1]);
    if (pid > 0 && !alive(pid)) {
      fs.rmSync(path.join(repo.paths.tmpDir, f), { force: true });
      result.indexes++;
    }
  }
  return result;
}
