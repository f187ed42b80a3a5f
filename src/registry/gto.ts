/**
 * The registry's git side, in GTO's tag format (https://github.com/iterative/gto), so `gto show` reads
 * what mtrack registered and CI can act on tag pushes:
 *
 *   <name>@v<N>.0.0          version N registered (annotated tag on the version's commit)
 *   <name>@v<N>.0.0!#<k>     version N deregistered (deleted)
 *   <name>#<alias>#<k>       alias (GTO's stage) assigned to the version registered at that commit
 *   <name>#<alias>!#<k>      alias removed
 *   <name>@deprecated#<k>    model deleted
 *
 * `k` counts the model's tags, as GTO numbers them. Versions map to semver as N → vN.0.0. GTO knows a
 * version by its commit, so a second version registered at a commit that already carries one gets no tag
 * (GTO could not tell them apart) and neither do its alias changes; the registry itself is unaffected.
 * Planning is pure (`planTags`); `writeTags` runs `git tag -a`.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** GTO's artifact/stage name rule. */
const GTO_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$/;

/** GTO's semver for a registry version number. */
export function semverOf(version: number): string {
  return `v${version}.0.0`;
}

/** Why a name cannot be written as a GTO tag, or undefined when it can. */
export function gtoNameProblem(name: string): string | undefined {
  if (!GTO_NAME.test(name))
    return `GTO names use letters, digits, '-' and '_' only (${JSON.stringify(name)})`;
  return undefined;
}

/** One git tag to create. */
export interface PlannedTag {
  name: string;
  /** The commit it points at. */
  commit: string;
  message: string;
}

/** A registry change as the tag writer sees it. */
export type TagChange =
  | { kind: "register"; model: string; version: number; commit: string | null }
  | { kind: "deregister"; model: string; version: number }
  | { kind: "assign"; model: string; alias: string; version: number }
  | { kind: "unassign"; model: string; alias: string; version: number }
  | { kind: "deprecate"; model: string };

/** What the repository's tags say already (the part planning needs). */
export interface ExistingTags {
  /** Every tag name. */
  names: readonly string[];
  /** Tag name → the commit it points at (annotated tags peeled). */
  commitOf: (tag: string) => string | undefined;
}

/** The result of planning: tags to write, or why none is written. */
export type TagPlan = { tags: PlannedTag[]; skipped?: undefined } | { tags: []; skipped: string };

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The highest GTO counter among a model's tags. */
function counter(model: string, names: readonly string[]): number {
  const re = new RegExp(`^${escapeRe(model)}[@#].*#(\\d+)$`);
  let max = 0;
  for (const n of names) {
    const m = re.exec(n);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max;
}

/**
 * Decides which tags a registry change writes. Pure.
 *
 * @example
 * planTags({ kind: "register", model: "clf", version: 2, commit: "ab12..." }, { names: [], commitOf: () => undefined });
 * // { tags: [{ name: "clf@v2.0.0", commit: "ab12...", message: "Registering artifact clf version v2.0.0" }] }
 */
export function planTags(change: TagChange, existing: ExistingTags): TagPlan {
  const problem = gtoNameProblem(change.model);
  if (problem) return { tags: [], skipped: problem };
  const model = change.model;
  const versionTag = (v: number) => `${model}@${semverOf(v)}`;
  const next = () => counter(model, existing.names) + 1;
  switch (change.kind) {
    case "register": {
      if (change.commit === null) return { tags: [], skipped: "the version has no git commit" };
      const tag = versionTag(change.version);
      if (existing.names.includes(tag)) return { tags: [], skipped: `tag ${tag} already exists` };
      const clash = existing.names.find(
        (n) => n.startsWith(`${model}@v`) && !n.includes("!") && existing.commitOf(n) === change.commit,
      );
      if (clash) {
        return {
          tags: [],
          skipped: `commit ${change.commit.slice(0, 10)} already carries ${clash}; GTO allows one version per commit`,
        };
      }
      return {
        tags: [
          {
            name: tag,
            commit: change.commit,
            message: `Registering artifact ${model} version ${semverOf(change.version)}`,
          },
        ],
      };
    }
    case "deregister":
    case "assign":
    case "unassign": {
      const vtag = versionTag(change.version);
      const commit = existing.names.includes(vtag) ? existing.commitOf(vtag) : undefined;
      if (commit === undefined) return { tags: [], skipped: `version ${change.version} has no GTO tag` };
      if (change.kind === "deregister") {
        return {
          tags: [
            {
              name: `${vtag}!#${next()}`,
              commit,
              message: `Deregistering artifact ${model} version ${semverOf(change.version)}`,
            },
          ],
        };
      }
      const stageProblem = gtoNameProblem(change.alias);
      if (stageProblem) return { tags: [], skipped: stageProblem };
      const assign = change.kind === "assign";
      return {
        tags: [
          {
            name: `${model}#${change.alias}${assign ? "" : "!"}#${next()}`,
            commit,
            message: assign
              ? `Assigning stage ${change.alias} to artifact ${model} version ${semverOf(change.version)}`
              : `Unassigning stage ${change.alias} from artifact ${model} version ${semverOf(change.version)}`,
          },
        ],
      };
    }
    case "deprecate": {
      const any = existing.names.find((n) => n.startsWith(`${model}@v`));
      const commit = any === undefined ? undefined : existing.commitOf(any);
      if (commit === undefined) return { tags: [], skipped: "the model has no GTO tags" };
      return {
        tags: [{ name: `${model}@deprecated#${next()}`, commit, message: `Deprecating artifact ${model}` }],
      };
    }
  }
}

/** Runs git in a work tree; rejects with git's stderr. */
async function git(root: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await run("git", args, { cwd: root, env: env ?? process.env, maxBuffer: 64 << 20 });
  return stdout;
}

/**
 * Reads the repository's tags (names and peeled commits) with one `git for-each-ref`.
 *
 * @example
 * const tags = await readTags("/repo"); tags.commitOf("clf@v1.0.0");
 */
export async function readTags(root: string): Promise<ExistingTags> {
  const out = await git(root, [
    "for-each-ref",
    "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)",
    "refs/tags",
  ]);
  const map = new Map<string, string>();
  for (const line of out.split("\n")) {
    if (line === "") continue;
    const [name, oid, peeled] = line.split("\0");
    if (name) map.set(name, peeled || oid || "");
  }
  return { names: [...map.keys()], commitOf: (t) => map.get(t) };
}

/** True when `commit` is a commit of the repository at `root`. */
export async function commitExists(root: string, commit: string): Promise<boolean> {
  try {
    await git(root, ["cat-file", "-e", `${commit}^{commit}`]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates annotated tags. Without a configured git identity, `user` (else "mtrack") is the tagger, so
 * a fresh machine can still register.
 *
 * @example
 * await writeTags("/repo", plan.tags, "alice");
 */
export async function writeTags(root: string, tags: readonly PlannedTag[], user: string): Promise<void> {
  if (tags.length === 0) return;
  let identity: string[] = [];
  try {
    await git(root, ["config", "user.email"]);
  } catch {
    identity = ["-c", `user.name=${user || "mtrack"}`, "-c", "user.email=mtrack@localhost"];
  }
  for (const t of tags) await git(root, [...identity, "tag", "-a", t.name, t.commit, "-m", t.message]);
}

/** What happened on the git side of a registry change. */
export interface GitTagResult {
  tags: string[];
  /** Why no tag was written, when none was. */
  skipped?: string;
}

/**
 * Plans and writes the tags of one change; never throws (a registry change stands even when git cannot
 * be tagged; the reason is returned).
 *
 * @example
 * await tagChange("/repo", { kind: "assign", model: "clf", alias: "champion", version: 2 }, "alice");
 */
export async function tagChange(root: string, change: TagChange, user: string): Promise<GitTagResult> {
  try {
    const existing = await readTags(root);
    if (change.kind === "register" && change.commit !== null && !(await commitExists(root, change.commit))) {
      return { tags: [], skipped: `commit ${change.commit.slice(0, 10)} is not in this repository` };
    }
    const plan = planTags(change, existing);
    if (plan.skipped !== undefined) return { tags: [], skipped: plan.skipped };
    await writeTags(root, plan.tags, user);
    return { tags: plan.tags.map((t) => t.name) };
  } catch (err) {
    return { tags: [], skipped: `git: ${(err as Error).message.split("\n")[0]}` };
  }
}
