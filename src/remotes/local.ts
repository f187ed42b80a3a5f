/**
 * A remote that is a directory (local disk, NFS): an mtrack store layout (`objects/`, `packs/`) plus
 * `refs/<kind>/<id>`. Pushing into it is storing into a Store, so every visibility rule of the store
 * holds: loose objects are renamed into place, a pack is visible once its index is renamed in, and two
 * clients pushing at once write distinct packs. What arrives is trusted to match its hash (it comes from a
 * store, or the server has checked it): whoever reads it back verifies it before storing. `mtrack server` serves the same layout through this class.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import { hashFileSync } from "../store/hash.js";
import { isPackId, listPackIds, PackFile, writePack } from "../store/pack.js";
import { corruptObject, Store } from "../store/store.js";
import type { Hash } from "../store/types.js";
import { type FsLike, fsyncDir, safeUnlink, tmpName, writeFileAtomic } from "../util/fs.js";
import {
  type CollectOptions,
  type CollectResult,
  type LeftoverInfo,
  type LooseInfo,
  type PackInfo,
  planCollect,
  type RemoteInventory,
} from "./collect.js";
import { remoteError } from "./errors.js";
import { looseObjects } from "./loose.js";
import { checkRefName, isRefKind, isRefName } from "./names.js";
import { addPack, type PackedLocation, packListing, readPacked } from "./pack-map.js";
import {
  type ObjectData,
  type ObjectSpec,
  type PackContents,
  type PackSource,
  type Remote,
  SMALL_OBJECT_LIMIT,
} from "./types.js";

/** Options of LocalRemote.open. */
export interface LocalRemoteOptions {
  /** The remote directory. */
  dir: string;
  fs?: FsLike;
  /** Create the directory when missing (the server's own store); a pushed-to remote must exist. */
  create?: boolean;
}

/**
 * The directory backend.
 *
 * @example
 * const remote = LocalRemote.open({ dir: "/mnt/share/mtrack" });
 * await remote.has([{ hash, size }]);
 */
export class LocalRemote implements Remote {
  readonly url: string;
  readonly store: Store;
  private readonly dir: string;
  private readonly fs: FsLike;
  /** Open packs by id (undefined: an index that would not load, whose objects count as absent). */
  private readonly packs = new Map<string, PackFile | undefined>();
  /** Every object of `packs`, kept up to date as packs appear (see packedMap). */
  private packed = new Map<Hash, PackedLocation>();

  private constructor(dir: string, fs: FsLike) {
    this.dir = dir;
    this.fs = fs;
    this.url = dir;
    // looseOnly off and the remote's own threshold: batches land in packs, large files loose.
    this.store = new Store({ dir, tmpDir: path.join(dir, "tmp"), fs, packThreshold: SMALL_OBJECT_LIMIT });
  }

  /** Opens the remote directory; throws ERR_MTRACK_PATH_NOT_FOUND when it does not exist (unless create). */
  static open(options: LocalRemoteOptions): LocalRemote {
    const fs = options.fs ?? nodeFs;
    const dir = path.resolve(options.dir);
    if (options.create) fs.mkdirSync(dir, { recursive: true });
    else if (!fs.existsSync(dir)) {
      throw remoteError("not-found", `Remote directory ${dir} does not exist.`, { url: dir });
    }
    const remote = new LocalRemote(dir, fs);
    try {
      remote.store.init();
    } catch (err) {
      throw ioError(err, `preparing the remote directory ${dir}`);
    }
    return remote;
  }

  private loadPack(id: string): void {
    let pack: PackFile | undefined;
    try {
      pack = PackFile.open(this.fs, this.store.packsDir, id);
      addPack(this.packed, pack);
    } catch {
      // A damaged index hides only its own objects (they count as absent and get pushed again); fsck
      // on the remote reports it.
      pack = undefined;
    }
    this.packs.set(id, pack);
  }

  /**
   * The packed objects as of now. Other processes may push at any time, so the pack list is read on
   * every call; only packs not seen before are loaded (a push adds one pack per batch, and rebuilding a
   * 100k-entry map per batch would cost more than the batch). A pack that disappeared (gc) rebuilds it.
   */
  private packedMap(): Map<Hash, PackedLocation> {
    const ids = listPackIds(this.fs, this.store.packsDir).complete;
    const now = new Set(ids);
    if ([...this.packs.keys()].some((id) => !now.has(id))) {
      for (const p of this.packs.values()) p?.close();
      this.packs.clear();
      this.packed = new Map();
    }
    let added = false;
    for (const id of ids) {
      if (this.packs.has(id)) continue;
      this.loadPack(id);
      added = true;
    }
    // The store keeps its own pack list (readObject, adoptVerifiedFile): let it see the new packs too.
    if (added) this.store.reload();
    return this.packed;
  }

  /**
   * Where a packed object is: the map as last read, and only on a miss a fresh look at the pack list.
   * The server asks this for every object of a batch, and a directory listing per object was most of
   * the cost of serving 100k small objects; a pack pushed since is still found (the miss rereads).
   */
  private locate(hash: Hash): PackedLocation | undefined {
    return this.packed.get(hash) ?? this.packedMap().get(hash);
  }

  async has(objects: readonly ObjectSpec[]): Promise<Set<Hash>> {
    // Objects of SMALL_OBJECT_LIMIT and more only ever arrive loose (batches and whole packs carry small
    // ones only), so asking about one big file does not load the index of every pack. A size below the
    // limit (the server passes 0: unknown) is looked up in both places.
    const large: Hash[] = [];
    const small: Hash[] = [];
    for (const o of objects) (o.size >= SMALL_OBJECT_LIMIT ? large : small).push(o.hash);
    const out = looseObjects(this.fs, this.store.objectsDir, large);
    if (small.length === 0) return out;
    const packed = this.packedMap();
    const rest: Hash[] = [];
    for (const h of small) {
      if (packed.has(h)) out.add(h);
      else rest.push(h);
    }
    for (const h of looseObjects(this.fs, this.store.objectsDir, rest)) out.add(h);
    return out;
  }

  /**
   * Writes the objects the remote lacks as one pack under the hashes given: the caller vouches for them
   * (they come from a store, or the server has just hashed them), so they are not hashed again here.
   */
  async putBatch(objects: readonly ObjectData[]): Promise<void> {
    const packed = this.packedMap();
    const seen = new Set<Hash>();
    const fresh: Array<{ raw: Buffer; data: Uint8Array }> = [];
    for (const o of objects) {
      if (packed.has(o.hash) || seen.has(o.hash)) continue;
      seen.add(o.hash);
      fresh.push({ raw: Buffer.from(o.hash, "hex"), data: o.data });
    }
    if (fresh.length === 0) return;
    let id: string;
    try {
      id = writePack(this.fs, this.store.packsDir, fresh, this.store.tmpDir);
    } catch (err) {
      throw ioError(err, `writing to the remote ${this.dir}`);
    }
    if (!this.packs.has(id)) this.loadPack(id);
  }

  /**
   * Copies a whole local pack in: data, then index, each through a temp file and rename (the kernel
   * copies, reflinking where the filesystem can), both synced like a pack the store writes itself.
   */
  async putPack(pack: PackSource): Promise<void> {
    const packsDir = this.store.packsDir;
    if (this.fs.existsSync(path.join(packsDir, `pack-${pack.id}.idx`))) return;
    const copyIn = async (from: string, to: string) => {
      const tmp = tmpName(this.store.tmpDir, "pack");
      try {
        await this.fs.promises.copyFile(from, tmp, this.fs.constants.COPYFILE_FICLONE);
        const fd = this.fs.openSync(tmp, "r");
        try {
          this.fs.fsyncSync(fd);
        } finally {
          this.fs.closeSync(fd);
        }
        this.fs.renameSync(tmp, to);
      } catch (err) {
        safeUnlink(tmp, this.fs);
        throw ioError(err, `copying pack ${pack.id} to the remote ${this.dir}`);
      }
    };
    await copyIn(pack.packPath, path.join(packsDir, `pack-${pack.id}.pack`));
    await copyIn(pack.idxPath, path.join(packsDir, `pack-${pack.id}.idx`));
    fsyncDir(packsDir, this.fs);
    this.loadPack(pack.id);
  }

  /**
   * Copies a store object in by the kernel (copy_file_range, or a reflink) and renames it into place. The
   * source is hashed while the kernel copies it (both from the page cache, on two threads: the wall time
   * is about the longer of the two, not their sum); the copy is renamed in only when the hash matches and
   * the source did not change meanwhile (same size, mtime, ctime and inode before and after).
   */
  async putFile(object: ObjectSpec, file: string, onBytes?: (bytes: number) => void): Promise<void> {
    const tmp = tmpName(this.store.tmpDir, "put");
    try {
      const before = this.fs.statSync(file);
      const copied = this.fs.promises.copyFile(file, tmp, this.fs.constants.COPYFILE_FICLONE);
      let hash: Hash | undefined;
      try {
        hash = hashFileSync(file, this.fs).hash;
      } finally {
        await copied;
      }
      const after = this.fs.statSync(file);
      const size = this.fs.statSync(tmp).size;
      const same =
        before.size === after.size &&
        before.mtimeMs === after.mtimeMs &&
        before.ctimeMs === after.ctimeMs &&
        before.ino === after.ino;
      if (!same || size !== object.size || hash !== object.hash) throw corruptObject(object.hash, file);
    } catch (err) {
      safeUnlink(tmp, this.fs);
      if (err instanceof MtrackError) throw err;
      throw ioError(err, `copying ${object.hash} to the remote ${this.dir}`);
    }
    this.store.adoptVerifiedFile(tmp, object.hash);
    onBytes?.(object.size);
  }

  /** Hashes every copy (packed and loose) of the objects here; those with a bad copy. */
  async verify(objects: readonly ObjectSpec[]): Promise<Set<Hash>> {
    this.packedMap();
    const out = new Set<Hash>();
    for (const { hash } of objects) {
      if (this.store.verify(hash, "packed") === "corrupt" || this.store.verify(hash, "loose") === "corrupt")
        out.add(hash);
    }
    return out;
  }

  /**
   * Removes every copy of the objects that has a damaged one (packs holding them are rewritten without
   * them, survivors first: Store.delete); good objects are left alone, whoever asks.
   */
  async dropObjects(hashes: readonly Hash[]): Promise<void> {
    const bad = await this.verify(hashes.map((hash) => ({ hash, size: 0 })));
    if (bad.size === 0) return;
    try {
      this.store.delete(bad);
    } catch (err) {
      throw ioError(err, `removing damaged objects from the remote ${this.dir}`);
    }
    this.packedMap();
  }

  async getBatch(
    hashes: readonly Hash[],
    onObject: (o: ObjectData) => void | Promise<void>,
  ): Promise<Hash[]> {
    const packed = this.packedMap();
    const rest: Hash[] = [];
    const found: Array<{ hash: Hash; at: PackedLocation }> = [];
    for (const hash of hashes) {
      const at = packed.get(hash);
      if (!at || at.length >= SMALL_OBJECT_LIMIT) rest.push(hash);
      else found.push({ hash, at });
    }
    for (const o of readPacked(found)) await onObject(o);
    return rest;
  }

  /** The ids of the complete packs here (those with an index), for the server's pack listing. */
  packIds(): string[] {
    return listPackIds(this.fs, this.store.packsDir).complete;
  }

  /** The path of one of a pack's two files (the id checked: nothing outside packs/ can be named). */
  packFilePath(id: string, ext: "pack" | "idx"): string | undefined {
    return isPackId(id) ? path.join(this.store.packsDir, `pack-${id}.${ext}`) : undefined;
  }

  async packList(): Promise<PackContents[]> {
    return packListing(this.packedMap());
  }

  /** A kernel copy of the pack's data (a reflink where the filesystem can), then its index's bytes. */
  async copyPack(id: string, dest: string): Promise<Buffer | undefined> {
    const idxPath = this.packFilePath(id, "idx");
    const packPath = this.packFilePath(id, "pack");
    if (!idxPath || !packPath) return undefined;
    const { COPYFILE_EXCL, COPYFILE_FICLONE } = this.fs.constants;
    try {
      const idx = this.fs.readFileSync(idxPath);
      await this.fs.promises.copyFile(packPath, dest, COPYFILE_EXCL | COPYFILE_FICLONE);
      return idx;
    } catch (err) {
      if (errnoCode(err) === "ENOENT" && !this.fs.existsSync(dest)) return undefined;
      throw ioError(err, `copying pack ${id} from the remote ${this.dir}`);
    }
  }

  /** Size of an object on this remote, or undefined (for the server's batch answers). */
  sizeOf(hash: Hash): number | undefined {
    const at = this.locate(hash);
    if (at) return at.length;
    try {
      return this.fs.statSync(this.store.loosePath(hash)).size;
    } catch {
      return undefined;
    }
  }

  /** The bytes of a present object (small ones: the server's batch answers). */
  read(hash: Hash): Buffer {
    const at = this.locate(hash);
    return at ? at.pack.read(at.offset, at.length) : this.store.readObject(hash);
  }

  async open(hash: Hash): Promise<Readable | undefined> {
    const loose = this.store.loosePath(hash);
    if (this.fs.existsSync(loose)) return this.fs.createReadStream(loose);
    const at = this.locate(hash);
    return at ? Readable.from([at.pack.read(at.offset, at.length)]) : undefined;
  }

  async copyTo(hash: Hash, dest: string): Promise<boolean> {
    const loose = this.store.loosePath(hash);
    const { COPYFILE_EXCL, COPYFILE_FICLONE } = this.fs.constants;
    try {
      await this.fs.promises.copyFile(loose, dest, COPYFILE_EXCL | COPYFILE_FICLONE);
      return true;
    } catch (err) {
      if (errnoCode(err) !== "ENOENT" || this.fs.existsSync(dest)) throw err;
    }
    const at = this.locate(hash);
    if (!at) return false;
    this.fs.writeFileSync(dest, at.pack.read(at.offset, at.length), { flag: "wx" });
    return true;
  }

  private refFile(name: string): string {
    checkRefName(name);
    return path.join(this.dir, "refs", ...name.split("/"));
  }

  async readRef(name: string): Promise<Buffer | undefined> {
    const file = this.refFile(name);
    try {
      return this.fs.readFileSync(file);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return undefined;
      throw ioError(err, `reading ${file}`);
    }
  }

  async writeRef(name: string, data: Buffer): Promise<void> {
    const file = this.refFile(name);
    try {
      this.fs.mkdirSync(path.dirname(file), { recursive: true });
      writeFileAtomic(file, data, { fs: this.fs });
    } catch (err) {
      throw ioError(err, `writing ${file}`);
    }
  }

  async listRefs(kind: string): Promise<string[]> {
    if (!isRefKind(kind)) return [];
    let names: string[];
    try {
      names = this.fs.readdirSync(path.join(this.dir, "refs", kind));
    } catch {
      return [];
    }
    return names
      .map((n) => `${kind}/${n}`)
      .filter(isRefName)
      .sort();
  }

  /**
   * What the directory holds, with modification times: complete packs (a pack whose index will not load
   * is left out, so it is never touched), loose objects, and leftovers of interrupted writes.
   */
  private inventory(): { inventory: RemoteInventory; open: PackFile[] } {
    const fs = this.fs;
    const packsDir = this.store.packsDir;
    const mtime = (file: string) => fs.statSync(file).mtimeMs;
    const packs: PackInfo[] = [];
    const open: PackFile[] = [];
    for (const id of listPackIds(fs, packsDir).complete) {
      try {
        const pack = PackFile.open(fs, packsDir, id);
        open.push(pack);
        const st = fs.statSync(pack.packPath);
        packs.push({
          id,
          mtimeMs: Math.max(st.mtimeMs, mtime(pack.idxPath)),
          entries: [...pack.entries()],
          bytes: st.size,
        });
      } catch {
        // A damaged or vanished index: its objects cannot be seen, so nothing of it is deleted.
      }
    }
    const loose: LooseInfo[] = [];
    let prefixes: string[] = [];
    try {
      prefixes = fs.readdirSync(this.store.objectsDir);
    } catch {
      prefixes = [];
    }
    for (const pre of prefixes) {
      if (!/^[0-9a-f]{2}$/.test(pre)) continue;
      let names: string[];
      try {
        names = fs.readdirSync(path.join(this.store.objectsDir, pre));
      } catch {
        continue;
      }
      for (const rest of names) {
        const hash = pre + rest;
        if (!/^[0-9a-f]{64}$/.test(hash)) continue;
        try {
          const st = fs.statSync(path.join(this.store.objectsDir, pre, rest));
          loose.push({ hash, size: st.size, mtimeMs: st.mtimeMs });
        } catch {
          // deleted meanwhile
        }
      }
    }
    // The same leftovers the local gc finds in a store: packs without an index, temp files.
    const leftovers: LeftoverInfo[] = [];
    for (const file of this.store.leftovers()) {
      try {
        const st = fs.statSync(file);
        leftovers.push({ name: file, size: st.size, mtimeMs: st.mtimeMs });
      } catch {
        // gone meanwhile
      }
    }
    return { inventory: { packs, loose, leftovers }, open };
  }

  /**
   * Collection on the directory (collect.ts has the rules). Synchronous from the listing to the last
   * deletion, so inside `mtrack server` no request of this process interleaves with it.
   */
  async collect(keep: ReadonlySet<Hash>, options: CollectOptions): Promise<CollectResult> {
    const fs = this.fs;
    const packsDir = this.store.packsDir;
    const { inventory, open } = this.inventory();
    try {
      const plan = planCollect(inventory, keep, options, Date.now());
      if (options.dryRun) return plan.result;
      const byId = new Map(open.map((p) => [p.id, p]));
      // Only "already gone" is ignored: a pack's data must never go when its index could not.
      const unlink = (file: string) => {
        try {
          fs.unlinkSync(file);
        } catch (err) {
          if (errnoCode(err) !== "ENOENT") throw err;
        }
      };
      const drop = (pack: PackInfo) => {
        unlink(path.join(packsDir, `pack-${pack.id}.idx`));
        unlink(path.join(packsDir, `pack-${pack.id}.pack`));
      };
      try {
        for (const { pack, survivors } of plan.rewrite) {
          const old = byId.get(pack.id)!;
          const objects = [...survivors]
            .sort((a, b) => a.offset - b.offset)
            .map((e) => ({ raw: Buffer.from(e.hash, "hex"), data: old.read(e.offset, e.length) }));
          writePack(fs, packsDir, objects, this.store.tmpDir);
          drop(pack);
        }
        for (const pack of plan.deletePacks) drop(pack);
        for (const o of plan.deleteLoose) unlink(this.store.loosePath(o.hash));
        for (const l of plan.deleteLeftovers) fs.rmSync(l.name, { force: true, recursive: true });
        fsyncDir(packsDir, fs);
      } catch (err) {
        throw ioError(err, `collecting garbage on the remote ${this.dir}`);
      }
      return plan.result;
    } finally {
      for (const p of open) p.close();
      // Forget the packs that went (packedMap rebuilds when one disappeared).
      this.packedMap();
    }
  }

  async close(): Promise<void> {
    for (const p of this.packs.values()) p?.close();
    this.packs.clear();
    this.store.close();
  }
}
