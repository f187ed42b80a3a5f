/** Upload progress for backends that stream a file: the bytes read from it, as they are read. */
import * as nodeFs from "node:fs";
import { type Readable, Transform } from "node:stream";

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
