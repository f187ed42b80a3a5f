/**
 * A small file-backed ObjectStore for tracking tests: objects are addressed by SHA-256 (the real store
 * uses BLAKE3; tracking does not care), buffers are staged in memory until flush() like the real store's
 * small objects, and several processes can share one store directory.
 */

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Hash, ObjectInfo, ObjectStore, PutResult } from "../../../src/store/types.js";

export class FakeStore implements ObjectStore {
  readonly root: string;
  readonly staged = new Map<Hash, Buffer>();
  flushes = 0;

  constructor(root: string) {
    this.root = root;
    fs.mkdirSync(root, { recursive: true });
  }

  #file(hash: Hash): string {
    return path.join(this.root, hash);
  }

  has(hash: Hash): boolean {
    return this.staged.has(hash) || fs.existsSync(this.#file(hash));
  }

  sizeOf(hash: Hash): number | undefined {
    return this.has(hash) ? this.readObject(hash).length : undefined;
  }

  putBuffer(data: Uint8Array): PutResult {
    const hash = crypto.createHash("sha256").update(data).digest("hex");
    const written = !this.has(hash);
    if (written) this.staged.set(hash, Buffer.from(data));
    return { hash, size: data.length, written };
  }

  async putFile(file: string): Promise<PutResult> {
    const data = fs.readFileSync(file);
    const hash = crypto.createHash("sha256").update(data).digest("hex");
    const written = !fs.existsSync(this.#file(hash));
    if (written) fs.writeFileSync(this.#file(hash), data);
    return { hash, size: data.length, written };
  }

  readObject(hash: Hash): Buffer {
    const staged = this.staged.get(hash);
    if (staged !== undefined) return staged;
    return fs.readFileSync(this.#file(hash));
  }

  materialize(hash: Hash, dest: string): void {
    fs.writeFileSync(dest, this.readObject(hash));
  }

  async flush(): Promise<void> {
    this.flushes++;
    for (const [hash, data] of this.staged) fs.writeFileSync(this.#file(hash), data);
    this.staged.clear();
  }

  *list(): Iterable<ObjectInfo> {
    for (const hash of fs.readdirSync(this.root))
      yield { hash, size: this.sizeOf(hash) ?? 0, location: "loose" };
  }
}

/** A git provider for tests. */
export const fakeGit = async () => ({ commit: "c0ffee".padEnd(40, "0"), branch: "main", dirty: true });
