/**
 * `mtrack import <repo> <path>` and `mtrack update`: a path of another repository written into this one
 * with a pointer that records where it came from (the repository, the rev asked for, the commit it
 * resolved to, the path there). The data is an ordinary tracked path afterwards (checkout, push, status,
 * repro all see a pointer); `update` follows the recorded rev to the source's newest commit.
 */
import * as path from "node:path";
import { MtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import type { Hash } from "../store/types.js";
import type { TransferSummary } from "../transfer/objects.js";
import { toPosix } from "../util/fs.js";
import { checkOut, writePointerData } from "../workspace/get.js";
import { removeFromGitignore } from "../workspace/gitignore.js";
import { writeWithPointer } from "../workspace/pending.js";
import { type GitSource, type Pointer, type PointerSource, writePointer } from "../workspace/pointer.js";
import type { ProgressFn } from "../workspace/scan.js";
import { StatCache } from "../workspace/statcache.js";
import { currentState, loadPointer, pointerFileOf, resolveTarget } from "../workspace/tracked.js";
import { fetchSourcePath, openFor, type SourceContext, sourceContextOf } from "./ops.js";

/** What an import or an update did to one path. */
export interface ImportResult {
  /** Repo-relative path of the data. */
  path: string;
  /** Repo-relative path of its pointer file. */
  pointer: string;
  source: PointerSource;
  /** The source before an update (undefined for a fresh import). */
  from?: PointerSource;
  type: "file" | "directory";
  hash: Hash;
  size: number;
  files: number;
  /** false for an update that found nothing new (the source had not moved). */
  changed: boolean;
  /** The data itself changed (an update to a commit with the same content only rewrites the pointer). */
  dataChanged: boolean;
  downloaded: number;
  downloadedBytes: number;
}

/** True when `url` is a path on this machine (not a git URL), so it is recorded relative to the repo. */
function isLocalPath(url: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^[^/]+@[^/:]+:/.test(url);
}

/** How a source repository is written in the pointer: local paths relative to this repository's root. */
export function recordedRepo(repo: Repo, url: string): string {
  if (!isLocalPath(url)) return url;
  const rel = toPosix(path.relative(repo.root, path.resolve(url)));
  return rel === "" ? "." : rel;
}

/** The recorded repository as something openSource can read from any working directory. */
export function sourceLocation(repo: Repo, recorded: string): string {
  return isLocalPath(recorded) ? path.resolve(repo.root, recorded) : recorded;
}

function notAnImport(rel: string): MtrackError {
  return new MtrackError(
    "ERR_MTRACK_NOT_AN_IMPORT",
    `${rel} was not imported (its pointer records no source).`,
    {
      hint: "`mtrack update` moves paths written by `mtrack import` or `mtrack import-url`; re-add other data with `mtrack add`.",
      data: { path: rel },
    },
  );
}

function notTracked(rel: string): MtrackError {
  return new MtrackError("ERR_MTRACK_NOT_TRACKED", `${rel} is not tracked (no ${rel}.mtrack).`, {
    hint: "Name an imported path (`mtrack status` lists them).",
    data: { path: rel },
  });
}

/** Refuses to write over data or a pointer already at `rel` (unless `force`), or over a git file. */
export function checkNewTarget(repo: Repo, rel: string, force: boolean | undefined): void {
  const fs = repo.fs;
  checkOut(fs, repo.abs(rel), force);
  checkOut(fs, pointerFileOf(repo, rel), force);
  let files: string[] = [];
  try {
    files = repo.git().trackedPaths();
  } catch {
    files = [];
  }
  const inGit = files.find((f) => f === rel || f.startsWith(`${rel}/`));
  if (inGit !== undefined) {
    throw new MtrackError("ERR_MTRACK_TRACKED_BY_GIT", `${rel} is tracked by git (${inGit}).`, {
      hint: "Import to another path with -o, or stop tracking it in git first (`git rm -r --cached`).",
      data: { path: rel, tracked: inGit },
    });
  }
}

/** Refuses to replace a workspace copy that differs from its pointer (unless `force`). */
export async function checkUnmodified(repo: Repo, rel: string, pointer: Pointer, force?: boolean) {
  if (force) return;
  const cache = StatCache.load(repo.paths.stateDir, repo.fs);
  try {
    const now = await currentState(repo, rel, { cache, quick: true });
    if (now.exists && (now.hash !== pointer.hash || !!now.executable !== !!pointer.executable)) {
      throw new MtrackError(
        "ERR_MTRACK_WOULD_OVERWRITE",
        `${rel} has local modifications that a new version would overwrite.`,
        {
          hint: "Keep them with `mtrack add` (the path then stops being an import), or pass --force to discard them.",
          data: { path: rel },
        },
      );
    }
  } finally {
    cache.save();
  }
}

/**
 * Writes `pointer`'s data (from the store) to `rel` and then its pointer, journalled (pending.ts) so a
 * kill between the two is rolled forward by the next locked command; on an error the data written is
 * removed again. So no data is left without its pointer nor a pointer without its data.
 */
export function writeImported(
  repo: Repo,
  rel: string,
  pointer: Pointer,
  label: string,
  onProgress?: ProgressFn,
) {
  const fs = repo.fs;
  const abs = repo.abs(rel);
  let old: Pointer | undefined;
  let readable = true;
  try {
    old = loadPointer(repo, rel);
  } catch {
    readable = false; // an unreadable pointer is there: not ours to remove
  }
  try {
    return writeWithPointer(repo, rel, pointer, () =>
      writePointerData(repo.store, fs, pointer, label, abs, { force: true, onProgress }),
    );
  } catch (err) {
    if (readable && old === undefined) {
      fs.rmSync(abs, { recursive: true, force: true });
      removeFromGitignore(abs, fs);
    } else if (old !== undefined && loadPointer(repo, rel)?.hash === old.hash) {
      // An update that failed after the old data went: put the old version back under its pointer
      // (best effort: its objects are normally still in the store).
      try {
        writePointerData(repo.store, fs, old, rel, abs, { force: true });
      } catch {
        // `mtrack checkout` restores it once the objects are here again.
      }
    }
    throw err;
  }
}

/** Downloads and writes one git import of `source` to `rel`; `old` is the pointer being replaced. */
async function writeGitImport(
  repo: Repo,
  ctx: SourceContext,
  rel: string,
  source: { url: string; rev: string; path: string },
  options: { jobs?: number; onProgress?: ProgressFn; old?: Pointer; beforeDownload?: () => void },
): Promise<Omit<ImportResult, "from">> {
  const src = await openFor(sourceLocation(repo, source.url), source.rev, ctx);
  const got = await fetchSourcePath(src, source.path, ctx, {
    jobs: options.jobs,
    onProgress: options.onProgress,
    beforeDownload: options.beforeDownload,
  });
  const recorded: GitSource = {
    kind: "git",
    repo: source.url,
    rev: src.rev,
    commit: src.commit,
    path: got.rel,
  };
  let pointer: Pointer;
  if (got.pointer) {
    const { source: _theirs, ...theirs } = got.pointer;
    pointer = { ...theirs, path: path.posix.basename(rel), source: recorded };
  } else {
    // A plain git file of the source is stored like any other file.
    const blob = got.blob!;
    pointer = {
      path: path.posix.basename(rel),
      type: "file",
      hash: repo.store.putBuffer(blob).hash,
      size: blob.length,
    };
    pointer.source = recorded;
  }
  await repo.store.flush();
  const old = options.old;
  const sameData =
    old !== undefined && old.hash === pointer.hash && !!old.executable === !!pointer.executable;
  const dataPresent = sameData && (await dataMatches(repo, rel, pointer));
  let files = pointer.type === "directory" ? (pointer.files ?? 0) : 1;
  if (dataPresent) writePointer(pointerFileOf(repo, rel), pointer, repo.fs);
  else files = writeImported(repo, rel, pointer, `${got.rel}@${src.rev}`, options.onProgress);
  return {
    path: rel,
    pointer: `${rel}.mtrack`,
    source: recorded,
    type: pointer.type,
    hash: pointer.hash,
    size: pointer.size,
    files,
    changed: true,
    dataChanged: !sameData,
    downloaded: got.downloaded,
    downloadedBytes: got.downloadedBytes,
  };
}

/** Whether the workspace already holds exactly `pointer`'s content at `rel`. */
async function dataMatches(repo: Repo, rel: string, pointer: Pointer): Promise<boolean> {
  const cache = StatCache.load(repo.paths.stateDir, repo.fs);
  try {
    const now = await currentState(repo, rel, { cache, quick: true });
    return now.exists && now.hash === pointer.hash;
  } finally {
    cache.save();
  }
}

/**
 * Imports `relIn` of the repository `url` at `rev` to `outAbs` (default: the path's basename in the
 * current directory): data and a pointer recording the source. Nothing is written when anything fails.
 *
 * @example
 * await importFromSource(repo, "../registry", "data/images", { rev: "v1", outAbs: "/repo/images" });
 */
export async function importFromSource(
  repo: Repo,
  url: string,
  relIn: string,
  options: {
    rev?: string;
    outAbs: string;
    force?: boolean;
    jobs?: number;
    onProgress?: ProgressFn;
    env?: NodeJS.ProcessEnv;
  },
): Promise<ImportResult> {
  const rel = resolveTarget(repo, options.outAbs);
  const ctx = sourceContextOf(repo, options.env ?? process.env);
  checkNewTarget(repo, rel, options.force);
  return writeGitImport(
    repo,
    ctx,
    rel,
    { url: recordedRepo(repo, url), rev: options.rev ?? "HEAD", path: relIn },
    { jobs: options.jobs, onProgress: options.onProgress },
  );
}

/** Loads the pointer of an imported path, refusing paths that are not imports. */
export function loadImport(repo: Repo, rel: string): Pointer & { source: PointerSource } {
  const pointer = loadPointer(repo, rel);
  if (!pointer) throw notTracked(rel);
  if (!pointer.source) throw notAnImport(rel);
  return pointer as Pointer & { source: PointerSource };
}

/**
 * Moves an import from another repository to the newest commit of its recorded rev (or of `rev`, which
 * is recorded from now on). An unchanged source gives `changed: false` and writes nothing.
 *
 * @example
 * const r = await updateGitImport(repo, "images", {}); if (!r.changed) console.log("up to date");
 */
export async function updateGitImport(
  repo: Repo,
  rel: string,
  pointer: Pointer & { source: GitSource },
  options: { rev?: string; force?: boolean; jobs?: number; onProgress?: ProgressFn; env?: NodeJS.ProcessEnv },
): Promise<ImportResult> {
  const ctx = sourceContextOf(repo, options.env ?? process.env);
  const old = pointer.source;
  const rev = options.rev ?? old.rev;
  const src = await openFor(sourceLocation(repo, old.repo), rev, ctx);
  const unchangedResult: ImportResult = {
    path: rel,
    pointer: `${rel}.mtrack`,
    source: old,
    from: old,
    type: pointer.type,
    hash: pointer.hash,
    size: pointer.size,
    files: pointer.type === "directory" ? (pointer.files ?? 0) : 1,
    changed: false,
    dataChanged: false,
    downloaded: 0,
    downloadedBytes: 0,
  };
  if (src.commit === old.commit && rev === old.rev) return unchangedResult;
  await checkUnmodified(repo, rel, pointer, options.force);
  const r = await writeGitImport(
    repo,
    ctx,
    rel,
    { url: old.repo, rev, path: old.path },
    {
      jobs: options.jobs,
      onProgress: options.onProgress,
      old: pointer,
    },
  );
  return { ...r, from: old };
}

/** Whether an import's source has moved on: the source's commit for its rev now. */
export interface ImportCheck {
  path: string;
  source: PointerSource;
  /** The commit (git) or the version description (url) the source has now. */
  latest?: string;
  moved: boolean;
  /** Why the source could not be asked (unreachable, rev gone): an error code. */
  error?: string;
}

/**
 * Asks each import's source whether its recorded rev still resolves to the recorded commit.
 *
 * @example
 * const [c] = await checkGitImport(repo, "images", pointer.source); if (c.moved) ...
 */
export async function checkGitImport(
  repo: Repo,
  rel: string,
  source: GitSource,
  env?: NodeJS.ProcessEnv,
): Promise<ImportCheck> {
  const ctx = sourceContextOf(repo, env ?? process.env);
  try {
    const src = await openFor(sourceLocation(repo, source.repo), source.rev, ctx);
    return { path: rel, source, latest: src.commit, moved: src.commit !== source.commit };
  } catch (err) {
    if (err instanceof MtrackError) return { path: rel, source, moved: false, error: err.code };
    throw err;
  }
}

/**
 * Fetches the objects of imported paths that the store still lacks from their sources' remotes (after
 * this project's own remote was asked): `pull` of an import that was never pushed here. Returns what
 * moved, and drops the problems it fixed from `summary`.
 *
 * @example
 * await fetchImportsFromSources(repo, pointers, summary, { jobs: 8 });
 */
export async function fetchImportsFromSources(
  repo: Repo,
  imports: ReadonlyArray<{ rel: string; pointer: Pointer & { source: GitSource } }>,
  summary: TransferSummary,
  options: { jobs?: number; onProgress?: ProgressFn; env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  if (imports.length === 0) return;
  const ctx = sourceContextOf(repo, options.env ?? process.env);
  for (const { rel, pointer } of imports) {
    const src = await openFor(sourceLocation(repo, pointer.source.repo), pointer.source.commit, ctx);
    const got = await fetchSourcePath(src, pointer.source.path, ctx, {
      jobs: options.jobs,
      onProgress: options.onProgress,
    });
    // A plain git file of the source comes from its git history.
    const hash = got.blob ? repo.store.putBuffer(got.blob).hash : got.pointer?.hash;
    if (hash !== pointer.hash) {
      throw new MtrackError(
        "ERR_MTRACK_OBJECT_MISSING",
        `${rel}: ${pointer.source.path}@${pointer.source.commit.slice(0, 10)} of ${pointer.source.repo} is not the content its pointer names.`,
        {
          hint: "The source was rewritten; import it again (`mtrack import --force`) or `mtrack update` it.",
          data: { path: rel },
        },
      );
    }
    summary.objects += got.downloaded + (got.blob ? 1 : 0);
    summary.bytes += got.downloadedBytes + (got.blob?.length ?? 0);
  }
  await repo.store.flush();
  const store = repo.store;
  summary.missingRemote = summary.missingRemote.filter((p) => !store.has(p.hash));
}

/**
 * One line naming an import's source, for status and update output.
 *
 * @example
 * describeSource(pointer.source) // "../registry data/images@v1 (4b1f0c9d2e)"
 */
export function describeSource(s: PointerSource): string {
  if (s.kind === "git") return `${s.repo} ${s.path}@${s.rev} (${s.commit.slice(0, 10)})`;
  if (s.kind === "model") return `${s.repo} ${s.model} (version ${s.version})`;
  const v = s.etag ? `etag ${s.etag}` : s.lastModified ? `modified ${s.lastModified}` : "";
  return v ? `${s.url} (${v})` : s.url;
}

/**
 * The version of a source in a few characters, for "old -> new" lines (update, diff).
 *
 * @example
 * sourceVersion(gitSource) // "v1 (4b1f0c9d2e)"; a model's "v3"; a URL's ETag
 */
export function sourceVersion(s: PointerSource | undefined): string {
  if (!s) return "-";
  if (s.kind === "git") return `${s.rev} (${s.commit.slice(0, 10)})`;
  if (s.kind === "model") return `v${s.version}`;
  return s.etag ?? s.lastModified ?? s.url;
}
