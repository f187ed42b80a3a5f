/**
 * Moving store objects between the local store and a remote. Both directions: expand the roots (a
 * directory root brings its manifest's entries), ask the other side what it has in one batched call,
 * plan (plan.ts), then run batches and large streams in parallel. Resuming is free: a rerun asks again
 * and only what is still missing moves.
 */
import * as nodeFs from "node:fs";
import { Blake3Hasher } from "@napi-rs/blake-hash";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import { remoteError } from "../remotes/errors.js";
import { looseObjects } from "../remotes/loose.js";
import { addPack, type PackedLocation, packContents, readPacked } from "../remotes/pack-map.js";
import type { ObjectData, ObjectSpec, Remote } from "../remotes/types.js";
import { bytesHasher, hashBytes, hashFileSync } from "../store/hash.js";
import { installPack, type PackFile, verifyForeignPack, writePack } from "../store/pack.js";
import { isCorruptError, type Store } from "../store/store.js";
import { decodeTree } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import { isPackVerified, markPacksVerified } from "../store/verified.js";
import { safeUnlink, tmpName } from "../util/fs.js";
import type { ProgressFn } from "../workspace/scan.js";
import {
  planTransfer,
  runPool,
  safeWholePacks,
  type TransferPlan,
  wholePacks,
  withoutCovered,
} from "./plan.js";
import { receiveObject } from "./receive.js";
import type { TransferRoot } from "./select.js";

/** Default parallel transfers: enough to hide latency, few enough for a laptop's uplink. */
export const DEFAULT_JOBS = 8;

/** Parallelism, progress and clock of a transfer. */
export interface TransferOptions {
  jobs?: number;
  /** Push: re-check the remote's copies of what is pushed and replace damaged ones (`push --repair`). */
  repair?: boolean;
  onProgress?: ProgressFn;
  clock?: () => number;
}

/** An object that could not be transferred, named by hash and by the path it belongs to. */
export interface ObjectProblem {
  hash: Hash;
  label: string;
}

/** A directory manifest that was refused, and why (the validation error's message). */
export interface RefusedManifest extends ObjectProblem {
  reason: string;
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
  /**
   * Fetch: directory manifests whose bytes match their hash but that mtrack refuses to follow (an entry
   * escaping the directory, naming `.git`, a duplicate...): none of their files were fetched.
   */
  refused: RefusedManifest[];
  /**
   * Push: local objects whose bytes do not match their hash (not sent; nor are the manifests that list
   * them). With a hardlinked workspace, a write through the link changes the store's object.
   */
  corruptLocal: ObjectProblem[];
  /** Push with `repair`: objects whose copy on the remote was damaged and has been replaced. */
  repaired: ObjectProblem[];
  seconds: number;
}

/** Adds the counts and problem lists of `more` into `into` (one summary over several transfers). */
export function mergeSummary(into: TransferSummary, more: TransferSummary): void {
  into.objects += more.objects;
  into.bytes += more.bytes;
  into.present += more.present;
  into.missingLocal.push(...more.missingLocal);
  into.missingRemote.push(...more.missingRemote);
  into.corrupt.push(...more.corrupt);
  into.refused.push(...more.refused);
  into.corruptLocal.push(...more.corruptLocal);
  into.repaired.push(...more.repaired);
  into.seconds += more.seconds;
}

export function emptySummary(): TransferSummary {
  return {
    objects: 0,
    bytes: 0,
    present: 0,
    missingLocal: [],
    missingRemote: [],
    corrupt: [],
    refused: [],
    corruptLocal: [],
    repaired: [],
    seconds: 0,
  };
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

/** Roots plus the entries of every directory manifest the local store holds (and which entries each has). */
function expandLocal(
  store: Store,
  packed: () => Map<Hash, PackedLocation>,
  roots: readonly TransferRoot[],
  summary: TransferSummary,
): { leaves: Wanted[]; trees: Wanted[]; entriesOf: Map<Hash, Hash[]> } {
  const leaves: Wanted[] = [];
  const trees: Wanted[] = [];
  const entriesOf = new Map<Hash, Hash[]>();
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
    const entries: Hash[] = [];
    entriesOf.set(r.hash, entries);
    for (const e of decodeTree(store.readObject(r.hash))) {
      entries.push(e.hash);
      const label = `${r.label}/${e.path}`;
      if (packed().has(e.hash) || store.has(e.hash)) leaves.push({ hash: e.hash, size: e.size, label });
      else summary.missingLocal.push({ hash: e.hash, label });
    }
  }
  // Manifests go last: a manifest on the remote then implies its entries are there too.
  return { leaves, trees, entriesOf };
}

function progressTracker(phase: string, options: TransferOptions, filesTotal: number, bytesTotal: number) {
  const state = { phase, files: 0, filesTotal, bytes: 0, bytesTotal };
  return (files: number, bytes: number) => {
    state.files += files;
    state.bytes += bytes;
    options.onProgress?.({ ...state });
  };
}

/** What one phase of a push sends: batches, whole packs and large objects. */
interface PushPhase {
  batches: ObjectSpec[][];
  packs: Array<{ pack: PackFile; hashes: Hash[] }>;
  large: ObjectSpec[];
}

/**
 * Splits the plans of leaves and manifests into phases, sending whole local packs where the remote can
 * take them: plain objects and packs without manifests first, then the packs holding manifests (each
 * safe on its own, see safeWholePacks), then the remaining manifests. A manifest on the remote thus
 * always implies its entries are there.
 */
function pushPhases(
  remote: Remote,
  packed: () => Map<Hash, PackedLocation>,
  leaves: TransferPlan,
  trees: TransferPlan,
  entriesOf: ReadonlyMap<Hash, readonly Hash[]>,
  intact: (pack: PackFile) => boolean,
): PushPhase[] {
  const first: PushPhase = { batches: leaves.batches, packs: [], large: leaves.large };
  const middle: PushPhase = { batches: [], packs: [], large: [] };
  const last: PushPhase = { batches: trees.batches, packs: [], large: trees.large };
  if (!remote.putPack) return [first, last];
  const toSend = new Set<Hash>();
  for (const b of [...leaves.batches, ...trees.batches]) for (const o of b) toSend.add(o.hash);
  if (toSend.size === 0) return [first, last];
  const contents = packContents(packed());
  const whole = new Set(
    wholePacks(
      [...contents].map(([pack, hashes]) => ({ id: pack.id, count: pack.count, hashes })),
      toSend,
    ),
  );
  const candidates = [...contents].filter(([pack]) => whole.has(pack.id) && intact(pack));
  const chosen = new Set(
    safeWholePacks(
      candidates.map(([pack, hashes]) => ({ id: pack.id, hashes })),
      entriesOf,
    ),
  );
  const covered = new Set<Hash>();
  for (const [pack, hashes] of candidates) {
    if (!chosen.has(pack.id)) continue;
    for (const h of hashes) covered.add(h);
    (hashes.some((h) => entriesOf.has(h)) ? middle : first).packs.push({ pack, hashes });
  }
  first.batches = withoutCovered(first.batches, covered);
  last.batches = withoutCovered(last.batches, covered);
  return [first, middle, last];
}

/**
 * Uploads the objects of `roots` that the remote lacks: one existence check for all of them, then whole
 * local packs (when every object in one is wanted and the backend takes packs), batches of the other
 * small objects, and large objects streamed; manifests last.
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
  // Built on first use: a push of one large file never needs the map of 100k packed objects.
  let packedMap: Map<Hash, PackedLocation> | undefined;
  const packed = () => {
    packedMap ??= localPacked(store);
    return packedMap;
  };
  const { leaves, trees, entriesOf } = expandLocal(store, packed, roots, summary);
  const labels = new Map<Hash, string>();
  for (const w of [...leaves, ...trees]) if (!labels.has(w.hash)) labels.set(w.hash, w.label);
  const bad = new Set<Hash>();
  const corruptLocal = (hash: Hash) => {
    if (bad.has(hash)) return;
    bad.add(hash);
    summary.corruptLocal.push({ hash, label: labels.get(hash) ?? hash });
  };
  let present = leaves.length + trees.length > 0 ? await remote.has([...leaves, ...trees]) : new Set<Hash>();
  if (options.repair && present.size > 0) {
    const replaced = await repairRemote(store, remote, [...leaves, ...trees], present, packed, jobs);
    for (const h of replaced.corruptLocal) corruptLocal(h);
    for (const h of replaced.dropped) summary.repaired.push({ hash: h, label: labels.get(h) ?? h });
    if (replaced.dropped.length > 0) {
      const dropped = new Set(replaced.dropped);
      present = new Set([...present].filter((h) => !dropped.has(h)));
    }
  }
  const leafPlan = planTransfer(leaves, present);
  const treePlan = planTransfer(trees, present);
  summary.present += leafPlan.present + treePlan.present;
  const tick = progressTracker(
    "push",
    options,
    leafPlan.objects + treePlan.objects,
    leafPlan.bytes + treePlan.bytes,
  );
  const sent = (objects: number, bytes: number) => {
    summary.objects += objects;
    summary.bytes += bytes;
  };
  // A manifest on the remote implies its entries are there: one listing a corrupt object stays here.
  const blocked = (hash: Hash) => bad.has(hash) || (entriesOf.get(hash)?.some((h) => bad.has(h)) ?? false);
  const checked: PackFile[] = [];
  const phases = pushPhases(remote, packed, leafPlan, treePlan, entriesOf, (pack) => {
    // A whole pack goes by a kernel copy, unread: it must be known good (verified.ts), else every object
    // in it is checked first. A damaged one is sent in batches, which name each bad object.
    if (isPackVerified(store.dir, pack.id, pack.packPath)) return true;
    try {
      const ok =
        verifyForeignPack(nodeFs, pack.packPath, pack.indexBytes(), pack.id, pack.packPath).bad.length === 0;
      if (ok) checked.push(pack);
      return ok;
    } catch (err) {
      if (isCorruptError(err)) return false;
      throw ioError(err, `reading ${pack.packPath}`);
    }
  });
  markPacksVerified(store.dir, checked);
  for (const phase of phases) {
    const tasks: Array<() => Promise<void>> = [];
    for (const { pack, hashes } of phase.packs) {
      if (hashes.some(blocked)) continue;
      tasks.push(async () => {
        await remote.putPack!(pack);
        const bytes = hashes.reduce((n, h) => n + (packed().get(h)?.length ?? 0), 0);
        sent(hashes.length, bytes);
        tick(hashes.length, bytes);
      });
    }
    for (const batch of phase.batches) {
      tasks.push(async () => {
        // Read inside the task: only `jobs` batches are ever in memory.
        const read = readMany(
          store,
          packed(),
          batch.filter((o) => !blocked(o.hash)).map((o) => o.hash),
        );
        // Hashed as read: what goes out is what its name says (a few ms per 10k small objects).
        const hash = bytesHasher();
        const objects = read.filter((o) => {
          if (hash(o.data) === o.hash) return true;
          corruptLocal(o.hash);
          return false;
        });
        if (objects.length > 0) await remote.putBatch(objects);
        const bytes = objects.reduce((n, o) => n + o.data.length, 0);
        sent(objects.length, bytes);
        tick(batch.length, bytes);
      });
    }
    for (const o of phase.large) {
      if (blocked(o.hash)) continue;
      tasks.push(async () => {
        try {
          // The backend hashes what it reads and refuses a mismatch before it becomes visible.
          await remote.putFile(o, store.ensureLoose(o.hash), (n) => tick(0, n));
        } catch (err) {
          // Ours or damaged on the way? Only a local copy that fails its hash is reported as corrupt here.
          if (isCorruptError(err) && store.verify(o.hash, "loose") === "corrupt") {
            corruptLocal(o.hash);
            return;
          }
          throw err;
        }
        sent(1, o.size);
        tick(1, 0);
      });
    }
    await runPool(tasks, jobs);
  }
  summary.seconds = (clock() - start) / 1000;
  return summary;
}

/** Hashes asked of the remote per round of a repair's checks. */
const REPAIR_CHUNK = 10_000;

/**
 * Checks the remote's copies of `wanted` that it says it has (`present`), for `push --repair`: where the
 * backend can hash its own copies (a directory, `mtrack server`) it does, else each copy is downloaded
 * and hashed (S3). A damaged remote copy whose local copy is good is dropped from the remote, so the push
 * that follows sends it again; one whose local copy is damaged too is left and reported. Copies the remote
 * lists but cannot send count as damaged.
 */
async function repairRemote(
  store: Store,
  remote: Remote,
  wanted: readonly Wanted[],
  present: ReadonlySet<Hash>,
  packed: () => Map<Hash, PackedLocation>,
  jobs: number,
): Promise<{ dropped: Hash[]; corruptLocal: Hash[] }> {
  const seen = new Set<Hash>();
  const check = wanted.filter((w) => present.has(w.hash) && !seen.has(w.hash) && seen.add(w.hash));
  const damaged = new Set<Hash>();
  const verify = remote.verify?.bind(remote);
  if (verify) {
    for (let i = 0; i < check.length; i += REPAIR_CHUNK) {
      for (const h of await verify(check.slice(i, i + REPAIR_CHUNK))) damaged.add(h);
    }
  } else {
    const large: Wanted[] = [];
    const bySize = new Map(check.map((w) => [w.hash, w]));
    const tasks: Array<() => Promise<void>> = [];
    for (let i = 0; i < check.length; i += REPAIR_CHUNK) {
      const chunk = check.slice(i, i + REPAIR_CHUNK);
      tasks.push(async () => {
        const seen = new Set<Hash>();
        const hash = bytesHasher();
        const rest = await remote.getBatch(
          chunk.map((w) => w.hash),
          (o) => {
            seen.add(o.hash);
            if (hash(o.data) !== o.hash) damaged.add(o.hash);
          },
        );
        for (const h of rest) {
          const w = bySize.get(h);
          if (w && !seen.has(h)) large.push(w);
        }
      });
    }
    await runPool(tasks, jobs);
    await runPool(
      large.map((w) => async () => {
        const got = await hashRemoteObject(remote, w.hash);
        if (got !== w.hash) damaged.add(w.hash);
      }),
      jobs,
    );
  }
  const dropped: Hash[] = [];
  const corruptLocal: Hash[] = [];
  for (const h of damaged) {
    const at = packed().get(h);
    const local = at
      ? hashBytes(at.pack.read(at.offset, at.length)) === h
        ? "ok"
        : "corrupt"
      : store.verify(h);
    if (local === "ok") dropped.push(h);
    else corruptLocal.push(h);
  }
  if (dropped.length > 0) {
    if (!remote.dropObjects) {
      throw remoteError(
        "rejected",
        `${remote.url} holds ${dropped.length} damaged object(s) but cannot replace them (upgrade its \`mtrack server\`).`,
        { url: remote.url, damaged: dropped.slice(0, 10) },
      );
    }
    await remote.dropObjects(dropped);
  }
  return { dropped, corruptLocal };
}

/** The hash of a remote object's bytes, streamed (nothing written); undefined when it cannot be read. */
async function hashRemoteObject(remote: Remote, hash: Hash): Promise<Hash | undefined> {
  const hasher = new Blake3Hasher();
  if (remote.readChunks) {
    const found = await remote.readChunks(hash, (chunk) => hasher.update(chunk));
    return found ? hasher.digest("hex") : undefined;
  }
  const body = await remote.open(hash);
  if (!body) return undefined;
  for await (const chunk of body as AsyncIterable<Buffer>) hasher.update(chunk);
  return hasher.digest("hex");
}

/**
 * The error for a push that left corrupt local objects behind (refused, not sent).
 *
 * @example
 * const err = pushProblems(summary); if (err) throw err;
 */
export function pushProblems(summary: TransferSummary): MtrackError | undefined {
  const ps = summary.corruptLocal;
  if (ps.length === 0) return undefined;
  const list =
    ps
      .slice(0, 5)
      .map((p) => `${p.label} (${p.hash.slice(0, 12)})`)
      .join(", ") + (ps.length > 5 ? `, and ${ps.length - 5} more` : "");
  return new MtrackError(
    "ERR_MTRACK_OBJECT_CORRUPT",
    `${ps.length} object(s) in the local store do not match their hash and were not pushed: ${list}.`,
    {
      hint: "Run `mtrack fsck` to list the damage. Re-add the data from its source (`mtrack add <path>`), or fetch a good copy from a remote that has one (`mtrack pull`), then push again. Everything else was pushed.",
      data: { corruptLocal: ps },
    },
  );
}

/**
 * Copies one object from a remote that can copy files (a directory) into the store's tmp dir, then
 * hashes the copy (from the page cache) and stores it only if the hash matches: a kernel copy and one
 * read beat streaming a large file through the process in 64 KiB chunks.
 */
async function copyLarge(
  store: Store,
  copyTo: (hash: Hash, dest: string) => Promise<boolean>,
  url: string,
  want: Wanted,
  summary: TransferSummary,
  fs: typeof nodeFs,
  onBytes: (bytes: number) => void,
): Promise<number> {
  const tmp = tmpName(store.tmpDir, "fetch");
  try {
    if (!(await copyTo(want.hash, tmp))) {
      summary.missingRemote.push({ hash: want.hash, label: want.label });
      return 0;
    }
    const { hash, size } = hashFileSync(tmp, fs);
    onBytes(size);
    if (hash !== want.hash) {
      summary.corrupt.push({ hash: want.hash, label: want.label });
      return 0;
    }
    store.adoptVerifiedFile(tmp, want.hash);
    return size;
  } catch (err) {
    if (err instanceof MtrackError) throw err;
    throw ioError(err, `copying ${want.label} from ${url}`);
  } finally {
    safeUnlink(tmp, fs);
  }
}

/** Streams one object into the store's tmp dir, hashing as it goes; stores it only if the hash matches. */
async function downloadLarge(
  store: Store,
  remote: Remote,
  want: Wanted,
  summary: TransferSummary,
  fs: typeof nodeFs,
  onBytes: (bytes: number) => void,
): Promise<number> {
  const copyTo = remote.copyTo?.bind(remote);
  if (copyTo) return copyLarge(store, copyTo, remote.url, want, summary, fs, onBytes);
  const tmp = tmpName(store.tmpDir, "fetch");
  let got: { hash: Hash; size: number } | undefined;
  try {
    got = await receiveObject(remote, want.hash, tmp, fs, onBytes);
  } catch (err) {
    safeUnlink(tmp, fs);
    if (err instanceof MtrackError) throw err;
    // A local write failure (disk full, permissions) is not the remote's fault.
    if (["ENOSPC", "EDQUOT", "EACCES", "EROFS", "EIO", "EEXIST"].includes(errnoCode(err) ?? "")) {
      throw ioError(err, `writing the download of ${want.label}`);
    }
    throw remoteError(
      "unreachable",
      `Download of ${want.label} (${want.hash.slice(0, 12)}) from ${remote.url} was cut off; rerun to resume.`,
      { url: remote.url, hash: want.hash },
      err,
    );
  }
  if (!got) {
    safeUnlink(tmp, fs);
    summary.missingRemote.push({ hash: want.hash, label: want.label });
    return 0;
  }
  try {
    if (got.hash !== want.hash) {
      summary.corrupt.push({ hash: want.hash, label: want.label });
      return 0;
    }
    // Only this process writes its own temp file, so the hash computed while it streamed in holds.
    store.adoptVerifiedFile(tmp, want.hash);
    return got.size;
  } finally {
    safeUnlink(tmp, fs);
  }
}

/** Below this many wanted objects a lookup each is cheaper than mapping every pack. */
const MAP_STORE_ABOVE = 1024;

/**
 * Which of `hashes` the local store already has. For many objects: the packs as one map and a listing
 * of the loose fan-out folders, instead of a binary search per pack and a stat per object (100k stats
 * of absent files were most of a fetch's own time). Nothing is staged in the store during a fetch, so
 * packs and loose files are all there is.
 */
function localPresence(store: Store, hashes: readonly Hash[], fs: typeof nodeFs): Set<Hash> {
  if (hashes.length < MAP_STORE_ABOVE) return new Set(hashes.filter((h) => store.has(h)));
  const packed = localPacked(store);
  const out = new Set<Hash>();
  const rest: Hash[] = [];
  for (const h of hashes) {
    if (packed.has(h)) out.add(h);
    else rest.push(h);
  }
  for (const h of looseObjects(fs, store.objectsDir, rest)) out.add(h);
  return out;
}

/** Verified small objects are written as packs of about this size (fewer packs: faster lookups later). */
const FETCH_PACK_BYTES = 64 << 20;

/**
 * Collects verified small objects and writes them into the store as packs under their (checked) hashes:
 * the store's putBuffer would hash each object a second time and copy it once more. Each pack holds its
 * objects in the order they were wanted (a manifest's entries are in path order), not the order the
 * parallel batches happened to arrive in: a checkout reads them in path order, and a pack read in its
 * own order is served from the pack's read-ahead window (~100 reads for 100k objects instead of one
 * each).
 */
function verifiedPacker(store: Store, fs: typeof nodeFs, rank: ReadonlyMap<Hash, number>) {
  let pending: Array<{ raw: Buffer; data: Uint8Array; rank: number }> = [];
  let bytes = 0;
  const seen = new Set<Hash>();
  const flush = () => {
    if (pending.length === 0) return;
    const objects = pending.sort((a, b) => a.rank - b.rank);
    pending = [];
    bytes = 0;
    try {
      fs.mkdirSync(store.packsDir, { recursive: true });
      writePack(fs, store.packsDir, objects, store.tmpDir);
    } catch (err) {
      throw ioError(err, "writing a pack of fetched objects");
    }
  };
  return {
    add(o: ObjectData): void {
      if (seen.has(o.hash)) return;
      seen.add(o.hash);
      pending.push({ raw: Buffer.from(o.hash, "hex"), data: o.data, rank: rank.get(o.hash) ?? 0 });
      bytes += o.data.length;
      if (bytes >= FETCH_PACK_BYTES) flush();
    },
    flush,
  };
}

/** Below this many small objects to fetch, batches are cheaper than looking at the remote's packs. */
const WHOLE_PACKS_FROM = 1024;

/**
 * Copies whole remote packs that hold (nearly) only wanted objects (see wholePacks), when the remote
 * can list and copy its packs (a directory by the kernel, S3 and `mtrack server` by one download each),
 * then one sequential read hashes every object against its name, then the pack is installed as it is. A pack that fails any check is not installed and its objects are
 * left to the batches, which report each bad object by name. Returns the objects now local.
 */
async function fetchWholePacks(
  store: Store,
  remote: Remote,
  batches: readonly ObjectSpec[][],
  summary: TransferSummary,
  tick: (objects: number, bytes: number) => void,
  fs: typeof nodeFs,
): Promise<Set<Hash>> {
  const covered = new Set<Hash>();
  const list = remote.packList?.bind(remote);
  const copyPack = remote.copyPack?.bind(remote);
  if (!list || !copyPack) return covered;
  const wanted = new Set<Hash>();
  for (const b of batches) for (const o of b) wanted.add(o.hash);
  if (wanted.size < WHOLE_PACKS_FROM) return covered;
  const packs = await list();
  const chosen = new Set(wholePacks(packs, wanted, (h) => store.has(h)));
  if (chosen.size === 0) return covered;
  fs.mkdirSync(store.packsDir, { recursive: true });
  // Two at a time: one pack's kernel copy and fsync overlap the other's hashing.
  const tasks = packs
    .filter((p) => chosen.has(p.id))
    .map((pack) => async () => {
      const tmp = tmpName(store.tmpDir, "fetch");
      try {
        const idx = await copyPack(pack.id, tmp);
        if (!idx) return;
        const got = verifyForeignPack(fs, tmp, idx, pack.id, `pack ${pack.id} of ${remote.url}`);
        if (got.bad.length > 0) return;
        // Durable before its index makes it visible (fsync works on a descriptor opened for reading).
        const handle = await fs.promises.open(tmp, "r");
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
        installPack(fs, store.packsDir, store.tmpDir, tmp, idx, pack.id);
        let objects = 0;
        for (const h of pack.hashes) {
          if (!wanted.has(h) || covered.has(h)) continue;
          covered.add(h);
          objects++;
        }
        summary.objects += objects;
        summary.bytes += got.bytes;
        tick(objects, got.bytes);
      } catch (err) {
        // A damaged index: its objects go through the batches, which name each one that is bad.
        if (err instanceof MtrackError && err.code === "ERR_MTRACK_OBJECT_CORRUPT") return;
        if (err instanceof MtrackError) throw err;
        throw ioError(err, `copying a pack from ${remote.url}`);
      } finally {
        safeUnlink(tmp, fs);
      }
    });
  await runPool(tasks, 2);
  if (covered.size > 0) store.reload();
  return covered;
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
  const present = localPresence(
    store,
    wanted.map((w) => w.hash),
    fs,
  );
  const plan = planTransfer(wanted, present);
  summary.present += plan.present;
  const byHash = new Map(wanted.map((w) => [w.hash, w]));
  const tick = progressTracker("fetch", options, plan.objects, plan.bytes);
  const large: Wanted[] = plan.large.map((o) => byHash.get(o.hash)!);
  const rank = new Map<Hash, number>();
  wanted.forEach((w, i) => {
    if (!rank.has(w.hash)) rank.set(w.hash, i);
  });
  const packer = verifiedPacker(store, fs, rank);
  const covered = await fetchWholePacks(store, remote, plan.batches, summary, tick, fs);
  const batches = covered.size > 0 ? withoutCovered(plan.batches, covered) : plan.batches;
  const tasks: Array<() => Promise<void>> = batches.map((batch) => async () => {
    const rest = await remote.getBatch(
      batch.map((o) => o.hash),
      (o) => {
        const w = byHash.get(o.hash);
        if (!w) return;
        if (hashBytes(o.data) !== o.hash) {
          summary.corrupt.push({ hash: o.hash, label: w.label });
          return;
        }
        packer.add(o);
        summary.objects++;
        summary.bytes += o.data.length;
        tick(1, o.data.length);
      },
    );
    for (const h of rest) large.push(byHash.get(h)!);
  });
  let failure: { err: unknown } | undefined;
  try {
    await runPool(tasks, options.jobs ?? DEFAULT_JOBS);
  } catch (err) {
    failure = { err };
  }
  // What was verified is kept even when a batch failed: the rerun then fetches only what is left.
  packer.flush();
  store.reload();
  if (failure) throw failure.err;
  await runPool(
    large.map((w) => async () => {
      const bytes = await downloadLarge(store, remote, w, summary, fs, (n) => tick(0, n));
      if (bytes > 0 || (w.size === 0 && store.has(w.hash))) {
        summary.objects++;
        summary.bytes += bytes;
        tick(1, 0);
      }
    }),
    options.jobs ?? DEFAULT_JOBS,
  );
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
  options: TransferOptions & {
    fs?: typeof nodeFs;
    /** Told each directory root whose manifest and every entry are now local (see CompleteTrees). */
    onTreeComplete?: (hash: Hash) => void;
  } = {},
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
  const trees: Array<{ hash: Hash; entries: Hash[] }> = [];
  for (const r of roots) {
    if (!r.tree || !store.has(r.hash)) continue;
    let tree: ReturnType<typeof decodeTree>;
    try {
      tree = decodeTree(store.readObject(r.hash));
    } catch (err) {
      if (err instanceof MtrackError) {
        // Its hash checked out, so the bytes are what someone pushed: hostile or buggy, not damaged.
        summary.refused.push({ hash: r.hash, label: r.label, reason: err.message });
        continue;
      }
      throw err;
    }
    for (const e of tree) entries.push({ hash: e.hash, size: e.size, label: `${r.label}/${e.path}` });
    trees.push({ hash: r.hash, entries: tree.map((e) => e.hash) });
  }
  await download(store, remote, entries, summary, options, fs);
  if (options.onTreeComplete) {
    // What the download did not report as corrupt or missing is now local (it throws on anything else).
    const failed = new Set(
      [...summary.corrupt, ...summary.refused, ...summary.missingRemote].map((p) => p.hash),
    );
    for (const t of trees) if (!t.entries.some((h) => failed.has(h))) options.onTreeComplete(t.hash);
  }
  summary.seconds = (clock() - start) / 1000;
  return summary;
}

/**
 * The error for a fetch that left objects behind (corrupt first: it is the one that needs attention;
 * then refused manifests, then missing objects). Each kind is counted and named on its own.
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
  const refused = summary.refused;
  const alsoRefused =
    refused.length > 0
      ? ` Also, ${refused.length} directory manifest(s) were refused: ${list(refused)} (see error.data.refused).`
      : "";
  if (summary.corrupt.length > 0) {
    return new MtrackError(
      "ERR_MTRACK_OBJECT_CORRUPT",
      `${summary.corrupt.length} object(s) on the remote do not match their hash and were not stored: ${list(summary.corrupt)}.${alsoRefused}`,
      {
        hint: "The remote copy is damaged. From a clone that has a good copy, run `mtrack push --repair` (it re-checks the remote's copies and replaces the bad ones), then rerun.",
        data: { corrupt: summary.corrupt, ...(refused.length > 0 ? { refused } : {}) },
      },
    );
  }
  if (refused.length > 0) {
    const first = refused[0]!;
    return new MtrackError(
      "ERR_MTRACK_MANIFEST_INVALID",
      `${refused.length} directory manifest(s) from the remote were refused and none of their files fetched: ${list(refused)}. ${first.label}: ${first.reason}`,
      {
        hint: "The manifest's bytes match its hash, so this is what was pushed, not damage on the way: it names paths mtrack never writes (outside its directory, into .git or .mtrack, twice). Nothing was written for it. Find the commit that recorded it (`git log -p -- <path>.mtrack` or pipeline.lock) and re-add the data from a trusted clone.",
        data: { refused },
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
