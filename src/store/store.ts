/**
 * The content-addressed object store under `.mtrack/cache`:
 *   objects/<2 hex>/<62 hex>   large objects, one read-only file each
 *   packs/pack-<id>.{pack,idx} small objects, packed (see pack.ts)
 * and `.mtrack/tmp/` for writes in progress. An object is visible only once complete: loose objects
 * are written to tmp/ and renamed into place; packs become visible when their index is renamed in.
 * Existing objects are never overwritten.
 *
 * Every flush of staged small objects writes one pack, and a lookup probes every pack's index, so packs
 * are consolidated automatically (like `git gc --auto` with gc.autoPackLimit): after a flush that wrote a
 * pack, when there are more than `packLimit` packs (default 32), the small ones are merged into one new
 * pack by the geometric policy in consolidate.ts, which keeps the bytes rewritten over n flushes
 * O(n log n). Consolidation is crash-safe and needs no reader to stop:
 *   - the new pack is written like any other (data, then the index renamed in last), and only then are the
 *     merged packs deleted, index first. A crash in between leaves objects in two packs; lookups take the
 *     first copy found, list() dedupes, and the next consolidation or gc drops the duplicates;
 *   - every object is rehashed as it is copied; a pack with a bad object is left out and stays for fsck;
 *   - one process at a time: the lock file `consolidate.lock` in the cache dir, taken try-lock style (a
 *     process that finds it held skips consolidating this time);
 *   - a reader whose pack list predates a consolidation finds a pack gone (ENOENT): it reloads the list
 *     and retries the read once (an already open pack stays readable after its unlink).
 * `mtrack gc` runs the same policy over all packs, whatever their number.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import { type FsLike, fsyncDir, registerTmpDir, safeUnlink, tmpName, writeAll } from "../util/fs.js";
import { acquireLock } from "../util/lock.js";
import {
  fastFs,
  isRealFs,
  W_CTIME,
  W_ERRNO,
  W_INO,
  W_MTIME,
  W_SIZE,
  WRITE_FIELDS,
  walkThreads,
} from "../util/native.js";
import { DEFAULT_MERGE_FACTOR, DEFAULT_PACK_LIMIT, planConsolidation } from "./consolidate.js";
import { bytesHasher, hashBytes, hashFd, isHash } from "./hash.js";
import { listPackIds, mergePacks, PackFile, writePack } from "./pack.js";
import type { Hash, LinkMode, ObjectInfo, ObjectStore, PutResult } from "./types.js";
import { markPacksVerified } from "./verified.js";

/** Objects smaller than this go into packs; larger ones get their own file. */
export const DEFAULT_PACK_THRESHOLD = 256 * 1024;
/**
 * Staged small objects are written out as a pack once they reach this many bytes. The staging buffer is
 * this big, and counts against the memory of a 100k-file add (target: ≤ 300 MB in all); more packs cost
 * little since lookups are cheap.
 */
const PACK_FLUSH_BYTES = 16 << 20;

/** Where a staged object's bytes sit in the staging buffer. */
interface StagedSpan {
  offset: number;
  length: number;
}

export interface StoreOptions {
  /** The cache directory (`.mtrack/cache`). */
  dir: string;
  /** Scratch directory on the same filesystem (`.mtrack/tmp`). */
  tmpDir: string;
  fs?: FsLike;
  packThreshold?: number;
  /**
   * Keep every object loose (one file each). Needed for the hardlink/symlink link modes, where workspace
   * files point at store files.
   */
  looseOnly?: boolean;
  /** fsync loose objects before renaming them into place (survives power loss, costs throughput). */
  fsync?: boolean;
  /** Consolidate packs after a flush once there are more than this many (Infinity: never). */
  packLimit?: number;
  /** Told about every consolidation (tests and benchmarks count the bytes rewritten). */
  onConsolidate?: (event: ConsolidationResult) => void;
}

/** One consolidation: packs merged into `id`, and what it cost. */
export interface ConsolidationResult {
  /** The new pack. */
  id: string;
  /** Packs merged into it (deleted, unless a crash or a failed delete left them). */
  merged: string[];
  /** Packs the plan chose but that were left as they were (a damaged object, or unreadable). */
  skipped: Array<{ id: string; error: string }>;
  /** Bytes written to the new pack. */
  bytes: number;
}

interface StatKey {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

function sameStat(a: StatKey, b: StatKey): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

function fileChanged(file: string): MtrackError {
  return new MtrackError("ERR_MTRACK_FILE_CHANGED", `${file} changed while it was being read.`, {
    hint: "Wait until whatever writes the file has finished, then run the command again. Nothing was stored for it.",
    data: { path: file },
  });
}

/** materializeNewMany's batches: files and bytes per native call, and the largest object batched. */
const BATCH_WRITE_FILES = 4096;
const BATCH_WRITE_BYTES = 16 << 20;
const BATCH_WRITE_MAX_OBJECT = 1 << 20;

/**
 * Whether a small file read just now (`size` bytes, `after` its fstat once read) is the file a listing
 * stat'ed (`listed`). Throws ERR_MTRACK_FILE_CHANGED when it changed in between; false when only the
 * ctime moved (another hard link to the file does that too): the caller then reads it the careful way.
 */
function readAsListed(file: string, listed: StatKey, size: number, after: StatKey): boolean {
  if (size === listed.size && sameStat(listed, after)) return true;
  if (size === listed.size && sameStat({ ...listed, ctimeMs: after.ctimeMs }, after)) return false;
  throw fileChanged(file);
}

export class Store implements ObjectStore {
  readonly dir: string;
  readonly objectsDir: string;
  readonly packsDir: string;
  readonly tmpDir: string;
  private readonly fs: FsLike;
  private readonly packThreshold: number;
  private readonly looseOnly: boolean;
  private readonly fsync: boolean;
  private readonly packLimit: number;
  private readonly onConsolidate: ((event: ConsolidationResult) => void) | undefined;
  /** A pack was written since the last consolidation check. */
  private wrotePack = false;
  private packs: PackFile[] | undefined;
  private damagedPacks: Array<{ id: string; error: string }> = [];
  // Small objects waiting for the next pack sit back to back in one buffer, reused after every flush:
  // adding 100k small files then allocates no buffer per file (and files are read straight into it).
  private readonly staged = new Map<Hash, StagedSpan>();
  private staging: Buffer | undefined;
  private stagingUsed = 0;
  private readonly hashSmall = bytesHasher();
  /** Scratch space for the binary form of a hash being looked up in the pack indexes. */
  private readonly rawLookup = Buffer.alloc(32);

  constructor(options: StoreOptions) {
    this.fs = options.fs ?? nodeFs;
    this.dir = options.dir;
    this.objectsDir = path.join(options.dir, "objects");
    this.packsDir = path.join(options.dir, "packs");
    this.tmpDir = options.tmpDir;
    registerTmpDir(this.tmpDir);
    this.packThreshold = options.packThreshold ?? DEFAULT_PACK_THRESHOLD;
    this.looseOnly = options.looseOnly ?? false;
    this.fsync = options.fsync ?? false;
    this.packLimit = options.packLimit ?? DEFAULT_PACK_LIMIT;
    this.onConsolidate = options.onConsolidate;
  }

  /** The lock file that serialises consolidation (and gc's pack rewrites) between processes. */
  get packLockPath(): string {
    return path.join(this.dir, "consolidate.lock");
  }

  /** Creates the store's directories (idempotent). */
  init(): void {
    for (const d of [this.objectsDir, this.packsDir, this.tmpDir]) this.fs.mkdirSync(d, { recursive: true });
  }

  /** Path of the loose object file for `hash` (whether or not it exists). */
  loosePath(hash: Hash): string {
    // Concatenated, not path.join: called per file by link-mode checkouts, and the parts need no normalising.
    return `${this.objectsDir}${path.sep}${hash.slice(0, 2)}${path.sep}${hash.slice(2)}`;
  }

  private loadPacks(): PackFile[] {
    if (!this.packs) {
      const packs: PackFile[] = [];
      this.damagedPacks = [];
      for (const id of listPackIds(this.fs, this.packsDir).complete) {
        try {
          packs.push(PackFile.open(this.fs, this.packsDir, id));
        } catch (err) {
          // Deleted by a consolidation between the directory listing and the open: its objects are elsewhere.
          if (errnoCode(err) === "ENOENT") continue;
          // One damaged index must not hide every other object; fsck reports it.
          this.damagedPacks.push({ id, error: err instanceof Error ? err.message : String(err) });
        }
      }
      this.packs = packs;
    }
    return this.packs;
  }

  /** Packs whose index could not be read (reported by fsck). */
  get brokenPacks(): ReadonlyArray<{ id: string; error: string }> {
    this.loadPacks();
    return this.damagedPacks;
  }

  /** Forgets the loaded pack indexes, so packs written by other processes become visible. */
  reload(): void {
    for (const p of this.packs ?? []) p.close();
    this.packs = undefined;
  }

  private findPacked(hash: Hash): { pack: PackFile; offset: number; length: number } | undefined {
    const packs = this.loadPacks();
    if (packs.length === 0) return undefined;
    const raw = this.rawLookup;
    // Anything but 64 hex digits would leave the previous lookup's bytes in the scratch buffer.
    if (hash.length !== 64 || raw.write(hash, "hex") !== 32) return undefined;
    for (const pack of packs) {
      const hit = pack.find(raw);
      if (hit) return { pack, ...hit };
    }
    return undefined;
  }

  /**
   * Runs `read` on where `hash` is packed. When the pack file is gone (another process consolidated it
   * away after this store loaded its pack list), reloads the list and tries once more.
   */
  private readPacked<T>(
    hash: Hash,
    read: (p: { pack: PackFile; offset: number; length: number }) => T,
  ): T | undefined {
    const p = this.findPacked(hash);
    if (!p) return undefined;
    try {
      return read(p);
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw err;
      this.reload();
      const q = this.findPacked(hash);
      return q && read(q);
    }
  }

  has(hash: Hash): boolean {
    if (!isHash(hash)) return false;
    if (this.staged.has(hash)) return true;
    if (this.findPacked(hash)) return true;
    return this.fs.existsSync(this.loosePath(hash));
  }

  sizeOf(hash: Hash): number | undefined {
    const s = this.staged.get(hash);
    if (s) return s.length;
    const p = this.findPacked(hash);
    if (p) return p.length;
    try {
      return this.fs.statSync(this.loosePath(hash)).size;
    } catch {
      return undefined;
    }
  }

  putBuffer(data: Uint8Array): PutResult {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const hash = this.hashSmall(buf);
    if (this.isPackable(buf.length)) {
      if (this.isStagedOrPacked(hash)) return { hash, size: buf.length, written: false };
      // Copied into the staging buffer: the caller may reuse its own.
      const at = this.reserveStaging(buf.length);
      buf.copy(this.staging!, at);
      this.commitStaged(hash, at, buf.length);
      return { hash, size: buf.length, written: true };
    }
    if (this.has(hash)) return { hash, size: buf.length, written: false };
    this.writeLooseFromBuffer(hash, buf);
    return { hash, size: buf.length, written: true };
  }

  private isPackable(size: number): boolean {
    return !this.looseOnly && size < this.packThreshold;
  }

  /**
   * A packable object is looked up in staged/packs only: a stray loose copy of it (left by a link-mode
   * checkout) would at worst be duplicated, and skipping the stat() per object matters for 100k files.
   */
  private isStagedOrPacked(hash: Hash): boolean {
    return this.staged.has(hash) || this.findPacked(hash) !== undefined;
  }

  /** Makes room for `size` bytes at the end of the staging buffer (flushing it when full); returns where. */
  private reserveStaging(size: number): number {
    if (this.staging && this.stagingUsed + size > this.staging.length) this.flushSync();
    if (!this.staging || size > this.staging.length) {
      this.staging = Buffer.allocUnsafeSlow(Math.max(PACK_FLUSH_BYTES, size));
      this.stagingUsed = 0;
    }
    return this.stagingUsed;
  }

  private commitStaged(hash: Hash, offset: number, length: number): void {
    this.staged.set(hash, { offset, length });
    this.stagingUsed = offset + length;
  }

  /** A view of a staged object's bytes: valid only until the next flush, so use it at once. */
  private stagedView(hash: Hash): Buffer | undefined {
    const s = this.staged.get(hash);
    return s && this.staging!.subarray(s.offset, s.offset + s.length);
  }

  private writeLooseFromBuffer(hash: Hash, buf: Buffer): void {
    const tmp = tmpName(this.tmpDir, "obj");
    try {
      const fd = this.fs.openSync(tmp, "wx", 0o444);
      try {
        writeAll(this.fs, fd, buf);
        if (this.fsync) this.fs.fsyncSync(fd);
      } finally {
        this.fs.closeSync(fd);
      }
      this.moveIntoPlace(tmp, hash);
    } catch (err) {
      safeUnlink(tmp, this.fs);
      throw ioError(err, `storing object ${hash}`);
    }
  }

  private moveIntoPlace(tmp: string, hash: Hash): void {
    const dest = this.loosePath(hash);
    const dir = path.dirname(dest);
    this.fs.mkdirSync(dir, { recursive: true });
    // rename over an existing object would be harmless (same content), but never overwrite: keep the
    // first complete copy, as git and pnpm do.
    if (this.fs.existsSync(dest)) {
      safeUnlink(tmp, this.fs);
      return;
    }
    this.fs.renameSync(tmp, dest);
    if (this.fsync) fsyncDir(dir, this.fs);
  }

  /**
   * Stores a file. Small files are read whole (they are packed); large ones are copied to tmp/ by the
   * kernel (copy_file_range / reflink) while this thread hashes the source, so the wall time is close to
   * a plain `cp`. The source is stat'ed before and after: any change aborts without storing anything.
   */
  async putFile(
    file: string,
    options: { expect?: { size: number; mtimeMs: number; ino: number; ctimeMs?: number } } = {},
  ): Promise<PutResult> {
    const fs = this.fs;
    const exp = options.expect;
    if (exp?.ctimeMs !== undefined && !this.looseOnly && exp.size < this.packThreshold) {
      const put = this.putListedSmallFile(file, exp as StatKey);
      if (put) return put;
    }
    let before: nodeFs.Stats;
    try {
      before = fs.statSync(file);
    } catch (err) {
      throw ioError(err, `reading ${file}`);
    }
    // The caller hashed or listed the file earlier: a different stat now means it changed in between.
    if (exp && (exp.size !== before.size || exp.mtimeMs !== before.mtimeMs || exp.ino !== before.ino)) {
      throw fileChanged(file);
    }
    if (this.looseOnly || before.size >= this.packThreshold) return this.putLargeFile(file, before);
    let data: Buffer;
    let after: nodeFs.Stats;
    try {
      const fd = fs.openSync(file, "r");
      try {
        data = fs.readFileSync(fd);
        after = fs.fstatSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      throw ioError(err, `reading ${file}`);
    }
    if (!sameStat(before, after) || data.length !== before.size) throw fileChanged(file);
    return this.putBuffer(data);
  }

  /** Whether putFile packs a file of this size (so a caller may read such files itself, in batches). */
  packsSize(size: number): boolean {
    return this.isPackable(size);
  }

  /**
   * Stores the bytes of a small file the caller read itself (a batch read: up to one byte more than
   * listed), given the stat it took after reading. The same rules as putFile with `expect`: a file that
   * changed between the listing and the read is refused; undefined when only the ctime moved (then call
   * putFile, which reads it the careful way).
   */
  putReadSmallFile(file: string, listed: StatKey, bytes: Buffer, after: StatKey): PutResult | undefined {
    if (!readAsListed(file, listed, bytes.length, after)) return undefined;
    if (!this.isPackable(bytes.length)) return undefined;
    const hash = this.hashSmall(bytes);
    if (this.isStagedOrPacked(hash)) return { hash, size: bytes.length, written: false };
    const at = this.reserveStaging(bytes.length);
    bytes.copy(this.staging!, at);
    this.commitStaged(hash, at, bytes.length);
    return { hash, size: bytes.length, written: true };
  }

  /**
   * Stores a small file a directory walk has just stat'ed (`listed`), read straight into the staging
   * buffer: open, one read, fstat, close. The walk's stat stands in for the "before" stat, so a file
   * changed between the walk and the read, or during the read, shows a different stat afterwards. Adding
   * 100k small files is a matter of system calls per file; this makes two fewer than a fresh stat plus
   * readFileSync, and no buffer per file.
   *
   * Returns undefined when only the ctime moved since the walk: that is also what another hard link to
   * the file does (e.g. a `cp -al` of the same data running meanwhile), so the caller reads the file the
   * careful way (stat before and after the read) instead of failing.
   */
  private putListedSmallFile(file: string, listed: StatKey): PutResult | undefined {
    const fs = this.fs;
    // One byte more than expected: a file that grew since the walk reads long and is caught below.
    const at = this.reserveStaging(listed.size + 1);
    const buf = this.staging!;
    const end = at + listed.size + 1;
    let n = at;
    let after: nodeFs.Stats;
    try {
      const fd = fs.openSync(file, "r");
      try {
        for (;;) {
          const got = fs.readSync(fd, buf, n, end - n, n - at);
          if (got === 0) break;
          n += got;
          if (n === end) break;
        }
        after = fs.fstatSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      if (errnoCode(err) === "ENOENT") throw fileChanged(file);
      throw ioError(err, `reading ${file}`);
    }
    const size = n - at;
    if (!readAsListed(file, listed, size, after)) return undefined;
    const hash = this.hashSmall(buf.subarray(at, n));
    // Already stored: the bytes just read are simply overwritten by the next file.
    if (this.isStagedOrPacked(hash)) return { hash, size, written: false };
    this.commitStaged(hash, at, size);
    return { hash, size, written: true };
  }

  private async putLargeFile(file: string, before: nodeFs.Stats): Promise<PutResult> {
    const fs = this.fs;
    const tmp = tmpName(this.tmpDir, "obj");
    let hash: Hash;
    let size: number;
    try {
      const copying = fs.promises.copyFile(file, tmp, fs.constants.COPYFILE_FICLONE);
      // Attach the handler now: if hashing throws first, the copy's rejection must not go unhandled.
      copying.catch(() => undefined);
      try {
        const fd = fs.openSync(file, "r");
        try {
          ({ hash, size } = hashFd(fd, fs));
        } finally {
          fs.closeSync(fd);
        }
      } finally {
        await copying;
      }
      const after = fs.statSync(file);
      if (!sameStat(before, after) || size !== before.size || fs.statSync(tmp).size !== size) {
        throw fileChanged(file);
      }
      if (this.has(hash)) {
        safeUnlink(tmp, fs);
        return { hash, size, written: false };
      }
      fs.chmodSync(tmp, 0o444);
      if (this.fsync) {
        const fd = fs.openSync(tmp, "r");
        try {
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      }
      this.moveIntoPlace(tmp, hash);
    } catch (err) {
      safeUnlink(tmp, fs);
      if (err instanceof MtrackError) throw err;
      throw ioError(err, `storing ${file}`);
    }
    return { hash, size, written: true };
  }

  /**
   * Moves a file whose content the caller has already verified to be `hash` into the store by rename (no
   * copy, no second hash): for downloads hashed while they streamed in. `file` must be on the store's
   * filesystem (in tmpDir); it is consumed either way.
   */
  adoptVerifiedFile(file: string, hash: Hash): void {
    try {
      if (this.has(hash)) {
        safeUnlink(file, this.fs);
        return;
      }
      this.fs.chmodSync(file, 0o444);
      this.moveIntoPlace(file, hash);
    } catch (err) {
      safeUnlink(file, this.fs);
      throw ioError(err, `storing object ${hash}`);
    }
  }

  readObject(hash: Hash): Buffer {
    // A copy: the staging buffer is reused after the next flush, and the caller may keep what it reads.
    const s = this.stagedView(hash);
    if (s) return Buffer.from(s);
    const packed = this.readPacked(hash, (p) => p.pack.read(p.offset, p.length));
    if (packed) return packed;
    try {
      return this.fs.readFileSync(this.loosePath(hash));
    } catch (err) {
      if (errnoCode(err) === "ENOENT") throw missingObject(hash);
      throw ioError(err, `reading object ${hash}`);
    }
  }

  /**
   * Makes sure `hash` exists as a loose file (link modes need a real file to point at) and returns its
   * path. A packed object is copied out of its pack.
   */
  ensureLoose(hash: Hash): string {
    const loose = this.loosePath(hash);
    if (this.fs.existsSync(loose)) return loose;
    this.writeLooseFromBuffer(hash, this.readObject(hash));
    return loose;
  }

  materialize(hash: Hash, dest: string, options: { mode?: LinkMode; executable?: boolean } = {}): void {
    const fs = this.fs;
    // One store file serves every path with that content, so its mode bits cannot differ per path: an
    // executable file is always a copy (else making it executable would make its twins executable too).
    const mode = options.executable ? "copy" : (options.mode ?? "copy");
    const tmp = tmpName(path.dirname(dest), path.basename(dest));
    try {
      if (mode === "copy") {
        const packed = this.stagedView(hash) ?? this.packedBytes(hash);
        if (packed) {
          const fd = fs.openSync(tmp, "wx", options.executable ? 0o777 : 0o666);
          try {
            writeAll(fs, fd, packed);
          } finally {
            fs.closeSync(fd);
          }
        } else {
          const src = this.loosePath(hash);
          if (!fs.existsSync(src)) throw missingObject(hash);
          fs.copyFileSync(src, tmp, fs.constants.COPYFILE_FICLONE);
          // Store files are read-only; a workspace copy is the user's to edit.
          fs.chmodSync(tmp, options.executable ? 0o755 : 0o644);
        }
      } else {
        const src = this.ensureLoose(hash);
        if (mode === "hardlink") fs.linkSync(src, tmp);
        else fs.symlinkSync(src, tmp);
      }
      fs.renameSync(tmp, dest);
    } catch (err) {
      safeUnlink(tmp, fs);
      if (err instanceof MtrackError) throw err;
      throw ioError(err, `writing ${dest}`);
    }
  }

  /**
   * materialize() for a destination known not to exist (a fresh checkout): no temp file and rename, and
   * the new file's stat comes back from the open descriptor. Writing 100k small files, the directory
   * operations are the cost, so this halves them. An interrupted write can leave a partial file; its
   * content hash is not in the store, so status reports it and checkout replaces it.
   */
  materializeNew(
    hash: Hash,
    dest: string,
    options: { mode?: LinkMode; executable?: boolean } = {},
  ): { size: number; mtimeMs: number; ctimeMs: number; ino: number } {
    const fs = this.fs;
    const mode = options.executable ? "copy" : (options.mode ?? "copy");
    try {
      if (mode === "copy") {
        const packed = this.stagedView(hash) ?? this.packedBytes(hash);
        if (!packed) {
          this.materialize(hash, dest, options);
          return fs.statSync(dest);
        }
        const fd = fs.openSync(dest, "wx", options.executable ? 0o777 : 0o666);
        try {
          writeAll(fs, fd, packed);
          return fs.fstatSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      }
      if (mode === "symlink") {
        // A symlink to a missing file would be created without complaint: make sure the target exists.
        fs.symlinkSync(this.ensureLoose(hash), dest);
        return fs.statSync(dest);
      }
      try {
        fs.linkSync(this.loosePath(hash), dest);
      } catch (err) {
        if (errnoCode(err) !== "ENOENT") throw err;
        // Packed only (added while cache.type was copy): give it a loose file, then link.
        fs.linkSync(this.ensureLoose(hash), dest);
      }
      return fs.statSync(dest);
    } catch (err) {
      if (err instanceof MtrackError) throw err;
      if (errnoCode(err) === "ENOENT" && !this.has(hash)) throw missingObject(hash);
      throw ioError(err, `writing ${dest}`);
    }
  }

  /**
   * materializeNew in copy mode for many objects at once: packed and staged bytes are gathered into one
   * buffer and written by the native addon on a few threads (new files only, never over an existing one).
   * Whatever it cannot do (loose objects, large ones, any file the batch failed on, no addon) goes through
   * materializeNew, which also reports errors. Stat data of each written file, in order.
   */
  materializeNewMany(
    items: ReadonlyArray<{ hash: Hash; dest: string; executable?: boolean }>,
    mode: LinkMode = "copy",
  ): Array<{ size: number; mtimeMs: number; ctimeMs: number; ino: number }> {
    const native = isRealFs(this.fs) ? fastFs() : null;
    const out: Array<{ size: number; mtimeMs: number; ctimeMs: number; ino: number }> = new Array(
      items.length,
    );
    const one = (i: number) => {
      const it = items[i]!;
      out[i] = this.materializeNew(it.hash, it.dest, { mode, executable: it.executable });
    };
    const fromMeta = (meta: Float64Array, k: number) => {
      const m = k * WRITE_FIELDS;
      return {
        size: meta[m + W_SIZE]!,
        mtimeMs: meta[m + W_MTIME]!,
        ctimeMs: meta[m + W_CTIME]!,
        ino: meta[m + W_INO]!,
      };
    };
    if (!native || mode === "symlink") {
      for (let i = 0; i < items.length; i++) one(i);
      return out;
    }
    if (mode === "hardlink") {
      // Executable files are copies in every mode (a link would share the bit with the store's object).
      const linked = items.map((_, i) => i).filter((i) => !items[i]!.executable);
      for (let i = 0; i < items.length; i++) if (items[i]!.executable) one(i);
      for (let b = 0; b < linked.length; b += BATCH_WRITE_FILES) {
        const batch = linked.slice(b, b + BATCH_WRITE_FILES);
        const meta = native.linkFiles(
          batch.map((i) => this.loosePath(items[i]!.hash)),
          batch.map((i) => items[i]!.dest),
          walkThreads(),
        );
        // A failed link (e.g. an object only packed, which needs a loose copy first) takes the careful path.
        batch.forEach((i, k) => {
          if (meta[k * WRITE_FIELDS + W_ERRNO] !== 0) one(i);
          else out[i] = fromMeta(meta, k);
        });
      }
      return out;
    }
    let buf = Buffer.allocUnsafe(Math.min(BATCH_WRITE_BYTES, 1 << 20));
    const batch: number[] = [];
    const offsets: number[] = [];
    let used = 0;
    const flush = () => {
      if (batch.length === 0) return;
      const meta = native.writeFiles(
        batch.map((i) => items[i]!.dest),
        buf,
        Float64Array.from(offsets),
        Float64Array.from(batch, (_, k) => (k + 1 < offsets.length ? offsets[k + 1]! : used) - offsets[k]!),
        Uint32Array.from(batch, (i) => (items[i]!.executable ? 0o777 : 0o666)),
        walkThreads(),
      );
      batch.forEach((i, k) => {
        // A failed write takes the careful path, which reports it properly (or succeeds).
        if (meta[k * WRITE_FIELDS + W_ERRNO] !== 0) one(i);
        else out[i] = fromMeta(meta, k);
      });
      batch.length = 0;
      offsets.length = 0;
      used = 0;
    };
    const view = (i: number) => this.stagedView(items[i]!.hash) ?? this.packedBytes(items[i]!.hash);
    for (let i = 0; i < items.length; i++) {
      let bytes = view(i);
      if (!bytes || bytes.length > BATCH_WRITE_MAX_OBJECT) {
        one(i);
        continue;
      }
      if (used + bytes.length > buf.length) {
        if (used + bytes.length > BATCH_WRITE_BYTES) {
          flush();
          bytes = view(i)!; // a fallback inside flush may have moved the pack's read-ahead window
        }
        if (used + bytes.length > buf.length) {
          const bigger = Buffer.allocUnsafe(
            Math.min(BATCH_WRITE_BYTES, Math.max(buf.length * 2, used + bytes.length)),
          );
          buf.copy(bigger, 0, 0, used);
          buf = bigger;
        }
      }
      // The view is transient (the pack's read-ahead window): copy it now.
      bytes.copy(buf, used);
      batch.push(i);
      offsets.push(used);
      used += bytes.length;
      if (batch.length >= BATCH_WRITE_FILES) flush();
    }
    flush();
    return out;
  }

  /** A packed object's bytes, valid until the next read of its pack: write them out at once. */
  private packedBytes(hash: Hash): Buffer | undefined {
    return this.readPacked(hash, (p) => p.pack.readTransient(p.offset, p.length));
  }

  /** Writes staged small objects as one pack. */
  flushSync(): void {
    if (this.staged.size === 0) return;
    const staging = this.staging!;
    const objects = [...this.staged].map(([hash, s]) => ({
      raw: Buffer.from(hash, "hex"),
      data: staging.subarray(s.offset, s.offset + s.length),
    }));
    try {
      this.fs.mkdirSync(this.packsDir, { recursive: true });
      const id = writePack(this.fs, this.packsDir, objects, this.tmpDir);
      const pack = PackFile.open(this.fs, this.packsDir, id);
      this.loadPacks().push(pack);
      this.wrotePack = true;
      // Its bytes were hashed as they were staged: a push may send it whole without reading it again.
      markPacksVerified(this.dir, [pack], this.fs);
    } catch (err) {
      throw ioError(err, "writing a pack of small objects");
    }
    this.discardStaged();
  }

  /** Writes staged objects out (a pack) and lets go of the staging buffer until something is staged again. */
  async flush(): Promise<void> {
    this.flushSync();
    this.staging = undefined;
    if (this.wrotePack) {
      this.wrotePack = false;
      try {
        if (this.loadPacks().length > this.packLimit) await this.consolidate();
      } catch {
        // The flushed objects are durable already, and a failed consolidation leaves at worst duplicate
        // copies or a temp file that gc removes; the next flush tries again. Failing the caller's write
        // (a run being sealed) for it would lose more than it saves.
      }
    }
  }

  /**
   * Merges packs by the geometric policy (consolidate.ts) when there are more than the pack limit, or
   * whatever their number with `all`. Skips (returns undefined) when another process holds the pack lock,
   * or when there is nothing to merge. What was staged but not flushed is unaffected.
   *
   * @example
   * await store.consolidate({ all: true });
   */
  async consolidate(options: { all?: boolean } = {}): Promise<ConsolidationResult | undefined> {
    let release: () => void;
    try {
      release = await acquireLock(this.packLockPath, {
        fs: this.fs,
        timeoutMs: 0,
        purpose: "pack consolidation",
      });
    } catch (err) {
      if (err instanceof MtrackError && err.code === "ERR_MTRACK_LOCKED") return undefined;
      throw err;
    }
    try {
      return this.consolidateHeld(options);
    } finally {
      release();
    }
  }

  /**
   * consolidate() for a caller that already holds the pack lock (`packLockPath`), such as gc around its
   * own pack rewrites.
   */
  consolidateHeld(options: { all?: boolean } = {}): ConsolidationResult | undefined {
    const fs = this.fs;
    // Packs other processes wrote since this store loaded its list are candidates too.
    this.reload();
    const packs = this.loadPacks();
    const byId = new Map(packs.map((p) => [p.id, p]));
    const sizes: Array<{ id: string; bytes: number }> = [];
    const mtimes = new Map<string, number>();
    for (const p of packs) {
      try {
        const st = fs.statSync(p.packPath);
        sizes.push({ id: p.id, bytes: st.size });
        mtimes.set(p.id, st.mtimeMs);
      } catch {
        // gone since the listing: nothing to merge
      }
    }
    const chosen = planConsolidation(sizes, {
      limit: this.packLimit,
      factor: DEFAULT_MERGE_FACTOR,
      all: options.all,
    }).map((id) => byId.get(id)!);
    if (chosen.length < 2) return undefined;
    let newest = 0;
    for (const p of chosen) newest = Math.max(newest, mtimes.get(p.id) ?? 0);
    let merged: ReturnType<typeof mergePacks>;
    try {
      fs.mkdirSync(this.tmpDir, { recursive: true });
      merged = mergePacks(fs, this.packsDir, chosen, this.tmpDir);
    } catch (err) {
      throw ioError(err, "consolidating packs");
    }
    if (!merged) return undefined;
    // gc's keepNewerThanMs judges packed objects by their pack's mtime: the merged pack must look as young
    // as the youngest pack it absorbed, so nothing protected becomes unprotected.
    const newPack = path.join(this.packsDir, `pack-${merged.id}.pack`);
    try {
      fs.utimesSync(newPack, new Date(), new Date(newest));
    } catch {
      // best effort: a pack that looks newer only keeps objects longer
    }
    // mergePacks rehashed every object it copied.
    markPacksVerified(this.dir, [{ id: merged.id, packPath: newPack }], fs);
    const result: ConsolidationResult = {
      id: merged.id,
      merged: merged.merged.map((p) => p.id),
      skipped: merged.skipped,
      bytes: merged.bytes,
    };
    try {
      // Index first: a pack without an index is invisible, so every moment either sees the old copy or not.
      for (const p of merged.merged) {
        if (p.id === merged.id) continue;
        p.close();
        try {
          fs.unlinkSync(p.idxPath);
        } catch (err) {
          if (errnoCode(err) !== "ENOENT") throw err;
        }
        safeUnlink(p.packPath, fs);
      }
    } catch (err) {
      throw ioError(err, "removing consolidated packs");
    } finally {
      this.reload();
      this.onConsolidate?.(result);
    }
    return result;
  }

  /** Drops staged objects without writing them (used when a command fails half-way). */
  discardStaged(): void {
    this.staged.clear();
    this.stagingUsed = 0;
  }

  /**
   * Every stored copy: an object can be both packed and loose (a link-mode checkout copies packed objects
   * out), and fsck must check each copy. Consumers that count objects dedupe by hash.
   */
  *list(): Iterable<ObjectInfo> {
    const seen = new Set<Hash>();
    for (const pack of this.loadPacks()) {
      for (const e of pack.entries()) {
        if (seen.has(e.hash)) continue;
        seen.add(e.hash);
        yield { hash: e.hash, size: e.length, location: "packed" };
      }
    }
    seen.clear();
    let prefixes: string[] = [];
    try {
      prefixes = this.fs.readdirSync(this.objectsDir);
    } catch {
      prefixes = [];
    }
    for (const pre of prefixes.sort()) {
      if (!/^[0-9a-f]{2}$/.test(pre)) continue;
      for (const rest of this.fs.readdirSync(path.join(this.objectsDir, pre)).sort()) {
        const hash = pre + rest;
        if (!isHash(hash) || seen.has(hash)) continue;
        seen.add(hash);
        yield { hash, size: this.fs.statSync(path.join(this.objectsDir, pre, rest)).size, location: "loose" };
      }
    }
  }

  /** Every loaded pack (for fsck and gc). */
  packFiles(): readonly PackFile[] {
    return this.loadPacks();
  }

  /**
   * Recomputes an object's hash from its stored bytes: "ok", "corrupt" (content does not match its name)
   * or "missing". `location` checks one copy (default: the packed one when there is one).
   */
  verify(hash: Hash, location?: "loose" | "packed"): "ok" | "corrupt" | "missing" {
    if (location !== "loose" && this.findPacked(hash)) {
      try {
        const bytes = this.readPacked(hash, (p) => p.pack.read(p.offset, p.length));
        if (bytes) return hashBytes(bytes) === hash ? "ok" : "corrupt";
      } catch {
        return "corrupt";
      }
    }
    if (location === "packed") return "missing";
    const loose = this.loosePath(hash);
    let fd: number;
    try {
      fd = this.fs.openSync(loose, "r");
    } catch {
      return "missing";
    }
    try {
      return hashFd(fd, this.fs).hash === hash ? "ok" : "corrupt";
    } finally {
      this.fs.closeSync(fd);
    }
  }

  /**
   * Removes objects. Loose ones are unlinked; a pack holding any of them is rewritten without them
   * (new pack written first, then the old index and pack removed, so survivors are never invisible).
   * Returns the number of objects and bytes removed.
   */
  delete(hashes: ReadonlySet<Hash>): { objects: number; bytes: number } {
    let objects = 0;
    let bytes = 0;
    const fs = this.fs;
    const kept: PackFile[] = [];
    for (const pack of this.loadPacks()) {
      const entries = [...pack.entries()];
      const dead = entries.filter((e) => hashes.has(e.hash));
      if (dead.length === 0) {
        kept.push(pack);
        continue;
      }
      const alive = entries.filter((e) => !hashes.has(e.hash));
      if (alive.length > 0) {
        const id = writePack(
          fs,
          this.packsDir,
          alive.map((e) => ({ raw: Buffer.from(e.hash, "hex"), data: pack.read(e.offset, e.length) })),
          this.tmpDir,
        );
        kept.push(PackFile.open(fs, this.packsDir, id));
      }
      pack.close();
      safeUnlink(pack.idxPath, fs);
      safeUnlink(pack.packPath, fs);
      objects += dead.length;
      for (const d of dead) bytes += d.length;
    }
    this.packs = kept;
    for (const hash of hashes) {
      const loose = this.loosePath(hash);
      try {
        const st = fs.statSync(loose);
        fs.unlinkSync(loose);
        objects++;
        bytes += st.size;
      } catch {
        // not loose
      }
    }
    return { objects, bytes };
  }

  /** Leftovers of interrupted writes: packs without an index, and files in tmp/. */
  leftovers(): string[] {
    const out = listPackIds(this.fs, this.packsDir).orphans.map((id) =>
      path.join(this.packsDir, `pack-${id}.pack`),
    );
    const tmpFilesIn = (dir: string, keep: (name: string) => boolean) => {
      try {
        for (const n of this.fs.readdirSync(dir)) if (keep(n)) out.push(path.join(dir, n));
      } catch {
        // directory not created yet
      }
    };
    tmpFilesIn(this.tmpDir, () => true);
    // Older versions wrote pack temp files beside the packs.
    tmpFilesIn(this.packsDir, (n) => n.startsWith(".") && n.endsWith(".tmp"));
    return out;
  }

  close(): void {
    for (const p of this.packs ?? []) p.close();
  }
}

/**
 * The error for bytes that do not match the object they are stored or sent as (a backend's refusal of a
 * damaged upload); `file` is where they were read.
 *
 * @example
 * throw corruptObject(hash, ".mtrack/cache/objects/ab/cd...");
 */
export function corruptObject(hash: Hash, file?: string): MtrackError {
  return new MtrackError(
    "ERR_MTRACK_OBJECT_CORRUPT",
    `Object ${hash.slice(0, 12)}${file ? ` (${file})` : ""} does not match its hash.`,
    {
      hint: "Run `mtrack fsck` to find the damaged objects, then re-add the data from its source or pull a good copy.",
      data: { hash, path: file },
    },
  );
}

/** True for ERR_MTRACK_OBJECT_CORRUPT. */
export function isCorruptError(err: unknown): boolean {
  return err instanceof MtrackError && err.code === "ERR_MTRACK_OBJECT_CORRUPT";
}

export function missingObject(hash: Hash, forPath?: string): MtrackError {
  return new MtrackError(
    "ERR_MTRACK_OBJECT_MISSING",
    `Object ${hash.slice(0, 12)}${forPath ? ` (for ${forPath})` : ""} is not in the local store.`,
    {
      hint: "Fetch it from a remote (`mtrack pull`), or re-add the data where it was created.",
      data: { hash, path: forPath },
    },
  );
}
