/**
 * A remote that is a directory (local disk, NFS): an mtrack store layout (`objects/`, `packs/`) plus
 * `refs/<kind>/<id>`. Pushing into it is storing into a Store, so every visibility rule of the store
 * holds: loose objects are renamed into place, a pack is visible once its index is renamed in, and two
 * clients pushing at once write distinct packs. `mtrack server` serves the same layout through this class.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { errnoCode, ioError } from "../errors.js";
import { listPackIds } from "../store/pack.js";
import { Store } from "../store/store.js";
import type { Hash } from "../store/types.js";
import { type FsLike, writeFileAtomic } from "../util/fs.js";
import { remoteError } from "./errors.js";
import { checkRefName, isRefKind, isRefName } from "./names.js";
import { addPack, type PackedLocation, readPacked } from "./pack-map.js";
import { type ObjectData, type ObjectSpec, type Remote, SMALL_OBJECT_LIMIT } from "./types.js";

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
  /** The packed objects, rebuilt when the set of packs on disk changes (another process pushed). */
  private packed: { key: string; map: Map<Hash, PackedLocation> } | undefined;

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

  /** The packed objects as of now (other processes may have pushed since the last call). */
  private packedMap(): Map<Hash, PackedLocation> {
    const key = listPackIds(this.fs, this.store.packsDir).complete.join(",");
    if (this.packed?.key !== key) {
      this.store.reload();
      const map = new Map<Hash, PackedLocation>();
      for (const pack of this.store.packFiles()) addPack(map, pack);
      this.packed = { key, map };
    }
    return this.packed.map;
  }

  async has(objects: readonly ObjectSpec[]): Promise<Set<Hash>> {
    const packed = this.packedMap();
    const out = new Set<Hash>();
    for (const o of objects) {
      if (packed.has(o.hash) || this.fs.existsSync(this.store.loosePath(o.hash))) out.add(o.hash);
    }
    return out;
  }

  async putBatch(objects: readonly ObjectData[]): Promise<void> {
    try {
      for (const o of objects) this.store.putBuffer(o.data);
      this.store.flushSync();
    } catch (err) {
      this.store.discardStaged();
      throw ioError(err, `writing to the remote ${this.dir}`);
    }
  }

  async putFile(_object: ObjectSpec, file: string): Promise<void> {
    await this.store.putFile(file);
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

  /** Size of an object on this remote, or undefined (for the server's batch answers). */
  sizeOf(hash: Hash): number | undefined {
    const at = this.packedMap().get(hash);
    if (at) return at.length;
    try {
      return this.fs.statSync(this.store.loosePath(hash)).size;
    } catch {
      return undefined;
    }
  }

  /** The bytes of a present object (small ones: the server's batch answers). */
  read(hash: Hash): Buffer {
    const at = this.packedMap().get(hash);
    return at ? at.pack.read(at.offset, at.length) : this.store.readObject(hash);
  }

  async open(hash: Hash): Promise<Readable | undefined> {
    const loose = this.store.loosePath(hash);
    if (this.fs.existsSync(loose)) return this.fs.createReadStream(loose);
    const at = this.packedMap().get(hash);
    return at ? Readable.from([at.pack.read(at.offset, at.length)]) : undefined;
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

  async close(): Promise<void> {
    this.store.close();
  }
}
