/**
 * Validation of registry names (models, aliases, versions) and the mapping of versions and aliases to
 * GTO's git tags. Pure.
 */
import { MtrackError } from "../errors.js";

/** Longest model name (MLflow's registered model name limit). */
export const MAX_MODEL_NAME_LENGTH = 256;
/** Longest alias (MLflow's). */
export const MAX_ALIAS_LENGTH = 255;

function invalid(kind: string, name: string, reason: string, hint: string): MtrackError {
  return new MtrackError("ERR_MTRACK_INVALID_NAME", `Invalid ${kind} ${JSON.stringify(name)}: ${reason}.`, {
    hint,
    data: { kind, name, reason },
  });
}

/**
 * Checks a registered model name: 1–256 characters, no `/`, `@`, `#` (they separate the parts of a model
 * URI and of GTO's tags), no `..`, no control characters, not only spaces.
 *
 * @example
 * validateModelName("morphogenetic-spirals"); // ok
 * validateModelName("a/b");                   // throws ERR_MTRACK_INVALID_NAME
 */
export function validateModelName(name: unknown): asserts name is string {
  const hint =
    "Use letters, digits, '-', '_', '.', ':' or spaces, without '/', '@', '#' or '..' (e.g. morphogenetic-spirals).";
  if (typeof name !== "string" || name.trim().length === 0)
    throw invalid("model name", String(name), "empty", hint);
  if (name.length > MAX_MODEL_NAME_LENGTH)
    throw invalid("model name", name, `longer than ${MAX_MODEL_NAME_LENGTH} characters`, hint);
  const bad = /[/@#\\]/.exec(name);
  if (bad) throw invalid("model name", name, `contains '${bad[0]}'`, hint);
  if (name.includes("..")) throw invalid("model name", name, "contains '..'", hint);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(name))
    throw invalid("model name", name, "contains control characters", hint);
  if (name === "__proto__") throw invalid("model name", name, "is reserved", hint);
}

/**
 * Checks an alias: MLflow's rule (`^[\w-]+$`, at most 255 characters), and neither `latest` nor
 * `v<digits>`, which MLflow reserves (they would read as a version).
 *
 * @example
 * validateAlias("champion"); // ok
 * validateAlias("v2");       // throws ERR_MTRACK_INVALID_NAME
 */
export function validateAlias(alias: unknown): asserts alias is string {
  const hint =
    "Use letters, digits, '_' and '-' (e.g. champion, staging); 'latest' and 'v<number>' are reserved.";
  if (typeof alias !== "string" || alias.length === 0) throw invalid("alias", String(alias), "empty", hint);
  if (alias.length > MAX_ALIAS_LENGTH)
    throw invalid("alias", alias, `longer than ${MAX_ALIAS_LENGTH} characters`, hint);
  if (!/^[\w-]+$/.test(alias))
    throw invalid("alias", alias, "contains characters other than letters, digits, '_', '-'", hint);
  if (alias.toLowerCase() === "latest" || /^v\d+$/i.test(alias))
    throw invalid("alias", alias, "is reserved", hint);
  if (alias === "__proto__") throw invalid("alias", alias, "is reserved", hint);
}

/**
 * Parses a version number as users write it: `3`, `"3"` or `v3`.
 *
 * @example
 * parseVersion("v3"); // 3
 */
export function parseVersion(text: unknown): number {
  const s = String(text).trim();
  const m = /^v?([1-9]\d{0,9})$/.exec(s);
  if (!m) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `Invalid model version ${JSON.stringify(s)}.`, {
      hint: "A version is a positive integer, e.g. 3 (or v3).",
      data: { version: s },
    });
  }
  return Number(m[1]);
}

/** MLflow's legacy stages, each kept as one alias (lowercase). */
export const STAGE_ALIASES: Record<string, string> = { Staging: "staging", Production: "production" };

/**
 * The legacy stage a version is in, from its aliases: Production wins over Staging; else "None".
 *
 * @example
 * stageOf(["champion", "production"]); // "Production"
 */
export function stageOf(aliases: readonly string[]): "Production" | "Staging" | "None" {
  if (aliases.includes("production")) return "Production";
  if (aliases.includes("staging")) return "Staging";
  return "None";
}

/**
 * Normalises a stage name as MLflow does (case-insensitive), or throws.
 *
 * @example
 * normaliseStage("production"); // "Production"
 */
export function normaliseStage(stage: unknown): "None" | "Staging" | "Production" | "Archived" {
  const s = String(stage ?? "").toLowerCase();
  for (const known of ["None", "Staging", "Production", "Archived"] as const)
    if (known.toLowerCase() === s) return known;
  throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `Invalid stage ${JSON.stringify(String(stage))}.`, {
    hint: "Stages are None, Staging, Production and Archived.",
    data: { stage },
  });
}
