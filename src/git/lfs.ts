/**
 * Just enough of git-lfs to see through its clean filter: a blob that is an LFS pointer stands for a
 * worktree file with the pointer's SHA-256 and size. Without this, touching an LFS-tracked file would
 * make the worktree look dirty, because its bytes never hash to the pointer blob.
 */

import { createHash } from "node:crypto";
import nodeFs from "node:fs";

/** The content an LFS pointer refers to. */
export interface LfsPointer {
  /** SHA-256 of the content, 64 lowercase hex characters. */
  oid: string;
  size: number;
}

/** Pointers are tiny; anything larger is real content and need not be parsed. */
const MAX_POINTER_SIZE = 1024;

/**
 * Parses a git-lfs pointer blob (spec v1), or returns null when `blob` is not one.
 *
 * @example
 * parseLfsPointer(Buffer.from("version https://git-lfs.github.com/spec/v1\noid sha256:4d7a…\nsize 12345\n"))
 * // { oid: "4d7a…", size: 12345 }
 */
export function parseLfsPointer(blob: Uint8Array): LfsPointer | null {
  if (blob.length > MAX_POINTER_SIZE) return null;
  const text = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).toString("utf8");
  if (!text.startsWith("version https://git-lfs.github.com/spec/v1\n")) return null;
  const oid = /^oid sha256:([0-9a-f]{64})$/m.exec(text)?.[1];
  const size = /^size ([0-9]+)$/m.exec(text)?.[1];
  if (oid === undefined || size === undefined) return null;
  return { oid, size: Number(size) };
}

/**
 * True when the file at `file` is the content `pointer` refers to (same size and SHA-256), read in
 * chunks so that a large file is never held in memory.
 *
 * @example
 * fileMatchesLfsPointer("/repo/model.bin", pointer)
 */
export function fileMatchesLfsPointer(
  file: string,
  pointer: LfsPointer,
  fs: typeof nodeFs = nodeFs,
): boolean {
  const fd = fs.openSync(file, "r");
  try {
    if (fs.fstatSync(fd).size !== pointer.size) return false;
    const hash = createHash("sha256");
    const chunk = Buffer.allocUnsafe(1 << 20);
    let total = 0;
    for (;;) {
      const read = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      hash.update(chunk.subarray(0, read));
      total += read;
    }
    return total === pointer.size && hash.digest("hex") === pointer.oid;
  } finally {
    fs.closeSync(fd);
  }
}
