/**
 * The binary bodies of `mtrack server`'s object API, shared by the server and the HTTP client.
 *
 *   hash list:      32-byte raw hashes back to back (has / get requests)
 *   presence:       one byte per requested hash, 1 = present (has answer)
 *   object batch:   per object: 32-byte hash, u8 status, u32 length, then `length` bytes
 *                   status 1 = data follows (upload and download), 0 = absent, 2 = too large for a batch
 *                   (fetch it on its own), 3 = deferred (the answer was full; ask again)
 * Binary rather than JSON: 100k hashes are 3.2 MB instead of 6.6 MB, and no parsing.
 */
import { MtrackError } from "../errors.js";
import type { Hash } from "../store/types.js";
import type { ObjectData } from "./types.js";

/** What a batch record carries (see the module comment). */
export enum BatchStatus {
  Absent = 0,
  Data = 1,
  Large = 2,
  Deferred = 3,
}

const HEAD = 37;

/** One decoded batch record. */
export interface BatchRecord {
  hash: Hash;
  status: BatchStatus;
  data?: Buffer;
}

function bad(why: string): MtrackError {
  return new MtrackError("ERR_MTRACK_FORMAT_INVALID", `Malformed object batch: ${why}.`, {
    hint: "The peer sent a damaged body; rerun the command.",
    data: { reason: "protocol" },
  });
}

/**
 * Hashes as one binary body.
 *
 * @example
 * decodeHashList(encodeHashList([h])) // [h]
 */
export function encodeHashList(hashes: readonly Hash[]): Buffer {
  const out = Buffer.allocUnsafe(hashes.length * 32);
  hashes.forEach((h, i) => {
    out.write(h, i * 32, 32, "hex");
  });
  return out;
}

/** Inverse of encodeHashList; throws ERR_MTRACK_FORMAT_INVALID on a length that is not a multiple of 32. */
export function decodeHashList(body: Buffer): Hash[] {
  if (body.length % 32 !== 0) throw bad("hash list length is not a multiple of 32");
  const out: Hash[] = [];
  for (let o = 0; o < body.length; o += 32) out.push(body.toString("hex", o, o + 32));
  return out;
}

/** Encodes batch records (status Data carries bytes, the others none). */
export function encodeBatch(records: ReadonlyArray<BatchRecord | ObjectData>): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    const status = "status" in r ? r.status : BatchStatus.Data;
    const data = status === BatchStatus.Data ? (r.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const head = Buffer.allocUnsafe(HEAD);
    head.write(r.hash, 0, 32, "hex");
    head.writeUInt8(status, 32);
    head.writeUInt32LE(data.length, 33);
    parts.push(head, data);
  }
  return Buffer.concat(parts);
}

/** Decodes a batch body; the data buffers are views into `body`. */
export function decodeBatch(body: Buffer): BatchRecord[] {
  const out: BatchRecord[] = [];
  let o = 0;
  while (o < body.length) {
    if (o + HEAD > body.length) throw bad("truncated record header");
    const hash = body.toString("hex", o, o + 32);
    const status = body.readUInt8(o + 32) as BatchStatus;
    if (status > BatchStatus.Deferred) throw bad(`unknown status ${status}`);
    const len = body.readUInt32LE(o + 33);
    o += HEAD;
    if (o + len > body.length) throw bad("truncated object");
    out.push(
      status === BatchStatus.Data ? { hash, status, data: body.subarray(o, o + len) } : { hash, status },
    );
    o += len;
  }
  return out;
}
