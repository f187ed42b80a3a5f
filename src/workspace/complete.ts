/**
 * Directory hashes known to be fully present in the store (manifest and every file), so `status` on a
 * 100k-file directory does not look up 100k objects each time. Recorded by add/commit/checkout/fetch,
 * cleared by gc. Like the stat cache it is only a cache: deleting it costs one full check.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import type { Hash } from "../store/types.js";
import { type FsLike, writeFileAtomic } from "../util/fs.js";

export class CompleteTrees {
  private constructor(
    private readonly file: string,
    private readonly set: Set<Hash>,
    private readonly fs: FsLike,
  ) {}

  static load(stateDir: string, fs: FsLike = nodeFs): CompleteTrees {
    const file = path.join(stateDir, "complete-trees");
    let set = new Set<Hash>();
    try {
      set = new Set(fs.readFileSync(file, "utf8").split("\n").filter(Boolean));
    } catch {
      // none recorded yet
    }
    return new CompleteTrees(file, set, fs);
  }

  has(hash: Hash): boolean {
    return this.set.has(hash);
  }

  add(hash: Hash): void {
    if (this.set.has(hash)) return;
    this.set.add(hash);
    this.save();
  }

  /** Forgets everything (after objects were deleted). */
  clear(): void {
    this.set.clear();
    this.save();
  }

  private save(): void {
    try {
      writeFileAtomic(this.file, [...this.set].join("\n"), { fs: this.fs });
    } catch {
      // a cache that cannot be saved only costs speed
    }
  }
}
