/**
 * Experiments as git commits on `refs/exps/<2 hex>/<38 hex of the baseline commit>/<name>` (DVC's layout), read and written with the git CLI:
 * one `git for-each-ref` and one `git cat-file --batch` read every experiment, whatever their number.
 */

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { MtrackError } from "../errors.js";

/** Where experiments live. */
export const EXP_REFS = "refs/exps";

/** One experiment ref. */
export interface ExpRef {
  name: string;
  ref: string;
  commit: string;
  baseline: string;
  /** Unix seconds. */
  created: number;
  /** success | failed, from the commit message. */
  state: string;
  /** The `-S` overrides it ran with, from the commit message. */
  message: string;
}

/** Runs git in `cwd`; throws ERR_MTRACK_GIT with its stderr on failure. */
export function git(
  cwd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string | Buffer } = {},
): string {
  const r = spawnSync("git", args, {
    cwd,
    env: options.env ?? process.env,
    input: options.input,
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) {
    throw new MtrackError(
      "ERR_MTRACK_GIT",
      `git ${args[0]} failed: ${r.stderr?.toString().trim() || r.error?.message}`,
      { data: { args: [...args] } },
    );
  }
  return r.stdout.toString();
}

/**
 * Records the work tree at `cwd` as a commit whose parent is `baseline`, without touching the real index:
 * a temporary index starts from the baseline's tree and takes every file git does not ignore (params,
 * pipeline.lock, pointer files, `cache: false` metrics). Points `ref` at it and returns the commit.
 */
export function commitWorkTree(options: {
  cwd: string;
  baseline: string;
  ref: string;
  message: string;
  tmpDir: string;
}): string {
  fs.mkdirSync(options.tmpDir, { recursive: true });
  const index = path.join(options.tmpDir, `exp-index-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const env = { ...process.env, GIT_INDEX_FILE: index };
  try {
    git(options.cwd, ["read-tree", options.baseline], { env });
    git(options.cwd, ["add", "-A", "."], { env });
    const tree = git(options.cwd, ["write-tree"], { env }).trim();
    const commit = git(options.cwd, ["commit-tree", tree, "-p", options.baseline, "-F", "-"], {
      env,
      input: options.message,
    }).trim();
    git(options.cwd, ["update-ref", options.ref, commit]);
    return commit;
  } finally {
    fs.rmSync(index, { force: true });
  }
}

const FIELD = "%00";

/** HEAD's commit: an experiment's parent. A repository with no commit yet has no baseline (ERR_MTRACK_EXP_NO_BASELINE). */
export function headBaseline(root: string): string {
  try {
    return git(root, ["rev-parse", "--verify", "-q", "HEAD^{commit}"]).trim();
  } catch {
    throw new MtrackError(
      "ERR_MTRACK_EXP_NO_BASELINE",
      "This repository has no commit yet: an experiment needs a baseline commit.",
      { hint: 'Commit the pipeline and its params first: git add -A && git commit -m "baseline"' },
    );
  }
}

/** The ref of experiment `name` on `baseline` (DVC's layout, so `dvc exp show` reads them too). */
export function expRefName(baseline: string, name: string): string {
  return `${EXP_REFS}/${baseline.slice(0, 2)}/${baseline.slice(2)}/${name}`;
}

/** Every experiment, newest first. One git process. */
export function listExpRefs(root: string): ExpRef[] {
  const out = git(root, [
    "for-each-ref",
    "--sort=-creatordate",
    `--format=%(refname)${FIELD}%(objectname)${FIELD}%(creatordate:unix)${FIELD}%(contents)%01`,
    EXP_REFS,
  ]);
  const refs: ExpRef[] = [];
  for (const record of out.split("\x01")) {
    const [ref, commit, created, message] = record.replace(/^\n/, "").split("\0");
    if (!ref || !commit) continue;
    // DVC's layout: refs/exps/<2 hex>/<38 hex>/<name>.
    const parts = ref.slice(EXP_REFS.length + 1).split("/");
    if (parts.length < 3) continue;
    const baseline = `${parts[0]}${parts[1]}`;
    const name = parts.slice(2).join("/");
    const state = /^state: (\S+)$/m.exec(message ?? "")?.[1] ?? "success";
    refs.push({ name, ref, commit, baseline, created: Number(created), state, message: message ?? "" });
  }
  return refs;
}

/** The experiment called `name` (or whose commit starts with it); ERR_MTRACK_EXP_NOT_FOUND otherwise. */
export function findExp(refs: readonly ExpRef[], name: string): ExpRef {
  const hit =
    refs.find((r) => r.name === name) ?? refs.find((r) => name.length >= 7 && r.commit.startsWith(name));
  if (!hit)
    throw new MtrackError("ERR_MTRACK_EXP_NOT_FOUND", `No experiment '${name}'.`, {
      data: { name },
      hint: "List them with `mtrack exp list`.",
    });
  return hit;
}

/**
 * Reads many `<commit>:<path>` blobs with one `git cat-file --batch`; missing ones are null.
 *
 * @example
 * readBlobs(root, ["abc123:params.yaml"]); // ["lr: 0.1\n"]
 */
export function readBlobs(root: string, specs: readonly string[]): Array<string | null> {
  if (specs.length === 0) return [];
  const r = spawnSync("git", ["cat-file", "--batch"], {
    cwd: root,
    input: `${specs.join("\n")}\n`,
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) throw new MtrackError("ERR_MTRACK_GIT", `git cat-file failed: ${r.stderr.toString()}`);
  const buf = r.stdout;
  const out: Array<string | null> = [];
  let pos = 0;
  for (let i = 0; i < specs.length; i++) {
    const nl = buf.indexOf(10, pos);
    const header = buf.subarray(pos, nl).toString();
    pos = nl + 1;
    const m = /^\S+ (\S+) (\d+)$/.exec(header);
    if (!m) {
      out.push(null); // "<spec> missing" or ambiguous
      continue;
    }
    const size = Number(m[2]);
    out.push(m[1] === "blob" ? buf.subarray(pos, pos + size).toString() : null);
    pos += size + 1;
  }
  return out;
}

const ADJECTIVES = [
  "agile",
  "bold",
  "brisk",
  "calm",
  "clear",
  "crisp",
  "dandy",
  "eager",
  "fair",
  "fleet",
  "gentle",
  "glad",
  "grand",
  "hardy",
  "keen",
  "lively",
  "lucid",
  "merry",
  "neat",
  "noble",
  "plucky",
  "proud",
  "quick",
  "quiet",
  "rapid",
  "sharp",
  "sleek",
  "snowy",
  "solid",
  "spry",
  "stout",
  "sunny",
  "swift",
  "tidy",
  "vivid",
  "witty",
];
const NOUNS = [
  "alder",
  "aspen",
  "badger",
  "birch",
  "bison",
  "cedar",
  "crane",
  "delta",
  "egret",
  "falcon",
  "fern",
  "finch",
  "gecko",
  "heron",
  "ibis",
  "larch",
  "lemur",
  "lynx",
  "maple",
  "marten",
  "moose",
  "newt",
  "oak",
  "otter",
  "panda",
  "pine",
  "quail",
  "raven",
  "robin",
  "sable",
  "tapir",
  "thrush",
  "walnut",
  "wren",
  "yak",
  "zebu",
];

/** A readable name not in `taken` (`swift-otter`, then `swift-otter-2`...). */
export function generateName(taken: ReadonlySet<string>, random: () => number = Math.random): string {
  for (let i = 0; i < 50; i++) {
    const a = ADJECTIVES[Math.floor(random() * ADJECTIVES.length)];
    const n = NOUNS[Math.floor(random() * NOUNS.length)];
    const name = `${a}-${n}`;
    if (!taken.has(name)) return name;
  }
  let k = 2;
  while (taken.has(`exp-${k}`)) k++;
  return `exp-${k}`;
}

/** Refuses a name that is taken or not a valid ref component. */
export function checkNewName(name: string, taken: ReadonlySet<string>): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.endsWith(".lock") || name.includes(".."))
    throw new MtrackError("ERR_MTRACK_INVALID_NAME", `'${name}' is not a valid experiment name.`, {
      data: { name },
      hint: "Use letters, digits, '.', '_' and '-'.",
    });
  if (taken.has(name))
    throw new MtrackError("ERR_MTRACK_EXP_EXISTS", `An experiment named '${name}' already exists.`, {
      data: { name },
      hint: "Choose another name, or remove it with `mtrack exp remove`.",
    });
}
