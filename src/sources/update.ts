/**
 * `mtrack update` and `status --check-updates` over every kind of import: a path of another repository
 * (`mtrack import`) or a URL (`mtrack import-url`).
 */
import { MtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import type { Pointer } from "../workspace/pointer.js";
import type { ProgressFn } from "../workspace/scan.js";
import { findTrackedPaths, loadPointer, resolveTarget } from "../workspace/tracked.js";
import {
  checkGitImport,
  type ImportCheck,
  type ImportResult,
  loadImport,
  updateGitImport,
} from "./import.js";
import { checkModelImport, updateModelImport } from "./model.js";
import { checkUrlImport, updateUrlImport } from "./url.js";

/**
 * Moves each imported target to its source's newest version (`rev`: another revision for git imports).
 * Unchanged sources give `changed: false`; one failure stops the rest (the ones before stay updated).
 *
 * @example
 * const [r] = await updateImports(repo, ["/repo/images"], {}); if (!r.changed) say("up to date");
 */
export async function updateImports(
  repo: Repo,
  targetsAbs: readonly string[],
  options: {
    rev?: string;
    force?: boolean;
    jobs?: number;
    onProgress?: ProgressFn;
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<ImportResult[]> {
  const rels = targetsAbs.map((t) => resolveTarget(repo, t));
  const pointers = rels.map((rel) => ({ rel, pointer: loadImport(repo, rel) }));
  const noRev = pointers.find((p) => p.pointer.source.kind !== "git");
  if (options.rev !== undefined && noRev) {
    // A URL has no revisions, and a model import follows its URI: silently ignoring --rev would leave
    // the user believing it was followed.
    const url = noRev.pointer.source.kind === "url";
    throw new MtrackError(
      "ERR_MTRACK_INVALID_ARGUMENT",
      `${noRev.rel} was imported from ${url ? "a URL, which has no revisions" : "a model registry, where its URI (alias, /latest) is what moves"}: --rev applies to imports of a repository's path.`,
      {
        hint: url
          ? "Run `mtrack update <path>` without --rev (it downloads the URL again when its ETag, Last-Modified or size changed)."
          : "Run `mtrack update <path>` without --rev (it follows the URI), or import another URI with `mtrack import --force`.",
        data: { path: noRev.rel, rev: options.rev },
      },
    );
  }
  const out: ImportResult[] = [];
  for (const { rel, pointer } of pointers) {
    const s = pointer.source;
    if (s.kind === "git") out.push(await updateGitImport(repo, rel, { ...pointer, source: s }, options));
    else if (s.kind === "model")
      out.push(await updateModelImport(repo, rel, { ...pointer, source: s }, options));
    else out.push(await updateUrlImport(repo, rel, { ...pointer, source: s }, options));
  }
  return out;
}

/** Every imported path of the workspace (or of `rels`) with its pointer; unreadable pointers are skipped. */
export function listImports(repo: Repo, rels?: readonly string[]): Array<{ rel: string; pointer: Pointer }> {
  const out: Array<{ rel: string; pointer: Pointer }> = [];
  for (const rel of rels ?? findTrackedPaths(repo)) {
    let pointer: Pointer | undefined;
    try {
      pointer = loadPointer(repo, rel);
    } catch {
      continue;
    }
    if (pointer?.source) out.push({ rel, pointer });
  }
  return out;
}

/**
 * Asks the source of every import whether it has moved on (a git fetch of the rev, an HTTP HEAD...).
 *
 * @example
 * const moved = (await checkImports(repo)).filter((c) => c.moved);
 */
export async function checkImports(
  repo: Repo,
  rels?: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<ImportCheck[]> {
  const out: ImportCheck[] = [];
  for (const { rel, pointer } of listImports(repo, rels)) {
    const s = pointer.source!;
    out.push(
      s.kind === "git"
        ? await checkGitImport(repo, rel, s, env)
        : s.kind === "model"
          ? await checkModelImport(repo, rel, s, env)
          : await checkUrlImport(repo, rel, s, env),
    );
  }
  return out;
}
