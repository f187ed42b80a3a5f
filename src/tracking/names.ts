/**
 * Validation of the names users give to params, metrics, tags and artifacts. Pure functions: they throw
 * ERR_MTRACK_INVALID_NAME and never touch the disk.
 */

import { MtrackError } from "../errors.js";

/** MLflow's MAX_ENTITY_KEY_LENGTH. */
export const MAX_KEY_LENGTH = 250;
/** Longest artifact name (a relative posix path). */
export const MAX_ARTIFACT_NAME_LENGTH = 1024;
/** Longest param value (MLflow's MAX_PARAM_VAL_LENGTH). */
export const MAX_PARAM_VALUE_LENGTH = 6000;
/** Longest tag value (MLflow's MAX_TAG_VAL_LENGTH). */
export const MAX_TAG_VALUE_LENGTH = 5000;
/** Longest experiment or run name (MLflow's MAX_EXPERIMENT_NAME_LENGTH). */
export const MAX_RUN_NAME_LENGTH = 500;

const KEY_CHARS = /^[A-Za-z0-9_\-./ ]+$/;

/** The kinds of keys a run holds; used in error data so the CLI can say which one was wrong. */
export type KeyKind = "metric" | "param" | "tag";

function invalid(kind: string, name: string, reason: string, hint: string): MtrackError {
  return new MtrackError(
    "ERR_MTRACK_INVALID_NAME",
    `Invalid ${kind} name ${JSON.stringify(name)}: ${reason}.`,
    {
      hint,
      data: { kind, name, reason },
    },
  );
}

/**
 * Checks a metric/param/tag key: MLflow's charset (letters, digits, `_ - . /` and space), 1–250 chars,
 * no path-like tricks (`..` segments, a leading `/`) since keys double as file names in exports, and not
 * `__proto__`.
 *
 * @example
 * validateKey("metric", "val/acc"); // ok
 * validateKey("param", "a;b");      // throws ERR_MTRACK_INVALID_NAME
 */
export function validateKey(kind: KeyKind, key: unknown): asserts key is string {
  const hint = `Use 1-${MAX_KEY_LENGTH} characters from letters, digits, '_', '-', '.', '/' and space.`;
  if (typeof key !== "string" || key.length === 0)
    throw invalid(kind, String(key), "empty or not a string", hint);
  if (key.length > MAX_KEY_LENGTH) throw invalid(kind, key, `longer than ${MAX_KEY_LENGTH} characters`, hint);
  if (!KEY_CHARS.test(key)) throw invalid(kind, key, "contains characters outside the allowed set", hint);
  if (key.startsWith("/") || key.split("/").some((s) => s === ".." || s === ".")) {
    throw invalid(kind, key, "contains '.' or '..' path segments or starts with '/'", hint);
  }
  // Keys become property names of plain objects (summaries, JSON); this one would set their prototype.
  if (key === "__proto__") throw invalid(kind, key, "is reserved", hint);
}

/**
 * Checks an artifact name: a relative posix path without `.`/`..`/empty segments, backslashes or NUL,
 * 1–1024 chars. Such a name can never resolve outside the run's artifact namespace.
 *
 * @example
 * validateArtifactName("plots/loss.png"); // ok
 * validateArtifactName("../x");           // throws ERR_MTRACK_INVALID_NAME
 */
export function validateArtifactName(name: unknown): asserts name is string {
  const hint = "Use a relative path like 'plots/loss.png' (no '..', no leading '/', no empty segments).";
  if (typeof name !== "string" || name.length === 0) {
    throw invalid("artifact", String(name), "empty or not a string", hint);
  }
  if (name.length > MAX_ARTIFACT_NAME_LENGTH) {
    throw invalid("artifact", name, `longer than ${MAX_ARTIFACT_NAME_LENGTH} characters`, hint);
  }
  if (name.includes("\\") || name.includes("\0")) {
    throw invalid("artifact", name, "contains a backslash or NUL", hint);
  }
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) throw invalid("artifact", name, "is absolute", hint);
  for (const segment of name.split("/")) {
    if (segment === "" || segment === "." || segment === "..") {
      throw invalid("artifact", name, "has an empty, '.' or '..' segment", hint);
    }
  }
}

/**
 * Checks an experiment or run name: non-empty, at most 500 characters, no control characters.
 *
 * @example
 * validateDisplayName("experiment", "lr sweep"); // ok
 */
export function validateDisplayName(kind: "experiment" | "run", name: unknown): asserts name is string {
  const hint = `Use 1-${MAX_RUN_NAME_LENGTH} printable characters.`;
  if (typeof name !== "string" || name.trim().length === 0) {
    throw invalid(kind, String(name), "empty or not a string", hint);
  }
  if (name.length > MAX_RUN_NAME_LENGTH) {
    throw invalid(kind, name, `longer than ${MAX_RUN_NAME_LENGTH} characters`, hint);
  }
  if (/[\u0000-\u001f\u007f]/.test(name)) throw invalid(kind, name, "contains control characters", hint);
}

/** True for a full run id: 32 lowercase hex characters. */
export function isRunId(value: string): boolean {
  return /^[0-9a-f]{32}$/.test(value);
}
