/**
 * Small fixtures for remote tests: a store in a temp dir filled with known objects.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Store } from "../../../src/store/store.js";
import { encodeTree, type TreeEntry } from "../../../src/store/tree.js";
import type { TransferRoot } from "../../../src/transfer/select.js";

/** A fresh local store under `dir`. */
export function makeStore(dir: string): Store {
  const store = new Store({ dir: path.join(dir, "cache"), tmpDir: path.join(dir, "tmp") });
  store.init();
  return store;
}

/**
 * Stores `count` small distinct files as one directory manifest plus one large file; returns the roots
 * a push would use.
 */
export async function fillStore(
  store: Store,
  dir: string,
  options: { count?: number; largeBytes?: number } = {},
): Promise<{ roots: TransferRoot[]; small: string[]; large: string }> {
  const entries: TreeEntry[] = [];
  const small: string[] = [];
  for (let i = 0; i < (options.count ?? 50); i++) {
    const r = store.putBuffer(Buffer.from(`object ${i} ${"x".repeat(i)}`));
    entries.push({
      path: `f${String(i).padStart(4, "0")}.txt`,
      hash: r.hash,
      size: r.size,
      executable: false,
    });
    small.push(r.hash);
  }
  const tree = store.putBuffer(encodeTree(entries));
  const bigFile = path.join(dir, "big.bin");
  fs.writeFileSync(bigFile, crypto.randomBytes(options.largeBytes ?? 600_000));
  const big = await store.putFile(bigFile);
  await store.flush();
  return {
    roots: [
      { hash: tree.hash, size: 0, tree: true, label: "data" },
      { hash: big.hash, size: big.size, tree: false, label: "big.bin" },
    ],
    small,
    large: big.hash,
  };
}
