/**
 * `pipeline.lock`: what each stage last ran with (resolved cmd, dep hashes, param values, out hashes).
 * Written in a stable order so that `git diff` of the lock shows only what changed.
 */
import { LineCounter, parseDocument, stringify } from "yaml";
import { MtrackError } from "../errors.js";
import { isMapping } from "./params.js";
import { fmtPos, type LNode, posAt, type SourceInfo, toLNode, toValue } from "./template.js";
import type { SourcePos } from "./types.js";

/** The lock format version written by this code. */
export const LOCK_VERSION = 1;

/** A hashed file or directory. `files` is the number of files in a directory. */
export interface FileEntry {
  path: string;
  hash: string;
  size: number;
  files?: number;
}

/** What one stage last ran with. */
export interface LockEntry {
  cmd: string | string[];
  deps: FileEntry[];
  /** params file → key → value (a key naming a mapping holds the whole subtree). */
  params: Record<string, Record<string, unknown>>;
  outs: FileEntry[];
  /**
   * Tracked runs the stage's command recorded during this execution (ids): a commit's lock file leads to
   * the runs that produced its outputs. Not part of the staleness decision.
   */
  runs?: string[];
}

/** The whole lock file; `stages` keyed by stage name. */
export interface LockFile {
  version: number;
  stages: Record<string, LockEntry>;
}

/** An empty lock (no stage has run). */
export function emptyLock(): LockFile {
  return { version: LOCK_VERSION, stages: {} };
}

const byPath = (a: FileEntry, b: FileEntry) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
const sortedKeys = (o: Record<string, unknown>) => Object.keys(o).sort();

function canonicalEntry(entry: LockEntry): Record<string, unknown> {
  const fileEntry = (f: FileEntry) => {
    const out: Record<string, unknown> = { path: f.path, hash: f.hash, size: f.size };
    if (f.files !== undefined) out.files = f.files;
    return out;
  };
  const params: Record<string, Record<string, unknown>> = {};
  for (const file of sortedKeys(entry.params)) {
    const values = entry.params[file]!;
    params[file] = Object.fromEntries(sortedKeys(values).map((k) => [k, values[k]]));
  }
  const out: Record<string, unknown> = { cmd: entry.cmd };
  if (entry.deps.length > 0) out.deps = [...entry.deps].sort(byPath).map(fileEntry);
  if (Object.keys(params).length > 0) out.params = params;
  if (entry.outs.length > 0) out.outs = [...entry.outs].sort(byPath).map(fileEntry);
  if (entry.runs && entry.runs.length > 0) out.runs = [...entry.runs].sort();
  return out;
}

/**
 * Serialises a lock. Stages follow `stageOrder` (the pipeline's order); stages not in it (removed from the
 * pipeline) are dropped, so the lock never describes stages that no longer exist.
 *
 * @example
 * fs.writeFileSync("pipeline.lock", serializeLock(lock, pipeline.stages.map((s) => s.name)));
 */
export function serializeLock(lock: LockFile, stageOrder: readonly string[]): string {
  const stages: Record<string, unknown> = {};
  for (const name of stageOrder) {
    const entry = lock.stages[name];
    if (entry) stages[name] = canonicalEntry(entry);
  }
  return stringify({ version: LOCK_VERSION, stages }, { lineWidth: 0, aliasDuplicateObjects: false });
}

/**
 * Parses and validates a lock file; errors name `file:line:column` (ERR_MTRACK_LOCKFILE_INVALID).
 *
 * @example
 * const lock = fs.existsSync(p) ? parseLock(fs.readFileSync(p, "utf8"), "pipeline.lock") : emptyLock();
 */
export function parseLock(text: string, file: string): LockFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const src: SourceInfo = { file, lineCounter, doc, text };
  const top: SourcePos = { file, line: 1, column: 1 };
  const syntax = doc.errors[0];
  if (syntax)
    throw lockError(posAt(src, syntax.pos[0]), `YAML syntax error: ${syntax.message.split("\n")[0]}`);
  const root = toLNode(doc.contents, src, top);
  if (root.kind === "scalar" && root.value === null) return emptyLock();
  if (root.kind !== "map") throw lockError(root.pos, "the top level must be a mapping");
  const version = root.entries.find((e) => e.key === "version");
  if (version?.value.kind !== "scalar" || version.value.value !== LOCK_VERSION) {
    throw lockError(version?.value.pos ?? top, `unsupported lock version (expected ${LOCK_VERSION})`);
  }
  const lock = emptyLock();
  const stagesNode = root.entries.find((e) => e.key === "stages")?.value;
  if (!stagesNode || (stagesNode.kind === "scalar" && stagesNode.value === null)) return lock;
  if (stagesNode.kind !== "map") throw lockError(stagesNode.pos, "`stages` must be a mapping");
  for (const s of stagesNode.entries) {
    if (s.value.kind !== "map") throw lockError(s.value.pos, `stage '${s.key}' must be a mapping`);
    const get = (k: string) =>
      s.value.kind === "map" ? s.value.entries.find((e) => e.key === k)?.value : undefined;
    const cmdNode = get("cmd");
    const cmd = cmdNode ? toValue(cmdNode) : undefined;
    if (!(typeof cmd === "string" || (Array.isArray(cmd) && cmd.every((c) => typeof c === "string")))) {
      throw lockError(
        cmdNode?.pos ?? s.keyPos,
        `stage '${s.key}': \`cmd\` must be a string or a list of strings`,
      );
    }
    const paramsNode = get("params");
    const params = paramsNode ? toValue(paramsNode) : {};
    if (!isMapping(params) || !Object.values(params).every(isMapping)) {
      throw lockError(
        paramsNode?.pos ?? s.keyPos,
        `stage '${s.key}': \`params\` must map files to key/value mappings`,
      );
    }
    const runsNode = get("runs");
    const runs = runsNode ? toValue(runsNode) : undefined;
    if (
      runs !== undefined &&
      !(Array.isArray(runs) && runs.every((r) => typeof r === "string" && /^[0-9a-f]{32}$/.test(r)))
    ) {
      throw lockError(runsNode?.pos ?? s.keyPos, `stage '${s.key}': \`runs\` must be a list of run ids`);
    }
    lock.stages[s.key] = {
      cmd,
      deps: fileEntries(get("deps"), s.key, "deps"),
      params: params as Record<string, Record<string, unknown>>,
      outs: fileEntries(get("outs"), s.key, "outs"),
    };
    if (runs && runs.length > 0) lock.stages[s.key]!.runs = runs as string[];
  }
  return lock;
}

function fileEntries(node: LNode | undefined, stage: string, what: string): FileEntry[] {
  if (!node || (node.kind === "scalar" && node.value === null)) return [];
  if (node.kind !== "seq") throw lockError(node.pos, `stage '${stage}': \`${what}\` must be a list`);
  return node.items.map((item) => {
    const v = toValue(item);
    if (
      !isMapping(v) ||
      typeof v.path !== "string" ||
      typeof v.hash !== "string" ||
      typeof v.size !== "number" ||
      (v.files !== undefined && typeof v.files !== "number")
    ) {
      throw lockError(
        item.pos,
        `stage '${stage}': each of \`${what}\` needs path (string), hash (string), size (number)`,
      );
    }
    const entry: FileEntry = { path: v.path, hash: v.hash, size: v.size };
    if (typeof v.files === "number") entry.files = v.files;
    return entry;
  });
}

function lockError(pos: SourcePos, what: string): MtrackError {
  return new MtrackError("ERR_MTRACK_LOCKFILE_INVALID", `${fmtPos(pos)}: ${what}.`, {
    hint: "Fix or delete the lock file; deleting it makes every stage run again on the next repro.",
    data: { file: pos.file, line: pos.line, column: pos.column },
  });
}
