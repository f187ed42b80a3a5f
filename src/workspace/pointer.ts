/**
 * Pointer files: `<path>.mtrack`, a small YAML file committed to git that names the content of `<path>`
 * in the store. It is the only thing git sees of the data.
 *
 *   # mtrack pointer: commit this file; `mtrack checkout` restores the data it names.
 *   version: 1
 *   path: data
 *   type: directory
 *   hash: 1f0a...        # BLAKE3 of the file, or of the directory's manifest
 *   size: 104857600      # total bytes
 *   files: 100000        # directories only
 *   source:              # imports only (`mtrack import`, `mtrack import-url`)
 *     repo: ../registry  #   another repository: its URL, the rev asked for, the commit, the path there
 *     rev: v2
 *     commit: 4b1f...
 *     path: data/images
 *
 * An import from a URL records `url`, and what the server said of it: `etag`, `last_modified`, `size`.
 * A model imported from another repository's registry records `repo`, `rev`, `model` (the URI) and
 * `version`.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import YAML, { isMap, isScalar, LineCounter } from "yaml";
import { MtrackError } from "../errors.js";
import { isHash } from "../store/hash.js";
import type { Hash } from "../store/types.js";
import { type FsLike, writeFileAtomic } from "../util/fs.js";

export const POINTER_SUFFIX = ".mtrack";
const POINTER_VERSION = 1;

export interface Pointer {
  /** Basename of the tracked path (the pointer sits next to it). */
  path: string;
  type: "file" | "directory";
  hash: Hash;
  size: number;
  /** Number of files, for directories. */
  files?: number;
  /** Executable bit, for files. */
  executable?: boolean;
  /** Free-form description, kept as written. */
  desc?: string;
  /** Where an imported path came from (`mtrack import`, `mtrack import-url`); absent for `mtrack add`. */
  source?: PointerSource;
}

/** A path imported from another repository at a revision. */
export interface GitSource {
  kind: "git";
  /** The repository as recorded: a URL, or a local path relative to this repository's root. */
  repo: string;
  /** The revision asked for (a branch, tag or commit): what `mtrack update` follows. */
  rev: string;
  /** The commit it resolved to. */
  commit: string;
  /** The path in that repository. */
  path: string;
}

/** A file imported from a URL (https://, s3://, or a local path), with what identified its version. */
export interface UrlSource {
  kind: "url";
  url: string;
  etag?: string;
  lastModified?: string;
  size?: number;
}

/**
 * A registered model of another repository's model registry (`mtrack import <repo> models:/clf@champion`):
 * the URI asked for (what `update` follows) and the version it resolved to.
 */
export interface ModelSource {
  kind: "model";
  /** The repository as recorded (as for GitSource). */
  repo: string;
  /** The revision whose committed config names the registry's remote (default HEAD). */
  rev: string;
  /** The model URI asked for: `models:/<name>@<alias>`, `models:/<name>/<version>` or `/latest`. */
  model: string;
  /** The version it resolved to. */
  version: number;
}

export type PointerSource = GitSource | UrlSource | ModelSource;

/** Names a pointer may never claim: checking them out would overwrite git's or mtrack's own data. */
export const RESERVED_NAMES = new Set([".git", ".mtrack"]);

const ALLOWED_KEYS = new Set([
  "version",
  "path",
  "type",
  "hash",
  "size",
  "files",
  "executable",
  "desc",
  "meta",
  "source",
]);

const SOURCE_KEYS: Record<PointerSource["kind"], Set<string>> = {
  git: new Set(["repo", "rev", "commit", "path"]),
  model: new Set(["repo", "rev", "model", "version"]),
  url: new Set(["url", "etag", "last_modified", "size"]),
};

/** `data/images` → `data/images.mtrack`. */
export function pointerPathFor(dataPath: string): string {
  return dataPath + POINTER_SUFFIX;
}

/** `data/images.mtrack` → `data/images`. */
export function dataPathFor(pointerPath: string): string {
  return pointerPath.slice(0, -POINTER_SUFFIX.length);
}

function invalid(file: string, line: number | undefined, why: string): MtrackError {
  return new MtrackError("ERR_MTRACK_POINTER_INVALID", `${file}${line ? `:${line}` : ""}: ${why}`, {
    hint: "Restore the pointer file from git (`git checkout -- <file>`) or re-add the data with `mtrack add`.",
    data: { file, line },
  });
}

/**
 * Parses pointer file text. Errors name the file and line (ERR_MTRACK_POINTER_INVALID).
 *
 * @example
 * parsePointer("version: 1\npath: a.csv\ntype: file\nhash: ...\nsize: 3\n", "a.csv.mtrack")
 */
export function parsePointer(text: string, file: string, expectedName?: string): Pointer {
  const lc = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw invalid(file, lc.linePos(e.pos[0]).line, `not valid YAML (${e.code})`);
  }
  const map = doc.contents;
  if (!isMap(map)) throw invalid(file, 1, "expected a mapping of keys (version, path, type, hash, size)");
  const values: Record<string, unknown> = {};
  const lines: Record<string, number> = {};
  let sourceNode: unknown;
  for (const item of map.items) {
    const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
    const line = isScalar(item.key) && item.key.range ? lc.linePos(item.key.range[0]).line : undefined;
    if (!ALLOWED_KEYS.has(key)) throw invalid(file, line, `unknown key '${key}'`);
    if (key === "source") sourceNode = item.value;
    values[key] = isScalar(item.value)
      ? item.value.value
      : (item.value as { toJSON?: () => unknown })?.toJSON?.();
    if (line) lines[key] = line;
  }
  const need = (key: string, ok: (v: unknown) => boolean, what: string) => {
    if (!(key in values)) throw invalid(file, undefined, `missing '${key}'`);
    if (!ok(values[key])) throw invalid(file, lines[key], `'${key}' must be ${what}`);
  };
  need(
    "version",
    (v) => v === POINTER_VERSION,
    `${POINTER_VERSION} (this mtrack reads version ${POINTER_VERSION})`,
  );
  need(
    "path",
    (v) => typeof v === "string" && v.length > 0 && !v.includes("/") && v !== ".." && v !== ".",
    "a file name",
  );
  need("type", (v) => v === "file" || v === "directory", "'file' or 'directory'");
  need("hash", isHash, "a 64-character BLAKE3 hex hash");
  need("size", (v) => Number.isSafeInteger(v) && (v as number) >= 0, "a non-negative integer");
  // `file` may be a display name (`data.mtrack@v1`); callers reading from history pass the name.
  const base = path.basename(file);
  const expected =
    expectedName ?? (base.includes(POINTER_SUFFIX) ? base.slice(0, base.lastIndexOf(POINTER_SUFFIX)) : base);
  if (RESERVED_NAMES.has(String(values.path))) {
    throw invalid(file, lines.path, `'path' names ${JSON.stringify(values.path)}, which mtrack never tracks`);
  }
  if (values.path !== expected) {
    throw invalid(
      file,
      lines.path,
      `'path' is ${JSON.stringify(values.path)} but the pointer file is for ${JSON.stringify(expected)}`,
    );
  }
  const pointer: Pointer = {
    path: values.path as string,
    type: values.type as "file" | "directory",
    hash: values.hash as Hash,
    size: values.size as number,
  };
  if (pointer.type === "directory") {
    need("files", (v) => Number.isSafeInteger(v) && (v as number) >= 0, "a non-negative integer");
    pointer.files = values.files as number;
  }
  if (values.executable !== undefined) {
    if (typeof values.executable !== "boolean")
      throw invalid(file, lines.executable, "'executable' must be true or false");
    pointer.executable = values.executable;
  }
  if (values.desc !== undefined) pointer.desc = String(values.desc);
  if ("source" in values) pointer.source = parseSource(sourceNode, lc, file, lines.source);
  return pointer;
}

/** The `source:` mapping of an imported path; every error names the line of the offending key. */
function parseSource(node: unknown, lc: LineCounter, file: string, line: number | undefined): PointerSource {
  if (!isMap(node))
    throw invalid(file, line, "'source' must be a mapping (repo, rev, commit, path) or (url, ...)");
  const values: Record<string, unknown> = {};
  const lines: Record<string, number> = {};
  for (const item of node.items) {
    const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
    const at = isScalar(item.key) && item.key.range ? lc.linePos(item.key.range[0]).line : line;
    values[key] = isScalar(item.value) ? item.value.value : item.value;
    if (at) lines[key] = at;
  }
  const kind: PointerSource["kind"] = "repo" in values ? ("model" in values ? "model" : "git") : "url";
  for (const key of Object.keys(values)) {
    if (!SOURCE_KEYS[kind].has(key))
      throw invalid(
        file,
        lines[key],
        `unknown key 'source.${key}' (a ${kind === "git" ? "repository" : kind === "model" ? "model" : "URL"} source)`,
      );
  }
  const text = (key: string, required: boolean): string | undefined => {
    const v = values[key];
    if (v === undefined || v === null) {
      if (required) throw invalid(file, line, `missing 'source.${key}'`);
      return undefined;
    }
    if (typeof v !== "string" || v.length === 0)
      throw invalid(file, lines[key], `'source.${key}' must be a non-empty string`);
    return v;
  };
  if (kind === "git") {
    const commit = text("commit", true)!;
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit))
      throw invalid(file, lines.commit, "'source.commit' must be a full git commit id (40 hex digits)");
    return { kind, repo: text("repo", true)!, rev: text("rev", true)!, commit, path: text("path", true)! };
  }
  if (kind === "model") {
    const version = values.version;
    if (!Number.isSafeInteger(version) || (version as number) < 1)
      throw invalid(file, lines.version, "'source.version' must be a positive integer");
    return {
      kind,
      repo: text("repo", true)!,
      rev: text("rev", true)!,
      model: text("model", true)!,
      version: version as number,
    };
  }
  const src: UrlSource = { kind, url: text("url", true)! };
  const etag = text("etag", false);
  if (etag !== undefined) src.etag = etag;
  const lastModified = text("last_modified", false);
  if (lastModified !== undefined) src.lastModified = lastModified;
  if (values.size !== undefined) {
    if (!Number.isSafeInteger(values.size) || (values.size as number) < 0)
      throw invalid(file, lines.size, "'source.size' must be a non-negative integer");
    src.size = values.size as number;
  }
  return src;
}

/** The canonical text of a pointer (stable key order, so git diffs stay small). */
export function serializePointer(p: Pointer): string {
  const lines = [
    "# mtrack pointer: commit this file to git; `mtrack checkout` restores the data it names.",
    `version: ${POINTER_VERSION}`,
    `path: ${JSON.stringify(p.path)}`,
    `type: ${p.type}`,
    `hash: ${p.hash}`,
    `size: ${p.size}`,
  ];
  if (p.type === "directory") lines.push(`files: ${p.files ?? 0}`);
  if (p.executable) lines.push("executable: true");
  if (p.desc !== undefined) lines.push(`desc: ${JSON.stringify(p.desc)}`);
  const s = p.source;
  if (s?.kind === "git") {
    lines.push("source:", `  repo: ${JSON.stringify(s.repo)}`, `  rev: ${JSON.stringify(s.rev)}`);
    lines.push(`  commit: ${s.commit}`, `  path: ${JSON.stringify(s.path)}`);
  } else if (s?.kind === "model") {
    lines.push("source:", `  repo: ${JSON.stringify(s.repo)}`, `  rev: ${JSON.stringify(s.rev)}`);
    lines.push(`  model: ${JSON.stringify(s.model)}`, `  version: ${s.version}`);
  } else if (s?.kind === "url") {
    lines.push("source:", `  url: ${JSON.stringify(s.url)}`);
    if (s.etag !== undefined) lines.push(`  etag: ${JSON.stringify(s.etag)}`);
    if (s.lastModified !== undefined) lines.push(`  last_modified: ${JSON.stringify(s.lastModified)}`);
    if (s.size !== undefined) lines.push(`  size: ${s.size}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Reads and parses a pointer file; undefined when it does not exist. */
export function readPointer(file: string, displayName: string, fs: FsLike = nodeFs): Pointer | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  return parsePointer(text, displayName);
}

/** Writes a pointer file atomically, keeping an existing `desc`. */
export function writePointer(file: string, p: Pointer, fs: FsLike = nodeFs): void {
  writeFileAtomic(file, serializePointer(p), { fs });
}
