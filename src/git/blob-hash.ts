import { createHash } from "node:crypto";
import nodeFs from "node:fs";

/**
 * The object id git gives `content` as a blob: SHA-1 over `blob <length>\0` followed by the bytes.
 * A symlink is hashed the same way over its target string.
 *
 * @example
 * gitBlobOid(Buffer.from("hello\n")) // "ce013625030ba8dba906f756967f9e9ca394464a"
 */
export function gitBlobOid(content: Uint8Array): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

/** Read size for {@link gitBlobOidOfFile}: large enough to be fast, small enough for any tracked file. */
const CHUNK_SIZE = 1 << 20;

/**
 * The blob oid of a regular file's content, read in chunks so that a large tracked file is never held
 * in memory whole. Returns null when the file's length changed while it was being read (it is being
 * written to, so it cannot match anything recorded).
 *
 * @example
 * gitBlobOidOfFile("/repo/README.md") // same as `git hash-object README.md` without filters
 */
export function gitBlobOidOfFile(file: string, fs: typeof nodeFs = nodeFs): string | null {
  const fd = fs.openSync(file, "r");
  try {
    const size = fs.fstatSync(fd).size;
    const hash = createHash("sha1").update(`blob ${size}\0`);
    const chunk = Buffer.allocUnsafe(Math.max(1, Math.min(size, CHUNK_SIZE)));
    let total = 0;
    for (;;) {
      const read = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      hash.update(chunk.subarray(0, read));
      total += read;
    }
    return total === size ? hash.digest("hex") : null;
  } finally {
    fs.closeSync(fd);
  }
}
