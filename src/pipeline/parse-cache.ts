/**
 * A cache of parse results for `repro` when nothing changed: parsing `pipeline.yaml` and `pipeline.lock`
 * cold costs more CPU than checking 50 stages (the YAML parser is slow until the JIT warms up). The
 * result is stored as JSON under `.mtrack/state/`, keyed by BLAKE3 of every input the parse read, so a
 * changed byte anywhere means a fresh parse. Like the stat cache it is only a cache: deleting it loses
 * nothing but speed, and any problem reading or writing it falls back to parsing.
 */
import * as path from "node:path";
import { blake3 } from "@napi-rs/blake-hash";
import type { Repo } from "../repo.js";
import { writeFileAtomic } from "../util/fs.js";

/** Bump whenever the parser's output for the same input may change. */
const PARSE_CACHE_VERSION = "1";

/** The inputs a parse read: name → text, or null for a file that was absent. */
export type ParseInputs = ReadonlyArray<readonly [string, string | null]>;

function keyOf(kind: string, inputs: ParseInputs): string {
  const h = blake3(Buffer.from(JSON.stringify([PARSE_CACHE_VERSION, kind, inputs])));
  return h.toString("hex");
}

function fileOf(repo: Repo, kind: string, name: string): string {
  return path.join(repo.paths.stateDir, "parsed", `${kind}-${name.replace(/[^\w.-]/g, "_")}.json`);
}

interface Stored {
  key: string;
  /** Names of the extra inputs read besides the main file, so a lookup knows what to hash. */
  reads: string[];
  value: unknown;
}

/**
 * Looks up the parse of `name` (whose text is `text`); `read(other)` returns the current text of another
 * input the parse read (null when absent). Returns undefined on a miss.
 *
 * @example
 * const lock = lookupParse<LockFile>(repo, "lock", "pipeline.lock", text, () => null)
 *   ?? parseAndStore(...);
 */
export function lookupParse<T>(
  repo: Repo,
  kind: string,
  name: string,
  text: string,
  read: (other: string) => string | null,
): T | undefined {
  let stored: Stored;
  try {
    stored = JSON.parse(repo.fs.readFileSync(fileOf(repo, kind, name), "utf8")) as Stored;
  } catch {
    return undefined;
  }
  if (!Array.isArray(stored.reads)) return undefined;
  const inputs: Array<[string, string | null]> = [[name, text]];
  for (const r of stored.reads) inputs.push([r, read(r)]);
  return keyOf(kind, inputs) === stored.key ? (stored.value as T) : undefined;
}

/** True when JSON carries `value` exactly (an undefined property reads back as absent, which is the same). */
function jsonExact(value: unknown): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => v !== undefined && jsonExact(v));
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value).every((v) => v === undefined || jsonExact(v));
  }
  return false;
}

/**
 * Records a parse result; `inputs` starts with the main file, then every other file the parse read. Values that JSON cannot carry exactly (NaN, Infinity, dates) are not cached: a
 * cached lock must compare equal to a parsed one, or stages would look changed.
 */
export function storeParse(
  repo: Repo,
  kind: string,
  name: string,
  inputs: ParseInputs,
  value: unknown,
): void {
  try {
    if (!jsonExact(value)) return;
    const text = JSON.stringify({ key: keyOf(kind, inputs), reads: inputs.slice(1).map(([n]) => n), value });
    const file = fileOf(repo, kind, name);
    repo.fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, text, { fs: repo.fs });
  } catch {
    // Failing to save a cache must never fail the command.
  }
}
