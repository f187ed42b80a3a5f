/**
 * A minimal zip archive codec: enough for NumPy's `.npz` (stored members written; stored and deflated
 * members read). No ZIP64, no encryption, no multi-disk archives.
 */
import { inflateRawSync } from "node:zlib";
import { MtrackError } from "../errors.js";

/** One archive member: its name inside the zip and its uncompressed bytes. */
export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

// Built once at load time and only read afterwards.
const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32 (IEEE 802.3, as zip uses it).
 *
 * @example
 * crc32(new TextEncoder().encode("123456789")) // 0xcbf43926
 */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const END_SIG = 0x06054b50;
// 1980-01-01 00:00 in MS-DOS format: a fixed timestamp keeps archives byte-identical across runs,
// which matters because the pipeline hashes them.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const MAX_U32 = 0xffffffff;

function invalid(message: string, data: Record<string, unknown> = {}): MtrackError {
  return new MtrackError("ERR_MTRACK_FORMAT_INVALID", message, {
    data,
    hint: "The file is not a readable zip/.npz archive; regenerate it (e.g. rerun the generate_data stage).",
  });
}

/**
 * Builds a zip archive with every member stored (no compression), as `numpy.savez` does.
 *
 * @example
 * const zip = writeZip([{ name: "X.npy", data: npyBytes }]);
 */
export function writeZip(entries: readonly ZipEntry[]): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = encoder.encode(entry.name);
    const size = entry.data.length;
    if (size > MAX_U32 || offset > MAX_U32) {
      throw invalid(`zip member ${entry.name} is too large (ZIP64 is not supported)`, {
        member: entry.name,
        size,
      });
    }
    const crc = crc32(entry.data);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, LOCAL_SIG, true);
    lv.setUint16(4, 20, true); // version needed: 2.0
    lv.setUint16(6, 0, true); // flags
    lv.setUint16(8, 0, true); // method: stored
    lv.setUint16(10, DOS_TIME, true);
    lv.setUint16(12, DOS_DATE, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, size, true);
    lv.setUint32(22, size, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, 0, true);
    local.set(name, 30);

    const cd = new Uint8Array(46 + name.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, CENTRAL_SIG, true);
    cv.setUint16(4, 20, true); // version made by
    cv.setUint16(6, 20, true); // version needed
    cv.setUint16(8, 0, true);
    cv.setUint16(10, 0, true);
    cv.setUint16(12, DOS_TIME, true);
    cv.setUint16(14, DOS_DATE, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, size, true);
    cv.setUint32(24, size, true);
    cv.setUint16(28, name.length, true);
    // extra length, comment length, disk start, internal attrs, external attrs: all zero
    cv.setUint32(42, offset, true);
    cd.set(name, 46);

    parts.push(local, entry.data);
    central.push(cd);
    offset += local.length + size;
  }
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, END_SIG, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return concatBytes([...parts, ...central, end]);
}

/** Concatenates byte arrays into one new array. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Reads every member of a zip archive through its central directory, inflating deflated members and
 * verifying each CRC-32. Throws ERR_MTRACK_FORMAT_INVALID naming the member and the problem.
 *
 * @example
 * for (const { name, data } of readZip(fs.readFileSync("data/spirals.npz"))) console.log(name, data.length);
 */
export function readZip(bytes: Uint8Array): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end-of-central-directory record sits at the end, possibly followed by a comment (≤ 65535 bytes).
  let endAt = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === END_SIG) {
      endAt = i;
      break;
    }
  }
  if (endAt < 0) throw invalid("no zip end-of-central-directory record found");
  const count = view.getUint16(endAt + 10, true);
  const cdSize = view.getUint32(endAt + 12, true);
  const cdOffset = view.getUint32(endAt + 16, true);
  if (cdOffset === MAX_U32 || count === 0xffff) throw invalid("ZIP64 archives are not supported");
  if (cdOffset + cdSize > endAt)
    throw invalid("zip central directory lies outside the file", { cdOffset, cdSize });
  const decoder = new TextDecoder();
  const entries: ZipEntry[] = [];
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL_SIG) {
      throw invalid(`zip central directory entry ${i} is corrupt`, { entry: i, offset: at });
    }
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    const compressedSize = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true);
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    const localAt = view.getUint32(at + 42, true);
    const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLen));
    at += 46 + nameLen + extraLen + commentLen;
    if (flags & 1) throw invalid(`zip member ${name} is encrypted`, { member: name });
    if (localAt + 30 > bytes.length || view.getUint32(localAt, true) !== LOCAL_SIG) {
      throw invalid(`zip member ${name} has no valid local header`, { member: name, offset: localAt });
    }
    const dataAt = localAt + 30 + view.getUint16(localAt + 26, true) + view.getUint16(localAt + 28, true);
    if (dataAt + compressedSize > bytes.length) {
      throw invalid(`zip member ${name} is truncated`, { member: name, expected: compressedSize });
    }
    const raw = bytes.subarray(dataAt, dataAt + compressedSize);
    let data: Uint8Array;
    if (method === 0) data = raw;
    else if (method === 8) {
      try {
        data = new Uint8Array(inflateRawSync(raw));
      } catch (err) {
        throw invalid(`zip member ${name} cannot be inflated: ${(err as Error).message}`, { member: name });
      }
    } else
      throw invalid(`zip member ${name} uses unsupported compression method ${method}`, {
        member: name,
        method,
      });
    if (data.length !== size) {
      throw invalid(`zip member ${name} has ${data.length} bytes, expected ${size}`, { member: name });
    }
    if (crc32(data) !== crc) throw invalid(`zip member ${name} fails its CRC-32 check`, { member: name });
    entries.push({ name, data });
  }
  return entries;
}
