/**
 * `mtrack ls <repo>` and `mtrack get <repo> <path>`: reading another repository's files and data. Git
 * gives the file list and pointers; the objects (manifests for `ls -R`, everything for `get`) come from
 * the source's default remote into the given store, so what is already there is not downloaded again.
 */
import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Config } from "../config.js";
import { isMtrackError, MtrackError } from "../errors.js";
import { openRemote, type Remote } from "../remotes/index.js";
import { Repo } from "../repo.js";
import { Store } from "../store/store.js";
import { decodeTree } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import { fetchObjects, fetchProblems } from "../transfer/objects.js";
import { writeFileAtomic } from "../util/fs.js";
import { checkOut, writePointerData } from "../workspace/get.js";
import {
  dataPathFor,
  POINTER_SUFFIX,
  type Pointer,
  parsePointer,
  pointerPathFor,
} from "../workspace/pointer.js";
import type { ProgressFn } from "../workspace/scan.js";
import { openSource, type Source, sourceRemote } from "./source.js";

/** Where a source's objects land and its per-remote caches live. */
export interface SourceContext {
  store: Store;
  /** `.mtrack/state` (or a temporary one): per-remote caches such as S3 pack indexes. */
  stateDir: string;
  /** Where shallow fetches of source repositories are kept. */
  cacheRoot: string;
  /** The caller's own config: lends credentials for the source's remote URL. */
  own?: Config;
  env?: NodeJS.ProcessEnv;
}

/** One row of `mtrack ls`. */
export interface LsEntry {
  /** Repo-relative posix path (a tracked path without its `.mtrack` suffix). */
  path: string;
  /** "git" for a file git holds, "file"/"directory" for an mtrack-tracked path, "entry" inside one (`-R`). */
  kind: "git" | "file" | "directory" | "entry";
  size?: number;
  files?: number;
  hash?: Hash;
}

export interface LsResult {
  url: string;
  rev: string;
  commit: string;
  entries: LsEntry[];
}

function under(p: string, prefix: string): boolean {
  return prefix === "" || p === prefix || p.startsWith(`${prefix}/`);
}

function normalizeRel(p: string | undefined): string {
  return (p ?? "")
    .replace(/\\/g, "/")
    .replace(/^\.?\/+/, "")
    .replace(/\/+$/, "");
}

/** Opens a source with the context's cache. */
export async function openFor(url: string, rev: string | undefined, ctx: SourceContext): Promise<Source> {
  return openSource({ url, rev, cacheRoot: ctx.cacheRoot, env: ctx.env });
}

/** The source's default remote, opened with the context's state directory. */
export async function remoteFor(src: Source, ctx: SourceContext, jobs?: number): Promise<Remote> {
  const spec = await sourceRemote(src, { own: ctx.own, env: ctx.env });
  return openRemote(spec, { stateDir: ctx.stateDir, jobs });
}

/** Downloads the manifest objects of `pointers` (never their files) into the store. */
async function fetchManifests(store: Store, remote: Remote, pointers: Array<{ path: string; p: Pointer }>) {
  const roots = pointers
    .filter((x) => x.p.type === "directory" && !store.has(x.p.hash))
    .map((x) => ({ hash: x.p.hash, size: 0, tree: false, label: x.path }));
  if (roots.length === 0) return;
  const summary = await fetchObjects(store, remote, roots);
  const err = fetchProblems(summary);
  if (err) throw err;
}

/**
 * Lists the files of a source repository at a revision: git files, tracked paths (size, file count,
 * hash) and, with `recursive`, the files inside tracked directories (their manifests are downloaded).
 *
 * @example
 * const r = await lsSource("../dataset-registry", { path: "data", recursive: true }, ctx);
 */
export async function lsSource(
  url: string,
  options: { path?: string; rev?: string; recursive?: boolean },
  ctx: SourceContext,
): Promise<LsResult> {
  const src = await openFor(url, options.rev, ctx);
  const prefix = normalizeRel(options.path);
  const all = await src.git.findFilesInCommit(src.commit, () => true);
  const entries: LsEntry[] = [];
  const tracked: Array<{ path: string; p: Pointer }> = [];
  for (const f of all) {
    if (f.path.startsWith(".mtrack/")) continue;
    if (f.path.endsWith(POINTER_SUFFIX)) {
      const data = dataPathFor(f.path);
      // A tracked path also matches when the prefix points inside it (ls data/images/cat.png with -R).
      if (!under(data, prefix) && !under(prefix, data)) continue;
      const bytes = await src.git.readBlob(f.oid);
      const p = parsePointer(bytes.toString("utf8"), `${f.path}@${src.rev}`, path.posix.basename(data));
      tracked.push({ path: data, p });
      continue;
    }
    if (under(f.path, prefix)) entries.push({ path: f.path, kind: "git" });
  }
  for (const t of tracked) {
    entries.push({
      path: t.path,
      kind: t.p.type,
      size: t.p.size,
      files: t.p.type === "directory" ? (t.p.files ?? 0) : 1,
      hash: t.p.hash,
    });
  }
  if (options.recursive) {
    const dirs = tracked.filter((t) => t.p.type === "directory");
    if (dirs.length > 0) {
      const remote = await remoteFor(src, ctx);
      try {
        await fetchManifests(ctx.store, remote, dirs);
      } finally {
        await remote.close();
      }
      for (const d of dirs) {
        for (const e of decodeTree(ctx.store.readObject(d.p.hash))) {
          const full = `${d.path}/${e.path}`;
          if (under(full, prefix) || under(prefix, full) || under(d.path, prefix))
            entries.push({ path: full, kind: "entry", size: e.size, hash: e.hash });
        }
      }
    }
  }
  if (prefix !== "" && entries.length === 0) throw notInSource(src, prefix);
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { url, rev: src.rev, commit: src.commit, entries };
}

function notInSource(src: Source, rel: string): MtrackError {
  return new MtrackError(
    "ERR_MTRACK_PATH_NOT_FOUND",
    `${rel} is neither tracked nor in git in ${src.url}@${src.rev} (${src.commit.slice(0, 10)}).`,
    {
      hint: "List what is there with `mtrack ls <repo> [dir]` (add -R for the files inside tracked directories).",
      data: { url: src.url, rev: src.rev, path: rel },
    },
  );
}

/** What `mtrack get <repo> <path>` did. */
export interface GetSourceResult {
  url: string;
  path: string;
  rev: string;
  commit: string;
  out: string;
  /** "git" for a plain git file. */
  type: "file" | "directory" | "git";
  hash?: Hash;
  files: number;
  size: number;
  /** Objects downloaded (the rest were already in the store). */
  downloaded: number;
  downloadedBytes: number;
}

/** A source path whose objects are now in the store: a tracked path's pointer, or a plain git file. */
export interface FetchedSourcePath {
  src: Source;
  rel: string;
  /** The source's pointer (its objects are in the store); undefined for a plain git file. */
  pointer?: Pointer;
  /** A plain git file's bytes. */
  blob?: Buffer;
  downloaded: number;
  downloadedBytes: number;
}

/**
 * Reads `rel` of an open source: the pointer from git and its objects from the source's default remote
 * into `ctx.store` (what is there already is not downloaded), or a plain git file's bytes.
 * `beforeDownload` runs once the path is known to exist and before any byte moves (a caller's checks).
 *
 * @example
 * const got = await fetchSourcePath(src, "data/images", ctx, { jobs: 8 });
 */
export async function fetchSourcePath(
  src: Source,
  relIn: string,
  ctx: SourceContext,
  options: { jobs?: number; onProgress?: ProgressFn; beforeDownload?: () => void } = {},
): Promise<FetchedSourcePath> {
  const rel = normalizeRel(relIn);
  const pointerBytes = rel === "" ? null : await src.git.readFileAtRev(src.commit, pointerPathFor(rel));
  if (!pointerBytes) {
    const blob = rel === "" ? null : await src.git.readFileAtRev(src.commit, rel);
    if (!blob) throw notInSource(src, rel);
    options.beforeDownload?.();
    return { src, rel, blob, downloaded: 0, downloadedBytes: 0 };
  }
  const pointer = parsePointer(
    pointerBytes.toString("utf8"),
    `${pointerPathFor(rel)}@${src.rev}`,
    path.posix.basename(rel),
  );
  options.beforeDownload?.();
  const remote = await remoteFor(src, ctx, options.jobs);
  try {
    const summary = await fetchObjects(
      ctx.store,
      remote,
      [{ hash: pointer.hash, size: pointer.size, tree: pointer.type === "directory", label: rel }],
      { jobs: options.jobs, onProgress: options.onProgress },
    );
    const err = fetchProblems(summary);
    if (err) throw err;
    return { src, rel, pointer, downloaded: summary.objects, downloadedBytes: summary.bytes };
  } finally {
    await remote.close();
  }
}

/**
 * Writes `rel` of a source repository at `rev` to `outAbs`: a tracked path's objects come from the
 * source's remote through `ctx.store`; a plain git file from git. Nothing is written unless all of it is.
 *
 * @example
 * await getFromSource("https://github.com/org/registry", "data/images", { outAbs: "/tmp/images" }, ctx);
 */
export async function getFromSource(
  url: string,
  relIn: string,
  options: { rev?: string; outAbs: string; force?: boolean; jobs?: number; onProgress?: ProgressFn },
  ctx: SourceContext,
): Promise<GetSourceResult> {
  const fs = nodeFs;
  const src = await openFor(url, options.rev, ctx);
  // Fail on an existing output before downloading anything.
  const got = await fetchSourcePath(src, relIn, ctx, {
    jobs: options.jobs,
    onProgress: options.onProgress,
    beforeDownload: () => checkOut(fs, options.outAbs, options.force),
  });
  const base = { url, path: got.rel, rev: src.rev, commit: src.commit, out: options.outAbs };
  const { pointer, downloaded, downloadedBytes } = got;
  if (!pointer) {
    const blob = got.blob!;
    fs.mkdirSync(path.dirname(options.outAbs), { recursive: true });
    writeFileAtomic(options.outAbs, blob);
    return { ...base, type: "git", files: 1, size: blob.length, downloaded: 0, downloadedBytes: 0 };
  }
  const files = writePointerData(ctx.store, fs, pointer, `${got.rel}@${src.rev}`, options.outAbs, {
    force: options.force,
    onProgress: options.onProgress,
  });
  return {
    ...base,
    type: pointer.type,
    hash: pointer.hash,
    files,
    size: pointer.size,
    downloaded,
    downloadedBytes,
  };
}

/**
 * A repository's own store, state and `.mtrack/sources` cache for reading sources.
 *
 * @example
 * await openFor(url, "v1", sourceContextOf(repo, process.env));
 */
export function sourceContextOf(repo: Repo, env: NodeJS.ProcessEnv): SourceContext {
  return {
    store: repo.store,
    stateDir: repo.paths.stateDir,
    cacheRoot: path.join(repo.paths.mtrackDir, "sources"),
    own: repo.config,
    env,
  };
}

/**
 * The store, caches and own config for reading sources from `cwd`: the repository's own (`.mtrack/cache`,
 * `.mtrack/sources`) inside an mtrack repository, else a temporary store that `cleanup` removes.
 *
 * @example
 * const { ctx, cleanup } = sourceContextAt(process.cwd(), process.env);
 * try { await lsSource(url, {}, ctx); } finally { cleanup(); }
 */
export function sourceContextAt(
  cwd: string,
  env: NodeJS.ProcessEnv,
): { ctx: SourceContext; repo?: Repo; cleanup: () => void } {
  let repo: Repo | undefined;
  try {
    repo = Repo.open({ cwd });
  } catch (err) {
    if (!isMtrackError(err, "ERR_MTRACK_NOT_A_GIT_REPO") && !isMtrackError(err, "ERR_MTRACK_NOT_INITIALIZED"))
      throw err;
  }
  if (repo) return { repo, ctx: sourceContextOf(repo, env), cleanup: () => {} };
  const tmp = nodeFs.mkdtempSync(path.join(os.tmpdir(), "mtrack-get-"));
  const store = new Store({ dir: path.join(tmp, "cache"), tmpDir: path.join(tmp, "tmp") });
  store.init();
  return {
    ctx: { store, stateDir: path.join(tmp, "state"), cacheRoot: path.join(tmp, "sources"), env },
    cleanup: () => nodeFs.rmSync(tmp, { recursive: true, force: true }),
  };
}
