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
import { Store } from "../store/store.js";
import type { Hash } from "../store/types.js";
import { type FsLike, writeFileAtomic } from "../util/fs.js";
import { remoteError } from "./errors.js";
import { checkRefName, isRefKind, isRefName } from "./names.js";
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

  async has(objects: readonly ObjectSpec[]): Promise<Set<Hash>> {
    // Other processes may have pushed since this instance loaded the pack indexes.
    this.store.reload();
    const out = new Set<Hash>();
    for (const o of objects) if (this.store.has(o.hash)) out.add(o.hash);
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
    this.store.reload();
    const rest: Hash[] = [];
    for (const hash of hashes) {
      const size = this.store.sizeOf(hash);
      if (size === undefined || size >= SMALL_OBJECT_LIMIT) {
        rest.push(hash);
        continue;
      }
      await onObject({ hash, data: this.store.readObject(hash) });
    }
    return rest;
  }

  async open(hash: Hash): Promise<Readable | undefined> {
    const loose = this.store.loosePath(hash);
    if (this.fs.existsSync(loose)) return this.fs.createReadStream(loose);
    this.store.reload();
    if (!this.store.has(hash)) return undefined;
    return Readable.from([this.store.readObject(hash)]);
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
