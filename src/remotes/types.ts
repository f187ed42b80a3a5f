/**
 * The one contract every remote backend (local directory, S3, `mtrack server` over HTTP) fulfils. The
 * transfer layer (src/transfer) plans against it and never knows which backend it talks to.
 *
 * Two kinds of things travel:
 * - store objects, named by their BLAKE3 hash. Small ones travel in batches (a pack, or one request) so
 *   100k tiny files are a handful of requests; large ones are streamed one by one.
 * - refs: small named files (`runs/<runId>`, `runcache/<key>`) whose content names objects. A ref is
 *   written only after the objects it names are on the remote.
 */
import type { Readable } from "node:stream";
import type { Hash } from "../store/types.js";
import type { CollectOptions, CollectResult } from "./collect.js";

/** An object the caller wants to send or check, with its size (it decides small vs large). */
export interface ObjectSpec {
  hash: Hash;
  size: number;
}

/** A complete pack of the local store: its id, its two files and what it holds. */
export interface PackSource {
  id: string;
  packPath: string;
  idxPath: string;
}

/** One pack and the objects attributed to it (an object in two packs counts for the first). */
export interface PackContents {
  id: string;
  /** Objects the pack's index lists. */
  count: number;
  /** The ones attributed to this pack. */
  hashes: readonly Hash[];
}

/** One small object in memory. */
export interface ObjectData {
  hash: Hash;
  data: Buffer;
}

/** Objects at or above this size are streamed one by one; smaller ones travel in batches. */
export const SMALL_OBJECT_LIMIT = 256 * 1024;

/** A batch of small objects is cut once it reaches this many bytes (one pack / one request). */
export const BATCH_BYTES = 16 << 20;

/** One remote backend (see the module comment for what travels and how). */
export interface Remote {
  /** Where it points, for messages (never includes credentials). */
  readonly url: string;
  /**
   * Which of `objects` the remote already holds. Batched: a few requests per call whatever its length,
   * never a listing of the whole remote's objects and never one request per small object.
   */
  has(objects: readonly ObjectSpec[]): Promise<Set<Hash>>;
  /** Stores small objects together. None of them is visible before all of them are stored. */
  putBatch(objects: readonly ObjectData[]): Promise<void>;
  /**
   * Stores one object from a local file, streamed; visible only once complete. The file is a store
   * object that may have been damaged since it was stored (a write through a hardlinked workspace file):
   * backends hash the bytes as they read them, or have the server do it, and reject with
   * ERR_MTRACK_OBJECT_CORRUPT, storing nothing, when they do not match `object.hash`. `onBytes` reports
   * bytes sent as they go (progress only: a retried upload may report some twice).
   */
  putFile(object: ObjectSpec, file: string, onBytes?: (bytes: number) => void): Promise<void>;
  /**
   * Optional: stores a whole pack of the local store as it is (data first, index last, so its objects
   * appear together), when every object in it is wanted. Saves unpacking and repacking; backends that
   * cannot (the HTTP protocol has no pack upload) leave it out and get batches instead.
   */
  putPack?(pack: PackSource): Promise<void>;
  /**
   * Fetches objects in as few requests as the backend allows. `onObject` gets each found object's bytes,
   * which are NOT verified (the caller hashes them). Returns the hashes that were not sent: absent, or
   * too large to batch (ask `open` for those).
   */
  getBatch(hashes: readonly Hash[], onObject: (object: ObjectData) => void | Promise<void>): Promise<Hash[]>;
  /**
   * Optional (directory, S3, `mtrack server`): the remote's packs and the small objects each holds. A fetch that wants all
   * of a pack (but for objects it already has) copies it whole with copyPack instead of having its
   * objects read, sent and repacked one by one.
   */
  packList?(): Promise<PackContents[]>;
  /**
   * Optional, with packList(): copies pack `id`'s data into the new local file `dest` (a directory: by
   * the kernel; S3 and `mtrack server`: one streamed GET) and returns the pack's index bytes; both unverified. Undefined when
   * the pack is gone (another process consolidated or collected it).
   */
  copyPack?(id: string, dest: string): Promise<Buffer | undefined>;
  /** A stream of one object's bytes (unverified), or undefined when the remote does not have it. */
  open(hash: Hash): Promise<Readable | undefined>;
  /**
   * Optional: hands one object's bytes (unverified) to `onChunk` as they arrive, each chunk valid only
   * during the call (the backend reads into one reused buffer: no allocation per read). Resolves true
   * once every byte was handed over, false when the remote lacks the object; an error thrown by
   * `onChunk` ends the transfer and rejects with it. For large downloads, in place of `open`.
   */
  readChunks?(hash: Hash, onChunk: (chunk: Buffer) => void): Promise<boolean>;
  /**
   * Optional: copies one object's bytes (unverified) into the new local file `dest` without streaming
   * them through the process (a directory remote: a kernel copy). False when the remote lacks it.
   */
  copyTo?(hash: Hash, dest: string): Promise<boolean>;
  /**
   * Optional (`push --repair`): hashes the remote's own copies of `objects` where they lie, without sending
   * them, and returns those with a copy that does not match its hash. Without it the copies are
   * downloaded and hashed.
   */
  verify?(objects: readonly ObjectSpec[]): Promise<Set<Hash>>;
  /**
   * Optional (`push --repair`): removes the remote's copies of objects found damaged, loose and packed
   * (a pack holding one is rewritten without it), so the push that follows stores them again. `mtrack
   * server` hashes them itself and removes only copies that fail.
   */
  dropObjects?(hashes: readonly Hash[]): Promise<void>;
  /** The content of a ref (e.g. "runs/20260101-abc"), or undefined. */
  readRef(name: string): Promise<Buffer | undefined>;
  /** Writes a ref atomically (readers see the old or the new content). */
  writeRef(name: string, data: Buffer): Promise<void>;
  /** Names of the refs under a kind ("runs" → ["runs/a", "runs/b"]). */
  listRefs(kind: string): Promise<string[]>;
  /**
   * Deletes every object not in `keep` that was written at least `options.keepNewerMs` ago, by the rules
   * of collect.ts (young data stays; indexes go before their data; partly live packs are rewritten,
   * survivors first). Refs are never touched. With `dryRun`, only reports.
   */
  collect(keep: ReadonlySet<Hash>, options: CollectOptions): Promise<CollectResult>;
  /** Releases connections and file handles. */
  close(): Promise<void>;
}
