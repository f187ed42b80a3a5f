/**
 * A pure parser for git's index file (`.git/index`, "DIRC"), versions 2, 3 and 4, as described in
 * git's Documentation/gitformat-index.txt. It exists so that the dirty check can compare stat data the
 * way git does instead of hashing every file (isomorphic-git's statusMatrix takes seconds on repos where
 * `git status` takes milliseconds).
 */

import { MtrackError } from "../errors.js";

/** One index entry. Times are split into seconds and nanoseconds as stored (seconds truncated to 32 bits). */
export interface IndexEntry {
  /** Repo-relative posix path. */
  path: string;
  ctimeSec: number;
  ctimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  dev: number;
  ino: number;
  /** 0o100644, 0o100755, 0o120000 (symlink), 0o160000 (gitlink) or 0o040000 (sparse directory). */
  mode: number;
  uid: number;
  gid: number;
  /** File size truncated to 32 bits; 0 when git "smudged" a racily clean entry. */
  size: number;
  oid: string;
  /** 0 for a normal entry; 1–3 for the base/ours/theirs sides of an unmerged path. */
  stage: number;
  /** `git update-index --assume-unchanged`: git does not look at the worktree file. */
  assumeValid: boolean;
  /** Sparse checkout / `--skip-worktree`: the file is intentionally absent from the worktree. */
  skipWorktree: boolean;
  /** `git add -N`: the path is announced but its content is not staged. */
  intentToAdd: boolean;
}

/** A node of the "TREE" (cached tree) extension: a directory whose tree oid git already knows. */
export interface CacheTreeNode {
  /** Number of index entries under this directory, or -1 when the node is invalidated. */
  entryCount: number;
  /** The directory's tree oid; null when invalidated. */
  oid: string | null;
  children: Map<string, CacheTreeNode>;
}

/** The parsed index. */
export interface GitIndex {
  version: number;
  /** In index order: sorted by path bytes, then stage. */
  entries: IndexEntry[];
  /** Root of the cached tree, when the index has a TREE extension. */
  cacheTree: CacheTreeNode | null;
  /**
   * Present when this is the small half of a split index (`git update-index --split-index`): the
   * entries above must be merged into the shared index file with {@link mergeSplitIndex}.
   */
  split: SplitIndexLink | null;
  /** Set when the index needs an extension this parser does not know (a lowercase signature). */
  unsupported: string | null;
}

/** The "link" extension: which shared index this one amends, and how. */
export interface SplitIndexLink {
  /** The shared index lives in `.git/sharedindex.<sharedOid>`. */
  sharedOid: string;
  /** Positions of shared entries that are deleted. */
  deleted: number[];
  /** Positions of shared entries replaced, in order, by the first entries of the split index. */
  replaced: number[];
}

const HEADER_SIZE = 12;
const CHECKSUM_SIZE = 20;
/** ctime..size (10 × 4 bytes) + oid (20) + flags (2). */
const ENTRY_FIXED_SIZE = 62;
const FLAG_ASSUME_VALID = 0x8000;
const FLAG_EXTENDED = 0x4000;
const FLAG_STAGE_MASK = 0x3000;
const FLAG_NAME_MASK = 0x0fff;
const EXT_FLAG_SKIP_WORKTREE = 0x4000;
const EXT_FLAG_INTENT_TO_ADD = 0x2000;

/** An index with no entries, as for a repository whose index file does not exist yet. */
export function emptyGitIndex(): GitIndex {
  return { version: 2, entries: [], cacheTree: null, split: null, unsupported: null };
}

/**
 * Parses the bytes of a git index file. Throws ERR_MTRACK_GIT when the file is not a valid index.
 * The trailing checksum is not verified: git replaces the index by rename, so a torn file is not
 * expected, and hashing it would cost as much as the rest of a clean dirty check.
 *
 * @example
 * const index = parseGitIndex(fs.readFileSync(".git/index"));
 * index.entries.map((e) => e.path);
 */
export function parseGitIndex(buf: Buffer): GitIndex {
  if (buf.length < HEADER_SIZE + CHECKSUM_SIZE || buf.toString("latin1", 0, 4) !== "DIRC") {
    throw corrupt("missing DIRC header");
  }
  const version = buf.readUInt32BE(4);
  if (version < 2 || version > 4) throw corrupt(`unsupported index version ${version}`, { version });
  const count = buf.readUInt32BE(8);
  const end = buf.length - CHECKSUM_SIZE;
  const entries: IndexEntry[] = new Array(count);
  let off = HEADER_SIZE;
  // v4 stores each path as "drop N bytes from the previous path, then append this suffix"; work in
  // bytes because N counts bytes, not UTF-16 units.
  let previousPath: Buffer = Buffer.alloc(0);

  for (let i = 0; i < count; i++) {
    const start = off;
    if (off + ENTRY_FIXED_SIZE > end) throw corrupt("entry runs past the end of the file", { entry: i });
    const flags = buf.readUInt16BE(off + 60);
    off += ENTRY_FIXED_SIZE;
    let extended = 0;
    if (flags & FLAG_EXTENDED) {
      if (version < 3) throw corrupt("extended flag in a version 2 index", { entry: i });
      extended = buf.readUInt16BE(off);
      off += 2;
    }
    let pathBytes: Buffer;
    if (version === 4) {
      let strip = 0;
      // Offset varint from git's varint.c: 7 bits per byte, each continuation adds 1 before shifting.
      let byte = buf[off++] ?? 0;
      strip = byte & 0x7f;
      while (byte & 0x80) {
        byte = buf[off++] ?? 0;
        strip = ((strip + 1) << 7) | (byte & 0x7f);
      }
      const nul = buf.indexOf(0, off);
      if (nul < 0 || nul >= end || strip > previousPath.length) throw corrupt("bad v4 path", { entry: i });
      pathBytes = Buffer.concat([
        previousPath.subarray(0, previousPath.length - strip),
        buf.subarray(off, nul),
      ]);
      off = nul + 1;
      previousPath = pathBytes;
    } else {
      const nameLength = flags & FLAG_NAME_MASK;
      const nul = nameLength < FLAG_NAME_MASK ? off + nameLength : buf.indexOf(0, off);
      if (nul < 0 || nul >= end || buf[nul] !== 0) throw corrupt("bad path", { entry: i });
      pathBytes = buf.subarray(off, nul);
      // Entries are NUL-padded to a multiple of 8 bytes, counted from the entry's start.
      off = start + ((nul - start + 8) & ~7);
    }
    entries[i] = {
      path: pathBytes.toString("utf8"),
      ctimeSec: buf.readUInt32BE(start),
      ctimeNsec: buf.readUInt32BE(start + 4),
      mtimeSec: buf.readUInt32BE(start + 8),
      mtimeNsec: buf.readUInt32BE(start + 12),
      dev: buf.readUInt32BE(start + 16),
      ino: buf.readUInt32BE(start + 20),
      mode: buf.readUInt32BE(start + 24),
      uid: buf.readUInt32BE(start + 28),
      gid: buf.readUInt32BE(start + 32),
      size: buf.readUInt32BE(start + 36),
      oid: buf.toString("hex", start + 40, start + 60),
      stage: (flags & FLAG_STAGE_MASK) >> 12,
      assumeValid: (flags & FLAG_ASSUME_VALID) !== 0,
      skipWorktree: (extended & EXT_FLAG_SKIP_WORKTREE) !== 0,
      intentToAdd: (extended & EXT_FLAG_INTENT_TO_ADD) !== 0,
    };
  }

  let cacheTree: CacheTreeNode | null = null;
  let split: SplitIndexLink | null = null;
  let unsupported: string | null = null;
  while (off + 8 <= end) {
    const signature = buf.toString("latin1", off, off + 4);
    const size = buf.readUInt32BE(off + 4);
    const body = off + 8;
    if (body + size > end) throw corrupt("extension runs past the end of the file", { signature });
    if (signature === "TREE") {
      cacheTree = parseCacheTree(buf.subarray(body, body + size));
    } else if (signature === "link") {
      split = parseLink(buf.subarray(body, body + size));
    } else if (signature !== "sdir" && !/^[A-Z]/.test(signature)) {
      // Lowercase signatures mark extensions a reader must understand; "sdir" only announces sparse
      // directory entries, which the callers handle (mode 040000).
      unsupported = `index extension ${signature}`;
    }
    off = body + size;
  }
  return { version, entries, cacheTree, split, unsupported };
}

/**
 * Combines the two halves of a split index into the index git sees (git's merge_base_index): shared
 * entries minus deleted ones, replaced ones swapped for the split index's leading entries (which keep
 * the shared entry's path), plus the split index's remaining entries, in index order. The cached tree
 * and version are the split half's, which git keeps current.
 *
 * @example
 * const index = mergeSplitIndex(split, parseGitIndex(fs.readFileSync(`.git/sharedindex.${split.split!.sharedOid}`)));
 */
export function mergeSplitIndex(split: GitIndex, shared: GitIndex): GitIndex {
  const link = split.split;
  if (link === null) return split;
  const merged: Array<IndexEntry | null> = [...shared.entries];
  for (const position of link.deleted) merged[position] = null;
  let used = 0;
  for (const position of link.replaced) {
    const base = shared.entries[position];
    const replacement = split.entries[used++];
    if (base === undefined || replacement === undefined)
      throw corrupt("split index replaces a missing entry");
    merged[position] = { ...replacement, path: base.path };
  }
  const entries = merged.filter((e): e is IndexEntry => e !== null).concat(split.entries.slice(used));
  const keys = new Map(entries.map((e) => [e, Buffer.from(e.path)]));
  entries.sort((a, b) => Buffer.compare(keys.get(a)!, keys.get(b)!) || a.stage - b.stage);
  return { ...split, entries, split: null, unsupported: split.unsupported ?? shared.unsupported };
}

/** The "link" extension body: shared index oid, then optional delete and replace EWAH bitmaps. */
function parseLink(buf: Buffer): SplitIndexLink {
  if (buf.length < 20) throw corrupt("bad link extension");
  const sharedOid = buf.toString("hex", 0, 20);
  if (buf.length === 20) return { sharedOid, deleted: [], replaced: [] };
  const deleted = readEwah(buf, 20);
  const replaced = readEwah(buf, deleted.next);
  return { sharedOid, deleted: deleted.positions, replaced: replaced.positions };
}

/**
 * Decodes one EWAH-compressed bitmap (git's ewah/ewah_io.c) into its set positions. Layout: bit count,
 * word count, 64-bit big-endian words, last-marker position. Each marker word holds a run bit (bit 0), a
 * run length in 64-bit words (bits 1–32) and a count of literal words that follow it (bits 33–63).
 */
function readEwah(buf: Buffer, off: number): { positions: number[]; next: number } {
  if (off + 8 > buf.length) throw corrupt("bad EWAH bitmap");
  const bitCount = buf.readUInt32BE(off);
  const wordCount = buf.readUInt32BE(off + 4);
  const end = off + 8 + wordCount * 8;
  if (end + 4 > buf.length) throw corrupt("bad EWAH bitmap");
  const positions: number[] = [];
  let bit = 0;
  let p = off + 8;
  while (p < end) {
    const high = buf.readUInt32BE(p);
    const low = buf.readUInt32BE(p + 4);
    p += 8;
    const runLength = ((low >>> 1) | ((high & 1) << 31)) >>> 0;
    if (low & 1) for (let i = 0; i < runLength * 64; i++) positions.push(bit + i);
    bit += runLength * 64;
    for (let literals = high >>> 1; literals > 0 && p < end; literals--) {
      const wordHigh = buf.readUInt32BE(p);
      const wordLow = buf.readUInt32BE(p + 4);
      p += 8;
      for (let b = 0; b < 32; b++) if ((wordLow >>> b) & 1) positions.push(bit + b);
      for (let b = 0; b < 32; b++) if ((wordHigh >>> b) & 1) positions.push(bit + 32 + b);
      bit += 64;
    }
  }
  return { positions: positions.filter((position) => position < bitCount), next: end + 4 };
}

/** Parses the body of a TREE extension: a pre-order list of "path\0count subtrees\n[oid]". */
function parseCacheTree(buf: Buffer): CacheTreeNode | null {
  let off = 0;
  const readNode = (): { name: string; node: CacheTreeNode } => {
    const nul = buf.indexOf(0, off);
    const newline = buf.indexOf(10, nul);
    if (nul < 0 || newline < 0) throw corrupt("bad TREE extension");
    const name = buf.toString("utf8", off, nul);
    const [countText, subtreeText] = buf.toString("latin1", nul + 1, newline).split(" ");
    const entryCount = Number.parseInt(countText ?? "", 10);
    const subtrees = Number.parseInt(subtreeText ?? "", 10);
    if (!Number.isFinite(entryCount) || !Number.isFinite(subtrees)) throw corrupt("bad TREE extension");
    off = newline + 1;
    let oid: string | null = null;
    if (entryCount >= 0) {
      if (off + 20 > buf.length) throw corrupt("bad TREE extension");
      oid = buf.toString("hex", off, off + 20);
      off += 20;
    }
    const node: CacheTreeNode = { entryCount, oid, children: new Map() };
    for (let i = 0; i < subtrees; i++) {
      const child = readNode();
      node.children.set(child.name, child.node);
    }
    return { name, node };
  };
  return buf.length === 0 ? null : readNode().node;
}

function corrupt(reason: string, data: Record<string, unknown> = {}): MtrackError {
  return new MtrackError("ERR_MTRACK_GIT", `The git index file is not readable: ${reason}.`, {
    data: { ...data, reason },
    hint: "Run `git status` (it rewrites the index) and try again; if that fails, the index is corrupt.",
  });
}
