/**
 * Directory manifests: a directory is stored as a sorted list of (relative path, hash, size, executable)
 * encoded with msgpackr, itself content-addressed — the directory's hash is its manifest's hash.
 * Decoding validates every entry: manifests come from other people's repos and remotes, and a hostile
 * one must never make checkout write outside the target directory.
 */
import { Packr } from "msgpackr";
import { MtrackError } from "../errors.js";
import { isHash } from "./hash.js";
import type { Hash } from "./types.js";

export interface TreeEntry {
  /** Posix path relative to the directory, e.g. "train/img_001.png". */
  path: string;
  hash: Hash;
  size: number;
  executable: boolean;
}

const MANIFEST_VERSION = 1;
// useRecords:false keeps the encoding plain msgpack, so identical trees always give identical bytes.
const packr = new Packr({ useRecords: false, variableMapSize: true });

function invalid(why: string, data: Record<string, unknown> = {}): MtrackError {
  return new MtrackError("ERR_MTRACK_MANIFEST_INVALID", `Invalid directory manifest: ${why}.`, {
    hint: "The manifest is damaged or hostile; it was not used. Re-add the directory or fetch it again.",
    data,
  });
}

/**
 * Reasons a manifest path is unsafe, or undefined when it is fine. Checked for every entry of every
 * manifest read, so segments are scanned in place rather than split into arrays.
 *
 * @example
 * unsafePathReason("a/../b") // "'..' segment"
 */
export function unsafePathReason(p: string): string | undefined {
  if (p.length === 0) return "empty path";
  if (p.length > 4096) return "path too long";
  if (p.startsWith("/") || /^[A-Za-z]:/.test(p)) return "absolute path";
  if (p.includes("\0")) return "NUL in path";
  for (let start = 0; start <= p.length; ) {
    const slash = p.indexOf("/", start);
    const end = slash === -1 ? p.length : slash;
    if (end === start) return "empty path segment";
    if (p.charCodeAt(start) === 0x2e /* . */) {
      const seg = p.slice(start, end);
      if (seg === "." || seg === "..") return `'${seg}' segment`;
      const lower = seg.toLowerCase();
      if (lower === ".git" || lower === ".mtrack") return `reserved segment '${seg}'`;
    }
    start = end + 1;
  }
  return undefined;
}

/** Byte-wise comparison of posix paths (the order manifests are stored in). */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Checks entries are safe, unique and that no entry is both a file and a directory prefix of another.
 * Throws ERR_MTRACK_MANIFEST_INVALID.
 */
export function validateEntries(entries: readonly TreeEntry[], hashesKnownWellFormed = false): void {
  const files = new Set<string>();
  for (const e of entries) {
    const why = unsafePathReason(e.path);
    if (why) throw invalid(`${why} in entry ${JSON.stringify(e.path)}`, { path: e.path });
    if (!hashesKnownWellFormed && !isHash(e.hash)) throw invalid(`bad hash for ${e.path}`, { path: e.path });
    if (!Number.isSafeInteger(e.size) || e.size < 0)
      throw invalid(`bad size for ${e.path}`, { path: e.path });
    const before = files.size;
    files.add(e.path);
    if (files.size === before) throw invalid(`duplicate entry ${JSON.stringify(e.path)}`, { path: e.path });
  }
  // Every directory prefix of every path must not be a file. Entries of one folder usually come in a run,
  // and share all their prefixes: check them once per run, not once per file (100k files, 100 folders).
  let checkedParent = "";
  for (const { path: f } of entries) {
    const last = f.lastIndexOf("/");
    if (last === -1 || (last === checkedParent.length && f.startsWith(checkedParent))) continue;
    for (let i = f.indexOf("/"); i !== -1 && i <= last; i = f.indexOf("/", i + 1)) {
      const dir = f.slice(0, i);
      if (files.has(dir)) throw invalid(`${dir} is both a file and a directory`, { path: dir });
    }
    checkedParent = f.slice(0, last);
  }
}

/**
 * Encodes a manifest (entries are validated and sorted first, unless `trusted`: already sorted and
 * produced by walking a real directory).
 *
 * @example
 * const bytes = encodeTree([{ path: "a.txt", hash, size: 3, executable: false }]);
 * const dirHash = hashBytes(bytes);
 */
export function encodeTree(entries: readonly TreeEntry[], options: { trusted?: boolean } = {}): Buffer {
  // Entries straight from a directory walk are real names already; validating 100k of them on every
  // `status` costs more than the walk. Anything decoded from bytes is always validated.
  if (!options.trusted) validateEntries(entries);
  const sorted = options.trusted ? entries : [...entries].sort((a, b) => comparePaths(a.path, b.path));
  const rows = sorted.map((e) => [e.path, Buffer.from(e.hash, "hex"), e.size, e.executable ? 1 : 0]);
  return packr.pack({ v: MANIFEST_VERSION, entries: rows });
}

/** Decodes and validates a manifest. Throws ERR_MTRACK_MANIFEST_INVALID on anything unexpected. */
export function decodeTree(bytes: Uint8Array): TreeEntry[] {
  let doc: unknown;
  try {
    doc = packr.unpack(bytes);
  } catch (err) {
    throw invalid("not msgpack", { cause: String(err) });
  }
  if (typeof doc !== "object" || doc === null) throw invalid("not a mapping");
  const { v, entries } = doc as { v?: unknown; entries?: unknown };
  if (v !== MANIFEST_VERSION) throw invalid(`unsupported version ${String(v)}`);
  if (!Array.isArray(entries)) throw invalid("no entries list");
  const out: TreeEntry[] = [];
  for (const row of entries) {
    if (!Array.isArray(row) || row.length !== 4) throw invalid("malformed entry");
    const [p, h, size, flags] = row as [unknown, unknown, unknown, unknown];
    if (typeof p !== "string") throw invalid("entry path is not a string");
    if (!(h instanceof Uint8Array) || h.length !== 32) throw invalid(`bad hash for ${p}`, { path: p });
    if (typeof size !== "number") throw invalid(`bad size for ${p}`, { path: p });
    out.push({
      path: p,
      hash: Buffer.from(h.buffer, h.byteOffset, 32).toString("hex"),
      size,
      executable: flags === 1,
    });
  }
  // Hashes were just made from 32-byte strings, so only paths, sizes and duplicates need checking.
  validateEntries(out, true);
  // encodeTree always sorts; readers (diffs) rely on it.
  for (let k = 1; k < out.length; k++) {
    if (comparePaths(out[k - 1]!.path, out[k]!.path) >= 0)
      throw invalid("entries are not sorted", { path: out[k]!.path });
  }
  return out;
}
