/**
 * Which objects a push or fetch is about: the pointers of the workspace (or of some targets), of branch
 * or tag tips, or of every commit. Roots are pointer hashes; directory roots are manifests whose entries
 * come along (see expand in objects.ts).
 */
import * as path from "node:path";
import { type FileEntry, parseLock } from "../pipeline/lockfile.js";
import { LOCK_FILE_NAME, PIPELINE_FILE_NAME, selectCheckout, uncachedOutputs } from "../pipeline/outputs.js";
import type { Repo } from "../repo.js";
import type { Hash } from "../store/types.js";
import { POINTER_SUFFIX, type Pointer, parsePointer } from "../workspace/pointer.js";
import { loadPointer } from "../workspace/tracked.js";

/** What to transfer besides the workspace. */
export interface Selection {
  /** Absolute target paths (default: every tracked path in the workspace). */
  targets?: readonly string[];
  /** Also the pointers at the tip of every branch. */
  allBranches?: boolean;
  /** Also the pointers at every tag. */
  allTags?: boolean;
  /** Also the pointers in every commit reachable from any branch, tag or HEAD. */
  allCommits?: boolean;
  /** Also the pointers and lock outputs of these commits (e.g. experiments under refs/exps/). */
  commits?: readonly string[];
  /** Include the workspace's pointers and lock outputs (default true; false with `commits` alone). */
  workspace?: boolean;
}

/** Params files a pipeline's templates may read (`params.yaml` and friends beside it). */
const PARAMS_FILE = /(^|\/)[^/]*params[^/]*\.(ya?ml|json|toml)$/i;

/** A root object with a label saying where it comes from (for error messages). */
export interface TransferRoot {
  hash: Hash;
  size: number;
  tree: boolean;
  /** e.g. "data/images" or "data/images@1a2b3c4d5e". */
  label: string;
}

function rootOf(p: Pointer, label: string): TransferRoot {
  return { hash: p.hash, size: p.size, tree: p.type === "directory", label };
}

/**
 * Cached stage outputs recorded in a pipeline lock file (a malformed lock names nothing); outputs in
 * `uncached` (the pipeline's `cache: false` ones, which git keeps) are left out.
 */
function lockRoots(text: string, file: string, uncached: Set<string> | undefined): TransferRoot[] {
  let outs: FileEntry[];
  try {
    outs = Object.values(parseLock(text, file).stages).flatMap((e) => e.outs);
  } catch {
    return [];
  }
  return outs
    .filter((o) => !uncached?.has(o.path))
    .map((o) => ({
      hash: o.hash,
      size: o.size,
      tree: o.files !== undefined,
      label: `${file}:${o.path}`,
    }));
}

/**
 * The roots a selection names. Workspace pointers and the cached stage outputs of the workspace's
 * pipeline.lock always count (that is what `push` with no flags sends); history flags add the pointers
 * and lock outputs found in git.
 *
 * @example
 * const roots = await selectRoots(repo, { allBranches: true });
 */
export async function selectRoots(repo: Repo, selection: Selection = {}): Promise<TransferRoot[]> {
  const out = new Map<Hash, TransferRoot>();
  const add = (r: TransferRoot) => {
    if (!out.has(r.hash)) out.set(r.hash, r);
  };
  // Cached pipeline outputs of the workspace travel with the data (a clone + pull can skip re-running
  // stages). Outputs git keeps (`cache: false`) travel by git.
  if (selection.workspace !== false) {
    const selected = selectCheckout(repo, selection.targets);
    for (const rel of selected.paths) {
      const p = loadPointer(repo, rel) ?? selected.outputs.get(rel);
      if (p) add(rootOf(p, rel));
    }
  }
  if (selection.allBranches || selection.allTags || selection.allCommits || selection.commits?.length) {
    const git = repo.git();
    const tips = new Set<string>();
    if (selection.allBranches || selection.allCommits)
      for (const b of await git.listBranches()) tips.add(b.oid);
    if (selection.allTags || selection.allCommits) for (const t of await git.listTags()) tips.add(t.oid);
    if (selection.allCommits) {
      const head = await git.headCommit();
      if (head) tips.add(head);
    }
    const commits: string[] = [];
    if (selection.allCommits) for await (const c of git.walkCommits([...tips])) commits.push(c);
    else commits.push(...tips);
    const listed = new Set(commits);
    for (const c of selection.commits ?? []) if (!listed.has(c)) commits.push(c);
    const seenBlobs = new Set<string>();
    // Pipeline files come along to tell which lock outputs are `cache: false` (in git, not the store),
    // and the params files beside them for the templates in their paths.
    const wanted = (p: string) =>
      p.endsWith(POINTER_SUFFIX) ||
      LOCK_FILE_NAME.test(p) ||
      PIPELINE_FILE_NAME.test(p) ||
      PARAMS_FILE.test(p);
    for (const commit of commits) {
      const files = await git.findFilesInCommit(commit, wanted);
      const byPath = new Map(files.map((f) => [f.path, f.oid]));
      for (const f of files) {
        if (seenBlobs.has(f.oid)) continue;
        if (LOCK_FILE_NAME.test(f.path)) {
          const pipelineFile = f.path.replace(/\.lock$/, ".yaml");
          const pipelineOid = byPath.get(pipelineFile);
          // The same lock beside another pipeline file is another question: remember the pair.
          const key = `${f.oid}:${pipelineOid ?? ""}`;
          if (seenBlobs.has(key)) continue;
          seenBlobs.add(key);
          let uncached: Set<string> | undefined;
          if (pipelineOid) {
            const dir = path.posix.dirname(pipelineFile);
            const texts = new Map<string, string>();
            for (const [p, oid] of byPath)
              if (PARAMS_FILE.test(p) && path.posix.dirname(p) === dir)
                texts.set(path.posix.basename(p), (await git.readBlob(oid)).toString("utf8"));
            uncached = uncachedOutputs(
              (await git.readBlob(pipelineOid)).toString("utf8"),
              pipelineFile,
              (rel) => texts.get(rel),
            );
          }
          for (const r of lockRoots(
            (await git.readBlob(f.oid)).toString("utf8"),
            `${f.path}@${commit.slice(0, 10)}`,
            uncached,
          ))
            add(r);
          continue;
        }
        if (!f.path.endsWith(POINTER_SUFFIX)) continue;
        seenBlobs.add(f.oid);
        const label = `${f.path.slice(0, -POINTER_SUFFIX.length)}@${commit.slice(0, 10)}`;
        try {
          add(rootOf(parsePointer((await git.readBlob(f.oid)).toString("utf8"), label), label));
        } catch {
          // A malformed pointer in an old commit names nothing we could transfer.
        }
      }
    }
  }
  return [...out.values()];
}
