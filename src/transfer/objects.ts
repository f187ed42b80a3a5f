/**
 * Moving store objects between the local store and a remote. Both directions: expand the roots (a
 * directory root brings its manifest's entries), ask the other side what it has in one batched call,
 * plan (plan.ts), then run batches and large streams in parallel. Resuming is free: a rerun asks again
 * and only what is still missing moves.
 */
import * as nodeFs from "node:fs";
import { pipeline } from "node:stream/promises";
import { Blake3Hasher } from "@napi-rs/blake-hash";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import { remoteError } from "../remotes/errors.js";
import { addPack, type PackedLocation, readPacked } from "../remotes/pack-map.js";
import type { ObjectData, Remote } from "../remotes/types.js";
import { hashBytes } from "../store/hash.js";
import type { Store } from "../store/store.js";
import { decodeTree } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import { safeUnlink, tmpName } from "../util/fs.js";
import type { ProgressFn } from "../workspace/scan.js";
import { planTransfer, runPool } from "./plan.js";
import type { TransferRoot } from "./select.js";

/** Default parallel transfers: enough to hide latency, few enough for a laptop's uplink. */
export const DEFAULT_JOBS = 8;

/** Parallelism, progress and clock of a transfer. */
export interface TransferOptions {
  jobs?: number;
  onProgress?: ProgressFn;
  clock?: () => number;
}

/** An object that could not be transferred, named by hash and by the path it belongs to. */
export interface ObjectProblem {
  hash: Hash;
  label: string;
}

/** What a push or fetch did (the `--json` summary). */
export interface TransferSummary {
  /** Objects and bytes that moved. */
  objects: number;
  bytes: number;
  /** Objects the destination already had. */
  present: number;
  /** Push: objects named by pointers but absent from the local store (not sent). */
  missingLocal: ObjectProblem[];
  /** Fetch: objects the remote does not have. */
  missingRemote: ObjectProblem[];
  /** Fetch: objects whose downloaded bytes did not match their hash (never stored). */
  corrupt: ObjectProblem[];
  seconds: number;
}

function emptySummary(): TransferSummary {
  return { objects: 0, bytes: 0, present: 0, missingLocal: [], missingRemote: [], corrupt: [], seconds: 0 };
}

interface Wanted {
  hash: Hash;
  size: number;
  label: string;
}

/**
 * The local store's packed objects as one map: a push of 100k objects looks each up twice, and the
 * store's per-pack binary searches (plus a stat for every miss) would dominate.
 */
function localPacked(store: Store): Map<Hash, PackedLocation> {
  const map = new Map<Hash, PackedLocation>();
  for (const pack of store.packFiles()) addPack(map, pack);
  return map;
}

/** Reads small objects, one read per run of neighbouring packed objects. */
function readMany(store: Store, packed: Map<Hash, PackedLocation>, hashes: readonly Hash[]): ObjectData[] {
  const out: ObjectData[] = [];
  const found: Array<{ hash: Hash; at: PackedLocation }> = [];
  for (const hash of hashes) {
    const at = packed.get(hash);
    if (at) found.push({ hash, at });
    else out.push({ hash, data: store.readObject(hash) });
  }
  out.push(...readPacked(found));
  return out;
}

/** Roots plus the entries of every directory manifest the local store holds. */
function expandLocal(
  store: Store,
  packed: Map<Hash, PackedLocation>,
  roots: readonly TransferRoot[],
  summary: TransferSummary,
): Wanted[][] {
  const leaves: Wanted[] = [];
  const trees: Wanted[] = [];
  for (const r of roots) {
    const size = store.sizeOf(r.hash);
    if (size === undefined) {
      summary.missingLocal.push({ hash: r.hash, label: r.label });
      continue;
    }
    if (!r.tree) {
      leaves.push({ hash: r.hash, size, label: r.label });
      continue;
    }
    trees.push({ hash: r.hash, size, label: r.label });
    for (const e of decodeTree(store.readObject(r.hash))) {
      const label = `${r.label}/${e.path}`;
      if (packed.has(e.hash) || store.has(e.hash)) leaves.push({ hash: e.hash, size: e.size, label });
      else summary.missingLocal.push({ hash: e.hash, label });
    }
  }
  // Manifests go last: a manifest on the remote then implies its entries are there too.
  return [leaves, trees];
}

function progressTracker(phase: string, options: TransferOptions, filesTotal: number, bytesTotal: number) {
  const state = { phase, files: 0, filesTotal, bytes: 0, bytesTotal };
  return (files: number, bytes: number) => {
    state.files += files;
    state.bytes += bytes;
    options.onProgress?.({ ...state });
  };
}

/**
 * Uploads the objects of `roots` that the remote lacks.
 *
 * @example
 * const summary = await pushObjects(repo.store, remote, await selectRoots(repo), { jobs: 8 });
 */
export async function pushObjects(
  store: Store,
  remote: Remote,
  roots: readonly TransferRoot[],
  options: TransferOptions = {},
): Promise<TransferSummary> {
  const clock = options.clock ?? Date.now;
  const start = clock();
  const jobs = options.jobs ?? DEFAULT_JOBS;
  const summary = emptySummary();
  const packed = localPacked(store);
  for (const group of expandLocal(store, packed, roots, summary)) {
    if (group.length === 0) continue;
    const present = await remote.has(group);
    const plan = planTransfer(group, present);
    summary.present += plan.present;
    const tick = progressTracker("push", options, plan.objects, plan.bytes);
    const tasks: Array<() => Promise<void>> = [];
    for (const batch of plan.batches) {
      tasks.push(async () => {
        // Read inside the task: only `jobs` batches are ever in memory.
        const objects = readMany(
          store,
          packed,
          batch.map((o) => o.hash),
        );
        await remote.putBatch(objects);
        summary.objects += batch.length;
        const bytes = objects.reduce((n, o) => n + o.data.length, 0);
        summary.bytes += bytes;
        tick(batch.length, bytes);
      });
    }
    for (const o of plan.large) {
      tasks.push(async () => {
        await remote.putFile(o, store.ensureLoose(o.hash));
        summary.objects++;
        summary.bytes += o.size;
        tick(1, o.size);
      });
    }
    await runPool(tasks, jobs);
  }
  summary.seconds = (clock() - start) / 1000;
  return summary;
}

/** Streams one object into the store's tmp dir, hashing as it goes; stores it only if the hash matches. */
async function downloadLarge(
  store: Store,
  remote: Remote,
  want: Wanted,
  summary: TransferSummary,
  fs: typeof nodeFs,
): Promise<number> {
  const body = await remote.open(want.hash);
  if (!body) {
    summary.missingRemote.push({ hash: want.hash, label: want.label });
    return 0;
  }
  const tmp = tmpName(store.tmpDir, "fetch");
  const hasher = new Blake3Hasher();
  let size = 0;
  try {
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hasher.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      fs.createWriteStream(tmp, { flags: "wx" }),
    );
  } catch (err) {
    safeUnlink(tmp, fs);
    if (err instanceof MtrackError) throw err;
    // A local write failure (disk full, permissions) is not the remote's fault.
    if (["ENOSPC", "EDQUOT", "EACCES", "EROFS", "EIO"].includes(errnoCode(err) ?? "")) {
      throw ioError(err, `writing the download of ${want.label}`);
    }
    throw remoteError(
      "unreachable",
      `Download of ${want.label} (${want.hash.slice(0, 12)}) from ${remote.url} was cut off; rerun to resume.`,
      { url: remote.url, hash: want.hash },
      err,
    );
  }
  try {
    if (hasher.digest("hex") !== want.hash) {
      summary.corrupt.push({ hash: want.hash, label: want.label });
      return 0;
    }
    // Only this process writes its own temp file, so the hash computed while it streamed in holds.
    store.adoptVerifiedFile(tmp, want.hash);
    return size;
  } finally {
    safeUnlink(tmp, fs);
  }
}

/** Downloads `wanted` (not already local), verifying every object before it enters the store. */
async function download(
  store: Store,
  remote: Remote,
  wanted: readonly Wanted[],
  summary: TransferSummary,
  options: TransferOptions,
  fs: typeof nodeFs,
): Promise<void> {
  const present = new Set<Hash>();
  for (const w of wanted) if (store.has(w.hash)) present.add(w.hash);
  const plan = planTransfer(wanted, present);
  summary.present += plan.present;
  const byHash = new Map(wanted.map((w) => [w.hash, w]));
  const tick = progressTracker("fetch", options, plan.objects, plan.bytes);
  const large: Wanted[] = plan.large.map((o) => byHash.get(o.hash)!);
  const tasks: Array<() => Promise<void>> = plan.batches.map((batch) => async () => {
    const rest = await remote.getBatch(
      batch.map((o) => o.hash),
      (o) => {
        const w = byHash.get(o.hash);
        if (!w) return;
        if (hashBytes(o.data) !== o.hash) {
          summary.corrupt.push({ hash: o.hash, label: w.label });
          return;
        }
        store.putBuffer(o.data);
        summary.objects++;
        summary.bytes += o.data.length;
        tick(1, o.data.length);
      },
    );
    // The store writes a pack every 64 MiB on its own, so an interrupted fetch keeps most of what it got;
    // a pack per batch would multiply the packs every later lookup has to search.
    for (const h of rest) large.push(byHash.get(h)!);
  });
  await runPool(tasks, options.jobs ?? DEFAULT_JOBS);
  await runPool(
    large.map((w) => async () => {
      const bytes = await downloadLarge(store, remote, w, summary, fs);
      if (bytes > 0 || (w.size === 0 && store.has(w.hash))) {
        summary.objects++;
        summary.bytes += bytes;
        tick(1, bytes);
      }
    }),
    options.jobs ?? DEFAULT_JOBS,
  );
  store.flushSync();
}

/**
 * Downloads the objects of `roots` the local store lacks: roots first, then the entries of directory
 * manifests. Corrupt or missing objects are reported in the summary (and never stored); the rest is
 * kept, so a rerun fetches only what is left.
 *
 * @example
 * const s = await fetchObjects(repo.store, remote, await selectRoots(repo));
 * if (s.corrupt.length) ...
 */
export async function fetchObjects(
  store: Store,
  remote: Remote,
  roots: readonly TransferRoot[],
  options: TransferOptions & { fs?: typeof nodeFs } = {},
): Promise<TransferSummary> {
  const clock = options.clock ?? Date.now;
  const fs = options.fs ?? nodeFs;
  const start = clock();
  const summary = emptySummary();
  await download(
    store,
    remote,
    roots.map((r) => ({ hash: r.hash, size: r.tree ? 0 : r.size, label: r.label })),
    summary,
    options,
    fs,
  );
  const entries: Wanted[] = [];
  for (const r of roots) {
    if (!r.tree || !store.has(r.hash)) continue;
    let tree: ReturnType<typeof decodeTree>;
    try {
      tree = decodeTree(store.readObject(r.hash));
    } catch (err) {
      if (err instanceof MtrackError) {
        summary.corrupt.push({ hash: r.hash, label: r.label });
        continue;
      }
      throw err;
    }
    for (const e of tree) entries.push({ hash: e.hash, size: e.size, label: `${r.label}/${e.path}` });
  }
  await download(store, remote, entries, summary, options, fs);
  summary.seconds = (clock() - start) / 1000;
  return summary;
}

/**
 * The error for a fetch that left objects behind (corrupt first: it is the one that needs attention).
 *
 * @example
 * const err = fetchProblems(summary); if (err) throw err;
 */
export function fetchProblems(summary: TransferSummary): MtrackError | undefined {
  const list = (ps: ObjectProblem[]) =>
    ps
      .slice(0, 5)
      .map((p) => `${p.label} (${p.hash.slice(0, 12)})`)
      .join(", ") + (ps.length > 5 ? `, and ${ps.length - 5} more` : "");
  if (summary.corrupt.length > 0) {
    return new MtrackError(
      "ERR_MTRACK_OBJECT_CORRUPT",
      `${summary.corrupt.length} object(s) on the remote do not match their hash and were not stored: ${list(summary.corrupt)}.`,
      {
        hint: "The remote copy is damaged. Push the data again from a clone that has it (`mtrack push`), then rerun.",
        data: { corrupt: summary.corrupt },
      },
    );
  }
  if (summary.missingRemote.length > 0) {
    return new MtrackError(
      "ERR_MTRACK_OBJECT_MISSING",
      `${summary.missingRemote.length} object(s) are not on the remote: ${list(summary.missingRemote)}.`,
      {
        hint: "Push them from the clone that created them (`mtrack push`), then rerun.",
        data: { missing: summary.missingRemote },
      },
    );
  }
  return undefined;
}
