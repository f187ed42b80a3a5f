/**
 * `mtrack checkout`: make the workspace match the pointer files. Before anything is touched, the plan is
 * checked: every object needed must be in the store, and nothing the user could lose (a file whose
 * current content is not in the store) is overwritten or deleted unless `force` is set.
 */
import * as path from "node:path";
import { isMtrackError, MtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import { missingObject } from "../store/store.js";
import { comparePaths, decodeTree, type TreeEntry } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import { isInside } from "../util/fs.js";
import { CompleteTrees } from "./complete.js";
import { interruptedCheckouts, markCheckout } from "./interrupted.js";
import type { Pointer } from "./pointer.js";
import { LISTING_FIELDS, type ProgressFn, type ScannedFile } from "./scan.js";
import { type DirIndex, RACY_MARGIN_MS, StatCache } from "./statcache.js";
import { type CurrentState, currentState, loadPointer } from "./tracked.js";

export interface CheckoutPathResult {
  path: string;
  action: "unchanged" | "restored" | "updated" | "failed";
  written: number;
  deleted: number;
  error?: { code: string; message: string; hint?: string; data?: Record<string, unknown> };
}

export interface CheckoutResult {
  paths: CheckoutPathResult[];
  ok: boolean;
}

export interface CheckoutOptions {
  force?: boolean;
  onProgress?: ProgressFn;
  /**
   * Pointers of paths that have no pointer file: stage outputs as their pipeline lock records them (see
   * selectCheckout in pipeline/outputs.ts). A pointer file, where there is one, wins.
   */
  outputs?: ReadonlyMap<string, Pointer>;
}

/** The pure part: what to write and delete to turn `now` into `target`, and what that would lose. */
export interface CheckoutPlan {
  write: TreeEntry[];
  delete: string[];
  /** Workspace files whose current content is not in the store and would be overwritten or deleted. */
  unsafe: string[];
  /** Objects the plan needs that the store lacks. */
  missing: Hash[];
  /** A file/directory type switch: the whole current path goes first. */
  replaceWhole: boolean;
}

/**
 * Decides the checkout of one tracked path. `target` entries are relative to the tracked path ("" for a
 * single file); `inStore` answers whether an object is present. `targetInStore` says every target object
 * is known to be present (a complete tree), so they are not looked up one by one.
 *
 * @example
 * const plan = planCheckout(entries, "directory", { exists: false, size: 0, files: 0 }, (h) => store.has(h));
 * plan.write.length === entries.length // an empty workspace gets every file
 */
export function planCheckout(
  target: readonly TreeEntry[],
  targetType: "file" | "directory",
  now: CurrentState,
  inStore: (h: Hash) => boolean,
  options: { targetInStore?: boolean } = {},
): CheckoutPlan {
  const plan: CheckoutPlan = { write: [], delete: [], unsafe: [], missing: [], replaceWhole: false };
  const nowEntries: TreeEntry[] = !now.exists
    ? []
    : now.type === "directory"
      ? (now.entries ?? [])
      : [{ path: "", hash: now.hash!, size: now.size, executable: !!now.executable }];
  if (now.exists && now.type !== targetType) plan.replaceWhole = true;
  const current = new Map(plan.replaceWhole ? [] : nowEntries.map((e) => [e.path, e]));
  const wanted = new Set<string>();
  for (const e of target) {
    wanted.add(e.path);
    const c = current.get(e.path);
    if (c && c.hash === e.hash && c.executable === e.executable) continue;
    if (c && c.hash !== e.hash && !inStore(c.hash)) plan.unsafe.push(e.path);
    plan.write.push(e);
    if (!options.targetInStore && !inStore(e.hash)) plan.missing.push(e.hash);
  }
  const doomed = plan.replaceWhole ? nowEntries : nowEntries.filter((e) => !wanted.has(e.path));
  for (const e of doomed) {
    if (!plan.replaceWhole) plan.delete.push(e.path);
    if (!inStore(e.hash)) plan.unsafe.push(e.path);
  }
  return plan;
}

function targetEntries(repo: Repo, pointer: Pointer): TreeEntry[] {
  if (pointer.type === "file")
    return [{ path: "", hash: pointer.hash, size: pointer.size, executable: !!pointer.executable }];
  if (!repo.store.has(pointer.hash)) throw missingObject(pointer.hash, pointer.path);
  return decodeTree(repo.store.readObject(pointer.hash));
}

/** Whether a workspace file has the form `cache.type` asks for (a copy, or the right link into the store). */
function linkStateOk(repo: Repo, f: ScannedFile, hash: Hash): boolean {
  const fs = repo.fs;
  const mode = repo.linkMode;
  const loose = repo.store.loosePath(hash);
  const isSymlink = () => {
    try {
      return fs.lstatSync(f.abs).isSymbolicLink();
    } catch {
      return false;
    }
  };
  if (mode === "copy") {
    if (!f.linked) return true;
    if (isSymlink())
      return !isInside(path.resolve(path.dirname(f.abs), fs.readlinkSync(f.abs)), repo.paths.cacheDir);
    try {
      return fs.statSync(loose).ino !== f.ino;
    } catch {
      return true;
    }
  }
  if (mode === "hardlink") {
    try {
      return !isSymlink() && fs.statSync(loose).ino === f.ino;
    } catch {
      return false;
    }
  }
  return isSymlink() && fs.readlinkSync(f.abs) === loose;
}

/** Removes now-empty directories from `dir` up to (not including) `stop`. */
function pruneEmptyDirs(repo: Repo, dirs: Iterable<string>, stop: string): void {
  const sorted = [...dirs].sort((a, b) => b.length - a.length);
  for (let d of sorted) {
    while (d.length > stop.length && d.startsWith(stop)) {
      try {
        repo.fs.rmdirSync(d);
      } catch {
        break; // not empty (or gone): stop climbing
      }
      d = path.dirname(d);
    }
  }
}

/**
 * Checks out tracked paths (from selectTracked, or selectCheckout with stage outputs). Paths that cannot be checked out are reported with an
 * error and left untouched; the others proceed.
 */
export async function checkoutPaths(
  repo: Repo,
  rels: readonly string[],
  options: CheckoutOptions = {},
): Promise<CheckoutResult> {
  return repo.withLock("checkout", async () => {
    const cache = StatCache.load(repo.paths.stateDir, repo.fs);
    const complete = CompleteTrees.load(repo.paths.stateDir, repo.fs);
    const results: CheckoutPathResult[] = [];
    try {
      for (const rel of rels) {
        try {
          const pointer = loadPointer(repo, rel) ?? options.outputs?.get(rel);
          if (!pointer) continue;
          results.push(await checkoutOne(repo, rel, pointer, cache, complete, options));
          if (pointer.type === "directory") complete.add(pointer.hash);
        } catch (err) {
          if (!isMtrackError(err)) throw err;
          // A stage output can also be made again, rather than fetched.
          const hint =
            err.code === "ERR_MTRACK_OBJECT_MISSING" && options.outputs?.has(rel)
              ? "Fetch them from a remote (`mtrack pull`), or run the stage that makes it (`mtrack repro`)."
              : err.hint;
          results.push({
            path: rel,
            action: "failed",
            written: 0,
            deleted: 0,
            error: { code: err.code, message: err.message, hint, data: err.data },
          });
        }
      }
    } finally {
      cache.save();
    }
    return { paths: results, ok: results.every((r) => r.action !== "failed") };
  });
}

/** Files per batch when a whole directory is written (progress is reported per batch). */
const CHECKOUT_BATCH = 2048;

interface WrittenStat {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/**
 * The directory's index after a checkout: written files with the stat data of the write (racy, i.e.
 * rehashed by the next status, when written within RACY_MARGIN_MS of their mtime, as they usually are in
 * copy mode), the others as the index before had them. Undefined when some file's state is unknown.
 */
function checkedOutIndex(
  pointer: Pointer,
  target: readonly TreeEntry[],
  written: ReadonlyMap<string, { st: WrittenStat; at: number }>,
  before: DirIndex | undefined,
): DirIndex | undefined {
  const n = target.length;
  const stats = new Float64Array(n * LISTING_FIELDS);
  const hashes = Buffer.alloc(n * 32);
  const beforeNames = before && before.count > 0 ? before.names.split("\0") : [];
  let j = 0;
  let size = 0;
  for (let i = 0; i < n; i++) {
    const e = target[i]!;
    const o = i * LISTING_FIELDS;
    hashes.write(e.hash, i * 32, 32, "hex");
    size += e.size;
    const w = written.get(e.path);
    if (w) {
      stats[o] = w.st.size;
      stats[o + 1] = w.at - w.st.mtimeMs < RACY_MARGIN_MS ? Number.NaN : w.st.mtimeMs;
      stats[o + 2] = w.st.ctimeMs;
      stats[o + 3] = w.st.ino;
      stats[o + 4] = e.executable ? 1 : 0;
      continue;
    }
    while (j < beforeNames.length && comparePaths(beforeNames[j]!, e.path) < 0) j++;
    if (j >= beforeNames.length || beforeNames[j] !== e.path) return undefined;
    if (before!.hashes.toString("hex", j * 32, j * 32 + 32) !== e.hash) return undefined;
    stats.set(before!.stats.subarray(j * LISTING_FIELDS, (j + 1) * LISTING_FIELDS), o);
  }
  return { tree: pointer.hash, size, count: n, names: target.map((e) => e.path).join("\0"), stats, hashes };
}

/** A file at least this large is followed by a turn of the event loop (see yieldToSignals). */
const YIELD_BYTES = 8 << 20;

/**
 * Lets the event loop run between batches of (synchronous) writes, so Ctrl-C is handled within a
 * batch rather than when the whole checkout is done. Every file is whole at this point.
 */
function yieldToSignals(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function checkoutOne(
  repo: Repo,
  rel: string,
  pointer: Pointer,
  cache: StatCache,
  complete: CompleteTrees,
  options: CheckoutOptions,
): Promise<CheckoutPathResult> {
  const fs = repo.fs;
  const store = repo.store;
  const target = targetEntries(repo, pointer);
  const now = await currentState(repo, rel, { cache });
  // A tree known to be complete needs no lookup per file (in link modes each is a stat of a loose file).
  const plan = planCheckout(target, pointer.type, now, (h) => store.has(h), {
    targetInStore: pointer.type === "directory" && complete.has(pointer.hash),
  });
  if (plan.missing.length > 0) {
    throw new MtrackError(
      "ERR_MTRACK_OBJECT_MISSING",
      `${rel}: ${plan.missing.length} object(s) it needs are not in the local store.`,
      {
        hint: "Fetch them from a remote (`mtrack pull`). Nothing was changed for this path.",
        data: { path: rel, missing: plan.missing.slice(0, 20), count: plan.missing.length },
      },
    );
  }
  // Files a killed checkout of this path was writing are its own torn writes, not the user's edits.
  const interrupted = plan.unsafe.length > 0 ? interruptedCheckouts(repo, rel) : [];
  if (plan.unsafe.length > 0 && !options.force && interrupted.length === 0) {
    const shown = plan.unsafe.slice(0, 5).map((p) => (p ? `${rel}/${p}` : rel));
    throw new MtrackError(
      "ERR_MTRACK_WOULD_OVERWRITE",
      `${rel}: checkout would overwrite or delete ${plan.unsafe.length} modified file(s) whose content is not stored: ${shown.join(", ")}${plan.unsafe.length > 5 ? ", ..." : ""}.`,
      {
        hint: `Record them first with \`mtrack commit ${rel}\`, or discard them with \`mtrack checkout --force ${rel}\`.`,
        data: { path: rel, files: plan.unsafe.slice(0, 100) },
      },
    );
  }
  // Content matches but the form may not: after a `cache.type` change, files must become (or stop
  // being) links into the store.
  if (!plan.replaceWhole && now.scanned) {
    const planned = new Set(plan.write.map((e) => e.path));
    const byPath = new Map(now.scanned.map((f) => [f.rel, f]));
    for (const e of target) {
      const f = byPath.get(e.path);
      if (f && !planned.has(e.path) && !linkStateOk(repo, f, e.hash)) plan.write.push(e);
    }
  }
  const abs = repo.abs(rel);
  // A deleted empty directory has nothing to write but must come back.
  const recreateDir = pointer.type === "directory" && !now.exists;
  if (plan.write.length === 0 && plan.delete.length === 0 && !plan.replaceWhole && !recreateDir) {
    return { path: rel, action: "unchanged", written: 0, deleted: 0 };
  }
  const done = markCheckout(repo, rel, interrupted);
  if (plan.replaceWhole) fs.rmSync(abs, { recursive: true, force: true });
  // Deletions first: a file that is now a directory (data/x → data/x/y) must be gone before mkdir.
  const touched = new Set<string>();
  for (const p of plan.delete) {
    const f = path.join(abs, ...p.split("/"));
    fs.rmSync(f, { force: true });
    cache.forget(`${rel}/${p}`);
    touched.add(path.dirname(f));
  }
  pruneEmptyDirs(repo, touched, abs);
  if (pointer.type === "directory") fs.mkdirSync(abs, { recursive: true });
  const madeDirs = new Set<string>();
  const mode = repo.linkMode;
  // Paths nothing occupies now are written in place (no temp file + rename): see Store.materializeNew.
  const occupied =
    plan.replaceWhole || !now.exists ? new Set<string>() : new Set((now.scanned ?? []).map((f) => f.rel));
  const fresh = (rel: string) => !occupied.has(rel);
  const bytesTotal = plan.write.reduce((s, e) => s + e.size, 0);
  let bytes = 0;
  // Manifest paths are validated posix paths: on posix they join by concatenation (path.join per file
  // re-normalises 100k strings).
  const join =
    path.sep === "/" ? (p: string) => `${abs}/${p}` : (p: string) => path.join(abs, ...p.split("/"));
  const written = new Map<string, { st: WrittenStat; at: number }>();
  const report = (done: number) =>
    options.onProgress?.({
      phase: "checkout",
      files: done,
      filesTotal: plan.write.length,
      bytes,
      bytesTotal,
    });
  // A directory written into nothing (restored, or replaced whole), in copy or hardlink mode: every file
  // is new, so they are written or linked in batches on a few threads (Store.materializeNewMany).
  if (mode !== "symlink" && pointer.type === "directory" && (plan.replaceWhole || !now.exists)) {
    for (let b = 0, end = 0; b < plan.write.length; b = end) {
      // Up to CHECKOUT_BATCH files or YIELD_BYTES * 8 of content, so Ctrl-C waits for one batch at most.
      let batchBytes = 0;
      for (end = b; end < plan.write.length && end - b < CHECKOUT_BATCH; end++) {
        if (end > b && batchBytes >= YIELD_BYTES * 8) break;
        batchBytes += plan.write[end]!.size;
      }
      const chunk = plan.write.slice(b, end);
      const items = chunk.map((e) => {
        const dest = join(e.path);
        const dir = path.dirname(dest);
        if (!madeDirs.has(dir)) {
          fs.mkdirSync(dir, { recursive: true });
          madeDirs.add(dir);
        }
        return { hash: e.hash, dest, executable: e.executable };
      });
      // Before the writes: the racy test must not trust a file written after this moment.
      const at = Date.now();
      const stats = store.materializeNewMany(items, mode);
      chunk.forEach((e, k) => {
        written.set(e.path, { st: stats[k]!, at });
        bytes += e.size;
      });
      report(b + chunk.length);
      await yieldToSignals();
    }
  } else
    for (const [i, e] of plan.write.entries()) {
      const dest = e.path ? join(e.path) : abs;
      const dir = path.dirname(dest);
      if (!madeDirs.has(dir)) {
        fs.mkdirSync(dir, { recursive: true });
        madeDirs.add(dir);
      }
      // A directory where a file must go is replaced (its files were planned for deletion above).
      if (e.path && now.exists) {
        try {
          if (fs.lstatSync(dest).isDirectory()) fs.rmSync(dest, { recursive: true, force: true });
        } catch {
          // does not exist
        }
      }
      let st: WrittenStat;
      if (fresh(e.path)) st = store.materializeNew(e.hash, dest, { mode, executable: e.executable });
      else {
        store.materialize(e.hash, dest, { mode, executable: e.executable });
        st = fs.statSync(dest);
      }
      if (e.path) written.set(e.path, { st, at: Date.now() });
      else cache.record(rel, st, e.hash, Date.now());
      bytes += e.size;
      if (i % 500 === 0 || i === plan.write.length - 1) report(i + 1);
      if (i % 64 === 63 || e.size >= YIELD_BYTES) await yieldToSignals();
    }
  if (pointer.type === "directory") {
    const index = checkedOutIndex(pointer, target, written, cache.dirIndex(rel));
    if (index) cache.recordDirIndex(rel, index);
    else cache.forgetDirIndex(rel);
  }
  done();
  return {
    path: rel,
    action: now.exists ? "updated" : "restored",
    written: plan.write.length,
    deleted: plan.delete.length,
  };
}
