/**
 * Comparing revisions: params, metrics and tracked data at a git revision (read through the git seam) or
 * in the workspace, and the diffs between two of them. Reading is effectful and thin; diffing is pure
 * ({@link diffValues}, {@link diffData}) and unit-tested on plain objects.
 */
import { isDeepStrictEqual } from "node:util";
import { parseDocument } from "yaml";
import { isMtrackError, MtrackError } from "../errors.js";
import { listExpRefs } from "../experiments/refs.js";
import type { Repo } from "../repo.js";
import { decodeTree, type TreeEntry } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import { dataPathFor, POINTER_SUFFIX, type PointerSource, parsePointer } from "../workspace/pointer.js";
import { StatCache } from "../workspace/statcache.js";
import { diffEntries } from "../workspace/status.js";
import { currentState, findTrackedPaths, loadPointer } from "../workspace/tracked.js";
import { DEFAULT_PIPELINE_FILE, lockPathFor } from "./load.js";
import { parseLock } from "./lockfile.js";
import { flattenParams, isMapping, parseParamsText } from "./params.js";
import { parsePipeline } from "./parse.js";
import type { Pipeline } from "./types.js";

/** The default params file. */
export const DEFAULT_PARAMS_FILE = "params.yaml";

/** A revision to read: a git revision, or the workspace (`null`). */
export type Rev = string | null;

/** Reads repo-relative files at one revision. */
export interface RevReader {
  /** `workspace`, or the revision as given. */
  label: string;
  /** The full commit id; null for the workspace or a repository without commits. */
  commit: string | null;
  read(rel: string): Promise<string | null>;
}

/**
 * The commit a revision name stands for: a commit id (short or full), a branch, a tag or HEAD, each
 * optionally followed by `~N` / `^N` (`HEAD~2`). Every command that reads files at a revision (diff, params/metrics
 * diff, plots show/diff) resolves names here, so an experiment's name (a ref under `refs/exps/`, as
 * `mtrack exp show` lists it) works in all of them too. Throws ERR_MTRACK_GIT_REV_NOT_FOUND for a name that
 * resolves to nothing.
 *
 * @example
 * await resolveRevision(repo, "HEAD~1"); // "3f2a…" (40 hex digits)
 */
export async function resolveRevision(repo: Repo, name: string): Promise<string> {
  try {
    return await repo.git().resolveRev(name);
  } catch (err) {
    if (!isMtrackError(err, "ERR_MTRACK_GIT_REV_NOT_FOUND")) throw err;
    // Not a git revision: an experiment's name, as `mtrack exp show` lists them (the newest of that
    // name when several baselines have one). Its refs are read only on this path.
    const exp = experimentNamed(repo.root, name);
    if (exp !== null) return exp;
    throw new MtrackError(err.code, err.message, {
      data: err.data,
      hint: "Use a commit id, branch, tag, HEAD~N or an experiment name; `git log --oneline` lists commits, `mtrack exp list` experiments.",
    });
  }
}

function experimentNamed(root: string, name: string): string | null {
  try {
    return listExpRefs(root).find((r) => r.name === name)?.commit ?? null;
  } catch {
    // No git CLI, or no refs to read: not an experiment either.
    return null;
  }
}

/**
 * A reader for `rev` (null: the workspace). At a commit, a file git does not have but mtrack tracks (a
 * pointer's data, an output in that commit's pipeline.lock, or a file inside either) is read from the
 * local store. `HEAD` in a repository without commits reads as empty, so a first `mtrack diff` shows
 * everything as added.
 *
 * @example
 * const head = await openRev(repo, "HEAD");
 * await head.read("params.yaml") // → "lr: 0.1\n"
 */
export async function openRev(repo: Repo, rev: Rev): Promise<RevReader> {
  if (rev === null) {
    return {
      label: "workspace",
      commit: null,
      async read(rel) {
        try {
          return repo.fs.readFileSync(repo.abs(rel), "utf8");
        } catch {
          return null;
        }
      },
    };
  }
  const git = repo.git();
  if (rev === "HEAD" && (await git.headCommit()) === null) {
    return { label: rev, commit: null, read: async () => null };
  }
  const commit = await resolveRevision(repo, rev);
  const inGit: RevReader = {
    label: rev,
    commit,
    async read(rel) {
      const b = await git.readFileAtRev(commit, rel);
      return b === null ? null : b.toString("utf8");
    },
  };
  // Looked up only for a file git lacks: a metrics file inside a cached output lives in the store.
  let trackedAt: Promise<DataState[]> | undefined;
  return {
    ...inGit,
    async read(rel) {
      const text = await inGit.read(rel);
      if (text !== null) return text;
      // A damaged lock in an old commit only means its tracked outputs are not found.
      trackedAt ??= dataAtCommit(repo, inGit).catch(() => []);
      const stored = trackedFileAt(repo, await trackedAt, rel);
      return stored !== null && "bytes" in stored ? stored.bytes.toString("utf8") : null;
    },
  };
}

/** What the pipeline file at a revision says about params and metrics files. */
export interface PipelineFiles {
  /** The parsed pipeline, when the file exists at that revision. */
  pipeline?: Pipeline;
  /** Params files (repo-relative): params.yaml plus every file a stage names. */
  params: string[];
  /** Metrics files (repo-relative): stage `metrics:` outputs and the top-level `metrics:` list. */
  metrics: string[];
}

/**
 * Parses the pipeline file at a revision. Parsing reads params/vars files synchronously, but a revision
 * is read asynchronously: files the parser asks for are fetched and the parse is retried until it asks
 * for nothing new (a pipeline names only a handful of files).
 */
export async function pipelineFilesAt(
  reader: RevReader,
  file = DEFAULT_PIPELINE_FILE,
): Promise<PipelineFiles> {
  const text = await reader.read(file);
  if (text === null) return { params: [DEFAULT_PARAMS_FILE], metrics: [] };
  const files = new Map<string, string | undefined>();
  let pipeline: Pipeline | undefined;
  for (let attempt = 0; attempt < 20 && !pipeline; attempt++) {
    const wanted = new Set<string>();
    const readFile = (rel: string) => {
      if (files.has(rel)) return files.get(rel);
      wanted.add(rel);
      return undefined;
    };
    try {
      pipeline = parsePipeline({ text, file, readFile });
      if (wanted.size > 0) pipeline = undefined;
    } catch (err) {
      if (wanted.size === 0) throw err;
    }
    for (const rel of wanted) files.set(rel, (await reader.read(rel)) ?? undefined);
  }
  if (!pipeline)
    throw new MtrackError("ERR_MTRACK_PIPELINE_INVALID", `${file}: could not resolve the files it reads.`);
  const params = new Set([DEFAULT_PARAMS_FILE]);
  const metrics = new Set<string>();
  for (const stage of pipeline.stages) {
    for (const p of stage.params) params.add(p.file);
    for (const o of stage.outs) if (o.kind === "metrics") metrics.add(o.path);
  }
  for (const m of topLevelList(text, "metrics")) metrics.add(m);
  return { pipeline, params: [...params].sort(), metrics: [...metrics].sort() };
}

/** The plain paths of a top-level list such as DVC's `metrics: [eval/metrics.json]`. */
function topLevelList(text: string, key: string): string[] {
  const value: unknown = parseDocument(text).toJS();
  const list = isMapping(value) ? value[key] : undefined;
  if (!Array.isArray(list)) return [];
  return list.flatMap((item) =>
    typeof item === "string"
      ? [item]
      : isMapping(item)
        ? Object.keys(item).filter((k) => typeof k === "string")
        : [],
  );
}

/** file → flattened key → value. */
export type FlatFiles = Record<string, Record<string, unknown>>;

async function readFlat(reader: RevReader, files: readonly string[]): Promise<FlatFiles> {
  const out: FlatFiles = {};
  for (const file of files) {
    const text = await reader.read(file);
    if (text === null) continue;
    const value = parseParamsText(text, file);
    out[file] = flattenParams(value);
  }
  return out;
}

/** Params values at a revision, flattened with dots. */
export async function paramsAt(reader: RevReader): Promise<FlatFiles> {
  return readFlat(reader, (await pipelineFilesAt(reader)).params);
}

/** Metrics values at a revision, flattened with dots. */
export async function metricsAt(reader: RevReader): Promise<FlatFiles> {
  return readFlat(reader, (await pipelineFilesAt(reader)).metrics);
}

/** One compared value. `change`/`pct` only for two numbers (`pct` null when the old value is 0). */
export interface ValueDiff {
  file: string;
  key: string;
  old?: unknown;
  new?: unknown;
  change?: number;
  pct?: number | null;
}

/**
 * Compares two sets of flattened files. Unchanged values are left out unless `all`.
 *
 * @example
 * diffValues({ "m.json": { acc: 0.8 } }, { "m.json": { acc: 0.9 } })
 * // → [{ file: "m.json", key: "acc", old: 0.8, new: 0.9, change: 0.1, pct: 12.5 }] (rounded)
 */
export function diffValues(a: FlatFiles, b: FlatFiles, options: { all?: boolean } = {}): ValueDiff[] {
  const out: ValueDiff[] = [];
  const files = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const file of files) {
    const old = a[file] ?? {};
    const now = b[file] ?? {};
    const keys = [...new Set([...Object.keys(old), ...Object.keys(now)])].sort();
    for (const key of keys) {
      const had = Object.hasOwn(old, key);
      const has = Object.hasOwn(now, key);
      if (had && has && isDeepStrictEqual(old[key], now[key]) && !options.all) continue;
      const d: ValueDiff = { file, key };
      if (had) d.old = old[key];
      if (has) d.new = now[key];
      if (typeof d.old === "number" && typeof d.new === "number") {
        d.change = roundNoise(d.new - d.old);
        d.pct = d.old === 0 ? null : roundNoise(((d.new - d.old) / Math.abs(d.old)) * 100);
      }
      out.push(d);
    }
  }
  return out;
}

/** 0.9 - 0.8 is 0.09999999999999998 in binary floating point; people expect 0.1. */
function roundNoise(x: number): number {
  return Number.parseFloat(x.toPrecision(12));
}

/** The result of comparing params or metrics between two revisions. */
export interface ValuesComparison {
  a: { rev: string; commit: string | null };
  b: { rev: string; commit: string | null };
  diffs: ValueDiff[];
}

async function compareValues(
  repo: Repo,
  a: Rev,
  b: Rev,
  read: (r: RevReader) => Promise<FlatFiles>,
  all: boolean,
): Promise<ValuesComparison> {
  const [ra, rb] = [await openRev(repo, a), await openRev(repo, b)];
  const diffs = diffValues(await read(ra), await read(rb), { all });
  return { a: { rev: ra.label, commit: ra.commit }, b: { rev: rb.label, commit: rb.commit }, diffs };
}

/**
 * `mtrack params diff`: params values that differ between two revisions (default HEAD → workspace).
 *
 * @example
 * (await paramsDiff(repo, "HEAD~1", "HEAD")).diffs // → [{ file: "params.yaml", key: "train.lr", ... }]
 */
export function paramsDiff(
  repo: Repo,
  a: Rev = "HEAD",
  b: Rev = null,
  options: { all?: boolean } = {},
): Promise<ValuesComparison> {
  return compareValues(repo, a, b, paramsAt, !!options.all);
}

/** `mtrack metrics diff`: metric values that differ between two revisions (default HEAD → workspace). */
export function metricsDiff(
  repo: Repo,
  a: Rev = "HEAD",
  b: Rev = null,
  options: { all?: boolean } = {},
): Promise<ValuesComparison> {
  return compareValues(repo, a, b, metricsAt, !!options.all);
}

/** Metrics of one revision, for `mtrack metrics show`. */
export interface RevMetrics {
  rev: string;
  commit: string | null;
  metrics: FlatFiles;
  /** Set when the revision's pipeline or metrics could not be read (shown, not fatal). */
  error?: { code: string; message: string };
}

/**
 * Metrics at each revision (`null` = workspace). With `allCommits`, every commit reachable from HEAD
 * (newest first) is added after the given revisions; a commit whose files do not parse is reported with
 * its error instead of stopping the listing.
 */
export async function metricsShow(
  repo: Repo,
  revs: readonly Rev[],
  options: { allCommits?: boolean } = {},
): Promise<RevMetrics[]> {
  const list: Rev[] = [...revs];
  if (options.allCommits) {
    const head = await repo.git().headCommit();
    if (head) for await (const c of repo.git().walkCommits([head])) list.push(c);
  }
  const out: RevMetrics[] = [];
  for (const rev of list) {
    const reader = await openRev(repo, rev);
    try {
      out.push({ rev: reader.label, commit: reader.commit, metrics: await metricsAt(reader) });
    } catch (err) {
      if (!isMtrackError(err) || !options.allCommits) throw err;
      out.push({
        rev: reader.label,
        commit: reader.commit,
        metrics: {},
        error: { code: err.code, message: err.message },
      });
    }
  }
  return out;
}

/** A tracked path (pointer or pipeline output) at one revision. */
export interface DataState {
  path: string;
  type: "file" | "directory";
  hash: Hash;
  size: number;
  files?: number;
  /** Directory entries when known without the store (the workspace's current content). */
  entries?: TreeEntry[];
  /** Where an imported path came from (its pointer's `source`). */
  source?: PointerSource;
}

/** A file inside a changed directory. */
export interface FileChange {
  path: string;
  /** Size now (added, modified) or before (deleted). */
  size: number;
  /** Size before, for modified files. */
  oldSize?: number;
}

/** One changed tracked path. */
export interface DataChange {
  path: string;
  type: "file" | "directory";
  /** Size before (deleted, modified) and after (added, modified). */
  oldSize?: number;
  newSize?: number;
  oldHash?: Hash;
  newHash?: Hash;
  /** For imported paths: the source version before and after (`mtrack update` moved it). */
  oldSource?: PointerSource;
  newSource?: PointerSource;
  /** For modified directories whose two manifests are available: the files that changed inside. */
  files?: { added: FileChange[]; modified: FileChange[]; deleted: FileChange[] };
}

/** Tracked data that changed between two revisions. */
export interface DataDiff {
  added: DataChange[];
  modified: DataChange[];
  deleted: DataChange[];
}

/**
 * Compares tracked data at two revisions. `entriesOf` returns a directory's manifest when it can (store,
 * or the workspace's current scan) and undefined otherwise; the listing inside is then left out.
 *
 * @example
 * diffData([{ path: "data", type: "directory", hash: "a…", size: 10 }], [], () => undefined).deleted
 * // → [{ path: "data", type: "directory", oldSize: 10, oldHash: "a…" }]
 */
export function diffData(
  a: readonly DataState[],
  b: readonly DataState[],
  entriesOf: (s: DataState) => TreeEntry[] | undefined,
): DataDiff {
  const before = new Map(a.map((s) => [s.path, s]));
  const after = new Map(b.map((s) => [s.path, s]));
  const diff: DataDiff = { added: [], modified: [], deleted: [] };
  for (const [p, s] of [...after].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    const o = before.get(p);
    if (!o) {
      diff.added.push({ path: p, type: s.type, newSize: s.size, newHash: s.hash });
      continue;
    }
    if (o.hash === s.hash) continue;
    const change: DataChange = {
      path: p,
      type: s.type,
      oldSize: o.size,
      newSize: s.size,
      oldHash: o.hash,
      newHash: s.hash,
    };
    if (o.source) change.oldSource = o.source;
    if (s.source) change.newSource = s.source;
    if (o.type === "directory" && s.type === "directory") {
      const oe = entriesOf(o);
      const ne = entriesOf(s);
      if (oe && ne) {
        const c = diffEntries(oe, ne);
        const oldSizes = new Map(oe.map((e) => [e.path, e.size]));
        const newSizes = new Map(ne.map((e) => [e.path, e.size]));
        change.files = {
          added: c.added.map((f) => ({ path: f, size: newSizes.get(f) ?? 0 })),
          modified: c.modified.map((f) => ({
            path: f,
            size: newSizes.get(f) ?? 0,
            oldSize: oldSizes.get(f) ?? 0,
          })),
          deleted: c.deleted.map((f) => ({ path: f, size: oldSizes.get(f) ?? 0 })),
        };
      }
    }
    diff.modified.push(change);
  }
  for (const [p, o] of [...before].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    if (!after.has(p)) diff.deleted.push({ path: p, type: o.type, oldSize: o.size, oldHash: o.hash });
  }
  return diff;
}

const isPointerFile = (p: string) => p.endsWith(POINTER_SUFFIX);

/** A tracked file's bytes from the local store, or why there are none. */
export type StoredFile = { bytes: Buffer } | { reason: string };

/**
 * A file that mtrack tracks at some revision — a tracked path itself, or a file inside a tracked
 * directory — read from the local store; null when none of `tracked` holds it.
 *
 * @example
 * const tracked = await dataAtCommit(repo, reader);
 * trackedFileAt(repo, tracked, "eval/metrics.json") // → { bytes } (eval/ is a cached stage output)
 */
export function trackedFileAt(repo: Repo, tracked: readonly DataState[], rel: string): StoredFile | null {
  const store = repo.store;
  const owner = tracked.find(
    (s) => s.path === rel || (s.type === "directory" && rel.startsWith(`${s.path}/`)),
  );
  if (owner === undefined) return null;
  const absent = { reason: `tracked (${owner.path}) but not in the local store; fetch it first` };
  if (!store.has(owner.hash)) return absent;
  if (owner.path === rel)
    return owner.type === "file" ? { bytes: store.readObject(owner.hash) } : { reason: "a directory" };
  const inside = rel.slice(owner.path.length + 1);
  const entry = decodeTree(store.readObject(owner.hash)).find((e) => e.path === inside);
  if (entry === undefined) return null;
  return store.has(entry.hash) ? { bytes: store.readObject(entry.hash) } : absent;
}

/** Outputs recorded in a lock file's text, as repo-relative data states. */
function lockOuts(text: string | null, lockFile: string): DataState[] {
  if (text === null) return [];
  const dir = lockFile.includes("/") ? lockFile.slice(0, lockFile.lastIndexOf("/") + 1) : "";
  const out: DataState[] = [];
  for (const entry of Object.values(parseLock(text, lockFile).stages)) {
    for (const o of entry.outs) {
      const s: DataState = {
        path: dir + o.path,
        type: o.files === undefined ? "file" : "directory",
        hash: o.hash,
        size: o.size,
      };
      if (o.files !== undefined) s.files = o.files;
      out.push(s);
    }
  }
  return out;
}

/** Tracked data at a git revision: its pointer files and its pipeline.lock outputs. */
export async function dataAtCommit(repo: Repo, reader: RevReader): Promise<DataState[]> {
  if (reader.commit === null) return [];
  const git = repo.git();
  const out: DataState[] = [];
  for (const f of await git.findFilesInCommit(reader.commit, isPointerFile)) {
    try {
      const p = parsePointer((await git.readBlob(f.oid)).toString("utf8"), f.path);
      out.push({
        path: dataPathFor(f.path),
        type: p.type,
        hash: p.hash,
        size: p.size,
        files: p.files,
        ...(p.source ? { source: p.source } : {}),
      });
    } catch {
      // A malformed pointer in an old commit names no data.
    }
  }
  const lockFile = lockPathFor(DEFAULT_PIPELINE_FILE);
  out.push(...lockOuts(await reader.read(lockFile), lockFile));
  return out;
}

/**
 * Tracked data in the workspace as it is now (hashed through the stat cache): paths with pointer files
 * and the outputs named in pipeline.lock. A path missing from the workspace is absent here.
 */
async function dataInWorkspace(repo: Repo, reader: RevReader): Promise<DataState[]> {
  const cache = StatCache.load(repo.paths.stateDir, repo.fs);
  try {
    const paths = new Map<string, "file" | "directory">();
    const sources = new Map<string, { hash: Hash; source: PointerSource }>();
    for (const rel of findTrackedPaths(repo)) {
      const p = loadPointer(repo, rel);
      if (p) paths.set(rel, p.type);
      if (p?.source) sources.set(rel, { hash: p.hash, source: p.source });
    }
    const lockFile = lockPathFor(DEFAULT_PIPELINE_FILE);
    for (const o of lockOuts(await reader.read(lockFile), lockFile)) paths.set(o.path, o.type);
    const out: DataState[] = [];
    for (const rel of [...paths.keys()].sort()) {
      const now = await currentState(repo, rel, { cache });
      if (!now.exists || !now.hash || !now.type) continue;
      const s: DataState = { path: rel, type: now.type, hash: now.hash, size: now.size };
      // The workspace copy is still the import only while it holds what the pointer names.
      const imported = sources.get(rel);
      if (imported && imported.hash === now.hash) s.source = imported.source;
      if (now.type === "directory") {
        s.files = now.files;
        s.entries = now.entries;
      }
      out.push(s);
    }
    return out;
  } finally {
    cache.save();
  }
}

/** Everything `mtrack diff` shows. */
export interface RevisionDiff {
  a: { rev: string; commit: string | null };
  b: { rev: string; commit: string | null };
  data: DataDiff;
  params: ValueDiff[];
  metrics: ValueDiff[];
  /** The tracked runs each revision's pipeline.lock names (stage → run ids). */
  runs: { a: RevisionRun[]; b: RevisionRun[] };
}

/** A run recorded in a revision's pipeline.lock. */
export interface RevisionRun {
  stage: string;
  runId: string;
}

/** Runs named in a lock file's text (stages in lock order). */
function lockRuns(text: string | null, lockFile: string): RevisionRun[] {
  if (text === null) return [];
  return Object.entries(parseLock(text, lockFile).stages).flatMap(([stage, e]) =>
    (e.runs ?? []).map((runId) => ({ stage, runId })),
  );
}

/**
 * `mtrack diff`: tracked data, params and metrics that changed between two revisions (default HEAD →
 * workspace).
 *
 * @example
 * const d = await revisionDiff(repo, "HEAD~1", "HEAD");
 * d.data.modified.map((c) => c.path) // → ["data/train"]
 */
export async function revisionDiff(repo: Repo, a: Rev = "HEAD", b: Rev = null): Promise<RevisionDiff> {
  const [ra, rb] = [await openRev(repo, a), await openRev(repo, b)];
  const load = (r: RevReader, rev: Rev) => (rev === null ? dataInWorkspace(repo, r) : dataAtCommit(repo, r));
  const store = repo.store;
  const entriesOf = (s: DataState) => {
    if (s.entries) return s.entries;
    if (!store.has(s.hash)) return undefined;
    try {
      return decodeTree(store.readObject(s.hash));
    } catch {
      return undefined;
    }
  };
  return {
    a: { rev: ra.label, commit: ra.commit },
    b: { rev: rb.label, commit: rb.commit },
    data: diffData(await load(ra, a), await load(rb, b), entriesOf),
    params: diffValues(await paramsAt(ra), await paramsAt(rb)),
    metrics: diffValues(await metricsAt(ra), await metricsAt(rb)),
    runs: {
      a: lockRuns(await ra.read(lockPathFor(DEFAULT_PIPELINE_FILE)), lockPathFor(DEFAULT_PIPELINE_FILE)),
      b: lockRuns(await rb.read(lockPathFor(DEFAULT_PIPELINE_FILE)), lockPathFor(DEFAULT_PIPELINE_FILE)),
    },
  };
}
