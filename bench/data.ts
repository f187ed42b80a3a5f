/**
 * Deterministic benchmark data: one large file of pseudo-random bytes and a directory of many small
 * files, split into subfolders of 1,000 like a real dataset. Generated once under bench/work/data and
 * reused; a `.complete` marker holding the spec tells a finished set from an interrupted one.
 *
 * Run: node --import tsx bench/data.ts [--small]
 */

import { createCipheriv } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** What a data set contains; two sets with equal specs are byte-identical. */
export interface DataSpec {
  name: string;
  bigFileBytes: number;
  smallFileCount: number;
  smallFileBytes: number;
  filesPerFolder: number;
  seed: string;
}

/** Where a generated data set lives. */
export interface DataSet {
  spec: DataSpec;
  dir: string;
  /** The large file (`big.bin`). */
  bigFile: string;
  /** The directory of small files (`many/`). */
  manyDir: string;
  /** Repo-relative paths of the small files inside `many/`, in generation order. */
  smallFiles: string[];
}

const MiB = 1024 * 1024;

/**
 * The full-size set (1 GiB + 100,000 × 1 KiB) or, with `small`, a tenth of it for smoke runs.
 *
 * @example
 * dataSpec(false).smallFileCount // 100000
 */
export function dataSpec(small: boolean): DataSpec {
  return {
    name: small ? "small" : "full",
    bigFileBytes: small ? 100 * MiB : 1024 * MiB,
    smallFileCount: small ? 10_000 : 100_000,
    smallFileBytes: 1024,
    filesPerFolder: 1000,
    seed: "mtrack-bench-v1",
  };
}

/**
 * A deterministic byte stream: the AES-128-CTR keystream of a key derived from `seed` (encrypting
 * zeros), which runs at memory speed and looks random to any deduplicating store.
 */
function keystream(seed: string, purpose: string): (bytes: number) => Buffer {
  const key = Buffer.alloc(16);
  Buffer.from(`${seed}/${purpose}`).copy(key);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  return (bytes) => cipher.update(Buffer.alloc(bytes));
}

/** `many/d007/f007123.bin`-style relative paths (posix), in generation order. */
export function smallFilePaths(spec: DataSpec): string[] {
  const width = String(spec.smallFileCount - 1).length;
  const folderWidth = String(Math.ceil(spec.smallFileCount / spec.filesPerFolder) - 1).length;
  const out: string[] = [];
  for (let i = 0; i < spec.smallFileCount; i++) {
    const folder = String(Math.floor(i / spec.filesPerFolder)).padStart(folderWidth, "0");
    out.push(`many/d${folder}/f${String(i).padStart(width, "0")}.bin`);
  }
  return out;
}

function writeBigFile(file: string, spec: DataSpec): void {
  const next = keystream(spec.seed, "big");
  const fd = fs.openSync(file, "w");
  try {
    const chunk = 8 * MiB;
    for (let done = 0; done < spec.bigFileBytes; done += chunk) {
      fs.writeSync(fd, next(Math.min(chunk, spec.bigFileBytes - done)));
    }
  } finally {
    fs.closeSync(fd);
  }
}

function writeSmallFiles(root: string, spec: DataSpec, rels: string[]): void {
  const next = keystream(spec.seed, "small");
  let madeDir = "";
  for (const rel of rels) {
    const file = path.join(root, rel);
    const dir = path.dirname(file);
    if (dir !== madeDir) {
      fs.mkdirSync(dir, { recursive: true });
      madeDir = dir;
    }
    fs.writeFileSync(file, next(spec.smallFileBytes));
  }
}

/**
 * Returns the data set under `workDir/data/<name>`, generating it first if it is missing or was
 * interrupted. Generation writes into a temp dir renamed into place, so a half-written set is never
 * taken for a complete one.
 *
 * @example
 * const data = ensureData({ workDir: "bench/work", spec: dataSpec(true) });
 */
export function ensureData(options: {
  workDir: string;
  spec: DataSpec;
  log?: (line: string) => void;
}): DataSet {
  const { workDir, spec, log = () => {} } = options;
  const dir = path.join(workDir, "data", spec.name);
  const marker = path.join(dir, ".complete");
  const wanted = JSON.stringify(spec);
  const smallFiles = smallFilePaths(spec);
  const dataSet = {
    spec,
    dir,
    bigFile: path.join(dir, "big.bin"),
    manyDir: path.join(dir, "many"),
    smallFiles,
  };
  if (fs.existsSync(marker) && fs.readFileSync(marker, "utf8") === wanted) return dataSet;

  const started = Date.now();
  log(`generating ${spec.name} data set in ${dir} ...`);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  writeBigFile(path.join(tmp, "big.bin"), spec);
  writeSmallFiles(tmp, spec, smallFiles);
  fs.writeFileSync(path.join(tmp, ".complete"), wanted);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  log(`generated in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return dataSet;
}

/** Reads every byte of the set once so all tools start from the same warm page cache. */
export function warmData(data: DataSet): void {
  const buf = Buffer.alloc(8 * MiB);
  const fd = fs.openSync(data.bigFile, "r");
  try {
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0) {}
  } finally {
    fs.closeSync(fd);
  }
  for (const rel of data.smallFiles) fs.readFileSync(path.join(data.dir, rel));
}

/**
 * Compares the data set with what its spec generates and returns the relative paths that differ (at
 * most `limit`). The bench stages the set into workspaces as hardlinks, so a tool writing into a
 * workspace file in place would corrupt it; this catches that.
 */
export function verifyData(data: DataSet, limit = 10): string[] {
  const bad: string[] = [];
  const nextBig = keystream(data.spec.seed, "big");
  const buf = Buffer.alloc(8 * MiB);
  const fd = fs.openSync(data.bigFile, "r");
  try {
    let total = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (!buf.subarray(0, n).equals(nextBig(n))) {
        bad.push("big.bin");
        break;
      }
    }
    if (total !== data.spec.bigFileBytes && !bad.includes("big.bin")) bad.push("big.bin");
  } finally {
    fs.closeSync(fd);
  }
  const nextSmall = keystream(data.spec.seed, "small");
  for (const rel of data.smallFiles) {
    const expected = nextSmall(data.spec.smallFileBytes);
    if (bad.length < limit && !fs.readFileSync(path.join(data.dir, rel)).equals(expected)) bad.push(rel);
  }
  return bad;
}

/** bench/work, next to this file. */
export const BENCH_WORK_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "work");

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const data = ensureData({
    workDir: BENCH_WORK_DIR,
    spec: dataSpec(process.argv.includes("--small")),
    log: (line) => console.error(line),
  });
  console.log(data.dir);
}
