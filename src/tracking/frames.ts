/**
 * Checksummed framing for the append-only logs of the tracking layer (active run logs, the run index,
 * the experiment registry). A process killed mid-write leaves at most a torn final frame; readers detect
 * it by its checksum and ignore it, and everything before it reads fine.
 *
 * Frame layout (little-endian): magic u32 "MTF1" | payload length u32 | CRC-32 of payload u32 | payload.
 * The magic lets a reader resynchronise after a damaged frame in the middle of a file that other
 * processes kept appending to (the run index).
 */

import fs from "node:fs";
import zlib from "node:zlib";
import { Packr } from "msgpackr";
import { ioError } from "../errors.js";

const MAGIC = 0x3146544d; // "MTF1" read as little-endian u32
const HEADER = 12;
/** Larger frames are treated as damage: no writer produces them, and a bogus length must not allocate. */
const MAX_FRAME = 1 << 30;

/** msgpackr without records/structures, so every frame is self-contained and readable by any reader. */
export function newPackr(): Packr {
  return new Packr({ useRecords: false, moreTypes: false });
}

/**
 * CRC-32 (IEEE), continuing from `crc` so a frame split into parts is checksummed without joining it:
 * zlib's native one where Node has it (>= 20.15), else a bitwise fallback.
 */
export function crc32(data: Uint8Array, crc = 0): number {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (native !== undefined) return native(data, crc) >>> 0;
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) {
    c ^= data[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

/**
 * A frame as a list of buffers (header first) for a vectored write, so large payloads such as metric
 * columns are written straight from their typed arrays without being copied into one buffer.
 *
 * @example
 * fs.writevSync(fd, frameParts([header, column]));
 */
export function frameParts(parts: Uint8Array[]): Uint8Array[] {
  let length = 0;
  let crc = 0;
  for (const part of parts) {
    length += part.length;
    crc = crc32(part, crc);
  }
  const header = Buffer.allocUnsafe(HEADER);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(length, 4);
  header.writeUInt32LE(crc, 8);
  return [header, ...parts];
}

/**
 * Wraps one payload in a frame.
 *
 * @example
 * fs.appendFileSync(file, encodeFrame(Buffer.from("hello")));
 */
export function encodeFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(HEADER + payload.length);
  frame.writeUInt32LE(MAGIC, 0);
  frame.writeUInt32LE(payload.length, 4);
  frame.writeUInt32LE(crc32(payload), 8);
  frame.set(payload, HEADER);
  return frame;
}

/** What `decodeFrames` found in a buffer. */
export interface DecodedFrames {
  /** Payloads of the intact frames, in file order (views into the input buffer). */
  payloads: Buffer[];
  /** True when the buffer ends in a damaged or incomplete frame (e.g. a write cut short by kill -9). */
  torn: boolean;
  /** Bytes skipped because they did not form an intact frame (torn tail included). */
  skippedBytes: number;
}

function frameAt(buf: Buffer, pos: number): Buffer | undefined {
  if (pos + HEADER > buf.length || buf.readUInt32LE(pos) !== MAGIC) return undefined;
  const len = buf.readUInt32LE(pos + 4);
  if (len > MAX_FRAME || pos + HEADER + len > buf.length) return undefined;
  const payload = buf.subarray(pos + HEADER, pos + HEADER + len);
  return crc32(payload) === buf.readUInt32LE(pos + 8) ? payload : undefined;
}

/**
 * Splits a log file's bytes into intact frame payloads. A damaged frame is skipped by scanning for the
 * next intact frame, so one torn append does not hide the frames other processes appended after it.
 *
 * @example
 * const { payloads, torn } = decodeFrames(fs.readFileSync(file));
 */
export function decodeFrames(buf: Buffer): DecodedFrames {
  const payloads: Buffer[] = [];
  let pos = 0;
  let skippedBytes = 0;
  let torn = false;
  while (pos < buf.length) {
    const payload = frameAt(buf, pos);
    if (payload !== undefined) {
      payloads.push(payload);
      pos += HEADER + payload.length;
      continue;
    }
    let next = buf.indexOf("MTF1", pos + 1, "latin1");
    while (next !== -1 && frameAt(buf, next) === undefined) next = buf.indexOf("MTF1", next + 1, "latin1");
    if (next === -1) {
      skippedBytes += buf.length - pos;
      torn = true;
      break;
    }
    skippedBytes += next - pos;
    pos = next;
  }
  return { payloads, torn, skippedBytes };
}

/** Reads a framed log; a missing file reads as empty. */
export function readFrameFile(file: string): DecodedFrames {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      return { payloads: [], torn: false, skippedBytes: 0 };
    throw ioError(err, `reading ${file}`);
  }
  return decodeFrames(buf);
}

/**
 * Writes buffers with one vectored write (retrying the rest if the kernel wrote only part).
 *
 * @example
 * writeAllSync(fd, frameParts([payload]));
 */
export function writeAllSync(fd: number, buffers: Uint8Array[]): void {
  let total = 0;
  for (const b of buffers) total += b.length;
  const written = fs.writevSync(fd, buffers);
  if (written < total) fs.writeSync(fd, Buffer.concat(buffers).subarray(written));
}

/**
 * Appends whole frames with one O_APPEND write, so concurrent appenders never interleave inside a frame.
 *
 * @example
 * appendFrames(indexFile, [packr.pack(entry)]);
 */
export function appendFrames(file: string, payloads: Uint8Array[]): void {
  const data = Buffer.concat(payloads.map(encodeFrame));
  try {
    fs.appendFileSync(file, data);
  } catch (err) {
    throw ioError(err, `appending to ${file}`);
  }
}
