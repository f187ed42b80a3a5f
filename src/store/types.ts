/**
 * The content-addressed store's public contract. Other layers (workspace, pipeline, tracking, remotes)
 * depend on this interface, not on the pack/loose layout behind it.
 */

/** A BLAKE3-256 digest as 64 lowercase hex characters. */
export type Hash = string;

export interface PutResult {
  hash: Hash;
  size: number;
  /** false when the store already had the object (no bytes were written). */
  written: boolean;
}

export type LinkMode = "copy" | "hardlink" | "symlink";

export interface ObjectInfo {
  hash: Hash;
  size: number;
  /** "loose" objects are single files under objects/; "packed" ones live inside a pack. */
  location: "loose" | "packed";
}

export interface ObjectStore {
  /** True when the object is present (loose or packed). Cheap: no I/O for packed objects. */
  has(hash: Hash): boolean;
  /** Size in bytes of a present object, or undefined. */
  sizeOf(hash: Hash): number | undefined;
  /**
   * Stores bytes held in memory. Small objects are staged for the next pack and become visible to other
   * processes only after `flush()`; they are readable from this instance immediately.
   */
  putBuffer(data: Uint8Array): PutResult;
  /**
   * Stores a file's content, streaming (never whole in memory). Throws ERR_MTRACK_FILE_CHANGED when the
   * file changed while it was read.
   */
  putFile(
    path: string,
    options?: { expect?: { size: number; mtimeMs: number; ino: number; ctimeMs?: number } },
  ): Promise<PutResult>;
  /** The whole object in memory (for manifests, run records and other small objects). */
  readObject(hash: Hash): Buffer;
  /**
   * Writes the object to `dest` (replacing it atomically): a copy (reflink where the filesystem can), or a
   * hard/symbolic link to the store's file in the link modes.
   */
  materialize(hash: Hash, dest: string, options?: { mode?: LinkMode; executable?: boolean }): void;
  /** Makes staged small objects durable and visible (writes a pack and its index). */
  flush(): Promise<void>;
  /** Every object present. */
  list(): Iterable<ObjectInfo>;
}
