/**
 * `mtrack exp push` / `exp pull`: an experiment travels as its git ref (to or from a git remote, with the
 * git CLI) and its data (to or from the mtrack remote, with the transfer code of `mtrack push`/`fetch`).
 * The order keeps refs honest: push sends the data before the ref, pull fetches the git objects, then
 * the data, and only then writes the local ref, so a ref never names data its side lacks.
 */

import { isMtrackError, MtrackError } from "../errors.js";
import { remoteNames } from "../remotes/config.js";
import type { Repo } from "../repo.js";
import { EXP_TAG } from "../tracking/context.js";
import { listRuns } from "../tracking/read.js";
import { fetchProblems, pushProblems } from "../transfer/objects.js";
import { fetch, push, type SyncOptions, type SyncResult } from "../transfer/sync.js";
import { EXP_REFS, type ExpRef, findExp, git, listExpRefs } from "./refs.js";

/** One experiment that moved. */
export interface MovedExp {
  name: string;
  ref: string;
  commit: string;
}

export interface ExpTransferResult {
  gitRemote: string;
  experiments: MovedExp[];
  /** What went to or came from the mtrack remote; null when no mtrack remote is configured. */
  data: SyncResult | null;
}

export interface ExpTransferOptions {
  repo: Repo;
  /** A git remote name (`origin`) or URL/path. */
  gitRemote: string;
  /** Experiment names (or commit prefixes). */
  names: readonly string[];
  /** Every experiment (push: of this clone; pull: of the git remote). */
  all?: boolean;
  /** Overwrite a ref of the same name that names another commit. */
  force?: boolean;
  /** Data options: the mtrack remote (`remote`), `runs`, `runCache`, `jobs`, `onProgress`, `env`. */
  sync?: SyncOptions;
  /** false: move only the git refs. */
  data?: boolean;
}

const env = { ...process.env, GIT_TERMINAL_PROMPT: "0" };

/** Refuses a name that is neither a configured git remote nor a reachable repository URL or path. */
function checkGitRemote(root: string, remote: string): void {
  try {
    git(root, ["remote", "get-url", remote], { env });
    return;
  } catch {
    // not a configured name; maybe a URL or path
  }
  try {
    git(root, ["ls-remote", "--heads", remote], { env });
  } catch {
    throw new MtrackError("ERR_MTRACK_EXP_GIT_REMOTE_INVALID", `'${remote}' is not a git remote.`, {
      data: { remote },
      hint: "Give a remote of `git remote -v` (add one with `git remote add <name> <url>`), or a git URL or path.",
    });
  }
}

/** The data half, or null when the repository has no mtrack remote and none was asked for. */
async function withData(
  options: ExpTransferOptions,
  commits: string[],
  move: typeof push,
  runIds?: ReadonlySet<string>,
): Promise<SyncResult | null> {
  if (options.data === false || commits.length === 0) return null;
  const sync = options.sync ?? {};
  if (sync.remote === undefined && remoteNames(options.repo.config).length === 0) return null;
  return move(options.repo, { ...sync, commits, workspace: false, ...(runIds ? { runIds } : {}) });
}

/**
 * The sealed runs logged in these experiments (tag `mtrack.exp`, see `exp run`), soft-deleted ones
 * too: what `exp push` sends of the runs.
 */
export function expRunIds(repo: Repo, names: ReadonlySet<string>): Set<string> {
  const runs = listRuns(repo.paths.runsDir, repo.store, { includeDeleted: true });
  return new Set(runs.filter((r) => names.has(r.tags[EXP_TAG] ?? "")).map((r) => r.runId));
}

/** Maps git's refusal of a ref that names another commit to ERR_MTRACK_EXP_EXISTS. */
function refused(err: unknown, names: string[], where: string): never {
  if (isMtrackError(err, "ERR_MTRACK_GIT") && /rejected|non-fast-forward|already exists/.test(err.message))
    throw new MtrackError("ERR_MTRACK_EXP_EXISTS", `${where} has another experiment of the same name.`, {
      data: { names, detail: err.message },
      hint: "Rename one (`mtrack exp rename`), or pass --force to overwrite it.",
    });
  throw err;
}

/**
 * Sends experiments: their data (objects named by their pointers and lock, plus runs and run-cache when
 * asked) to the mtrack remote, then their refs to the git remote.
 *
 * @example
 * await expPush({ repo, gitRemote: "origin", names: ["swift-otter"], sync: { runs: true, runCache: true } });
 */
export async function expPush(options: ExpTransferOptions): Promise<ExpTransferResult> {
  const root = options.repo.root;
  const refs = listExpRefs(root);
  const exps: ExpRef[] = options.all ? refs : options.names.map((n) => findExp(refs, n));
  if (exps.length === 0)
    throw new MtrackError("ERR_MTRACK_EXP_NOT_FOUND", "No experiment to push.", {
      hint: "Name experiments (`mtrack exp list`), or pass --all-commits for every one.",
    });
  checkGitRemote(root, options.gitRemote);
  const data = await withData(
    options,
    exps.map((e) => e.commit),
    push,
    options.sync?.runs ? expRunIds(options.repo, new Set(exps.map((e) => e.name))) : undefined,
  );
  // A corrupt local object was not sent: the ref waits until the data is whole on the remote.
  const problem = data && pushProblems(data.objects);
  if (problem) throw problem;
  const specs = exps.map((e) => `${options.force ? "+" : ""}${e.ref}:${e.ref}`);
  try {
    git(root, ["push", "--quiet", options.gitRemote, ...specs], { env });
  } catch (err) {
    refused(
      err,
      exps.map((e) => e.name),
      `The git remote '${options.gitRemote}'`,
    );
  }
  return {
    gitRemote: options.gitRemote,
    experiments: exps.map((e) => ({ name: e.name, ref: e.ref, commit: e.commit })),
    data,
  };
}

/** The experiment refs on a git remote (one `git ls-remote`). */
function remoteExps(root: string, remote: string): MovedExp[] {
  const out = git(root, ["ls-remote", remote, `${EXP_REFS}/*`], { env });
  const list: MovedExp[] = [];
  for (const line of out.split("\n")) {
    const [commit, ref] = line.split("\t");
    if (!commit || !ref?.startsWith(`${EXP_REFS}/`)) continue;
    const parts = ref.slice(EXP_REFS.length + 1).split("/");
    if (parts.length < 3) continue;
    list.push({ name: parts.slice(2).join("/"), ref, commit });
  }
  return list;
}

/**
 * Brings experiments from a git remote: their git objects, then their data from the mtrack remote (into
 * the store; `exp apply` checks them out), then their local refs.
 *
 * @example
 * await expPull({ repo, gitRemote: "origin", names: ["swift-otter"] });
 */
export async function expPull(options: ExpTransferOptions): Promise<ExpTransferResult> {
  const root = options.repo.root;
  if (!options.all && options.names.length === 0)
    throw new MtrackError("ERR_MTRACK_EXP_NOT_FOUND", "No experiment to pull.", {
      hint: `Name experiments (\`git ls-remote ${options.gitRemote} 'refs/exps/*'\` lists them), or pass --all-commits for every one.`,
    });
  checkGitRemote(root, options.gitRemote);
  const there = remoteExps(root, options.gitRemote);
  let wanted: MovedExp[];
  if (options.all) wanted = there;
  else {
    wanted = [];
    for (const n of options.names) {
      const hits = there.filter((e) => e.name === n || (n.length >= 7 && e.commit.startsWith(n)));
      if (hits.length === 0)
        throw new MtrackError(
          "ERR_MTRACK_EXP_NOT_FOUND",
          `No experiment '${n}' on the git remote '${options.gitRemote}'.`,
          {
            data: { name: n, remote: options.gitRemote },
            hint: `List them with \`git ls-remote ${options.gitRemote} 'refs/exps/*'\`.`,
          },
        );
      for (const h of hits) if (!wanted.some((w) => w.ref === h.ref)) wanted.push(h);
    }
  }
  if (wanted.length === 0)
    throw new MtrackError(
      "ERR_MTRACK_EXP_NOT_FOUND",
      `The git remote '${options.gitRemote}' has no experiment.`,
      {
        data: { remote: options.gitRemote },
      },
    );
  // A local ref of the same name on another commit is refused before anything is fetched.
  const local = new Map(listExpRefs(root).map((r) => [r.ref, r.commit]));
  const clash = wanted.filter((w) => local.has(w.ref) && local.get(w.ref) !== w.commit);
  if (clash.length > 0 && !options.force)
    refused(
      new MtrackError("ERR_MTRACK_GIT", "rejected"),
      clash.map((c) => c.name),
      "This repository",
    );
  // Objects only (FETCH_HEAD): the refs are written once the data is here.
  git(root, ["fetch", "--quiet", "--no-tags", options.gitRemote, ...wanted.map((w) => w.ref)], { env });
  const data = await withData(
    options,
    wanted.map((w) => w.commit),
    fetch,
  );
  // Missing or corrupt data: no ref is written (`--no-data` takes the refs alone).
  const problem = data && fetchProblems(data.objects);
  if (problem) throw problem;
  for (const w of wanted) git(root, ["update-ref", w.ref, w.commit]);
  return { gitRemote: options.gitRemote, experiments: wanted, data };
}
