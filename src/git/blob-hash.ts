import { createHash } from "node:crypto";

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
