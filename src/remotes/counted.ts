/** Upload progress for backends that stream a file: the bytes read from it, as they are read. */
import * as nodeFs from "node:fs";
import { type Readable, Transform } from "node:stream";
import { Blake3Hasher } from "@napi-rs/blake-hash";
import { corruptObject } from "../store/store.js";
import type { Hash } from "../store/types.js";

/**
 * A read stream of `file` that reports each chunk's length to `onBytes` (the plain read stream when
 * nobody listens). Read errors reach the returned stream, so the request that consumes it fails.
 *
 * @example
 * const body = countedReadStream("big.bin", (n) => tick(0, n));
 */
export function countedReadStream(file: string, onBytes?: (bytes: number) => void): Readable {
  const source = nodeFs.createReadStream(file);
  if (!onBytes) return source;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
  source.on("error", (err) => counter.destroy(err));
  return source.pipe(counter);
}

/**
 * countedReadStream that also hashes what it reads, and ends with ERR_MTRACK_OBJECT_CORRUPT instead of
 * its end when the bytes are not `hash`: the upload consuming it fails before the object appears (S3
 * publishes a key only when its PUT or multipart upload completes). No second read of the file.
 *
 * @example
 * const body = verifiedReadStream(storeFile, hash, (n) => tick(0, n));
 */
export function verifiedReadStream(file: string, hash: Hash, onBytes?: (bytes: number) => void): Readable {
  const source = nodeFs.createReadStream(file, { highWaterMark: 1 << 20 });
  const hasher = new Blake3Hasher();
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hasher.update(chunk);
      onBytes?.(chunk.length);
      done(null, chunk);
    },
    flush(done) {
      done(hasher.digest("hex") === hash ? null : corruptObject(hash, file));
    },
  });
  source.on("error", (err) => check.destroy(err));
  return source.pipe(check);
}
