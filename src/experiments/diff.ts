/**
 * `mtrack exp diff <a> [b]`: the params and metrics values that differ between two experiments, or an
 * experiment and its baseline, or any revision and the workspace. Names resolve to experiments first,
 * then to git revisions; the comparison itself is `params diff` / `metrics diff`'s ({@link diffValues}).
 */

import { isMtrackError, MtrackError } from "../errors.js";
import { metricsDiff, paramsDiff, type Rev, resolveRevision, type ValueDiff } from "../pipeline/compare.js";
import type { Repo } from "../repo.js";
import { type ExpRef, findExp, listExpRefs } from "./refs.js";

/** One side of the comparison. */
export interface ExpDiffSide {
  /** The name given (or `workspace`, or the baseline's short commit). */
  name: string;
  /** The commit compared; null for the workspace. */
  commit: string | null;
  /** True when the name is an experiment. */
  experiment: boolean;
}

export interface ExpDiffResult {
  a: ExpDiffSide;
  b: ExpDiffSide;
  params: ValueDiff[];
  metrics: ValueDiff[];
}

/** The names that mean the workspace. */
const WORKSPACE = new Set(["workspace", "ws"]);

async function resolveSide(repo: Repo, refs: readonly ExpRef[], name: string): Promise<ExpDiffSide> {
  if (WORKSPACE.has(name)) return { name: "workspace", commit: null, experiment: false };
  try {
    const e = findExp(refs, name);
    return { name: e.name, commit: e.commit, experiment: true };
  } catch (err) {
    if (!isMtrackError(err, "ERR_MTRACK_EXP_NOT_FOUND")) throw err;
  }
  try {
    return { name, commit: await resolveRevision(repo, name), experiment: false };
  } catch (err) {
    if (!isMtrackError(err)) throw err;
    throw new MtrackError(
      "ERR_MTRACK_EXP_NOT_FOUND",
      `'${name}' is neither an experiment nor a git revision.`,
      {
        data: { name },
        hint: "List experiments with `mtrack exp list`; `workspace` names the work tree.",
      },
    );
  }
}

/**
 * Compares `a` with `b`. Without `b`: an experiment is compared with its baseline commit (what the
 * experiment changed); any other revision with the workspace.
 *
 * @example
 * await expDiff({ repo, a: "swift-otter" });
 * // { a: { name: "3f2a1b0", ... }, b: { name: "swift-otter", ... }, params: [{ key: "lr", old: 0.1, new: 0.3 }], metrics: [...] }
 */
export async function expDiff(options: {
  repo: Repo;
  a: string;
  b?: string;
  all?: boolean;
}): Promise<ExpDiffResult> {
  const { repo } = options;
  const refs = listExpRefs(repo.root);
  let a = await resolveSide(repo, refs, options.a);
  let b: ExpDiffSide;
  if (options.b !== undefined) b = await resolveSide(repo, refs, options.b);
  else if (a.experiment) {
    const base = findExp(refs, a.name).baseline;
    b = a;
    a = { name: base.slice(0, 7), commit: base, experiment: false };
  } else b = { name: "workspace", commit: null, experiment: false };
  const ra: Rev = a.commit;
  const rb: Rev = b.commit;
  const all = !!options.all;
  const [params, metrics] = [
    await paramsDiff(repo, ra, rb, { all }),
    await metricsDiff(repo, ra, rb, { all }),
  ];
  return { a, b, params: params.diffs, metrics: metrics.diffs };
}
