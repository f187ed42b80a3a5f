/**
 * Parameter files (params.yaml and friends): parsing into nested values, dotted-key lookup, flattening
 * for diffs, and picking the keys a stage declared.
 */
import { parse as parseToml } from "smol-toml";
import { parseDocument } from "yaml";
import { MtrackError } from "../errors.js";

/** A parsed params file: a mapping whose values may be scalars, lists or mappings. */
export type ParamsObject = Record<string, unknown>;

/** True for plain mappings (not lists, not null). */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses the text of a params file. YAML and JSON are read by the YAML parser (JSON is YAML); `.toml` files
 * by a TOML parser (dates become their ISO 8601 text, as a YAML timestamp read as a string would be).
 *
 * @example
 * parseParamsText("train:\n  lr: 0.01\n", "params.yaml") // → { train: { lr: 0.01 } }
 * parseParamsText("[train]\nlr = 0.01\n", "params.toml") // → { train: { lr: 0.01 } }
 */
export function parseParamsText(text: string, file: string): ParamsObject {
  if (/\.toml$/i.test(file)) return parseTomlParams(text, file);
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const [line, column] = first.linePos?.[0] ? [first.linePos[0].line, first.linePos[0].col] : [1, 1];
    throw new MtrackError("ERR_MTRACK_PARAMS_INVALID", `${file}:${line}:${column}: ${first.message}`, {
      hint: "Fix the syntax of the params file.",
      data: { file, line, column },
    });
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (!isMapping(value)) {
    throw new MtrackError("ERR_MTRACK_PARAMS_INVALID", `${file}: the top level must be a mapping of keys.`, {
      hint: "Write the parameters as `key: value` lines.",
      data: { file, line: 1, column: 1 },
    });
  }
  return value;
}

function parseTomlParams(text: string, file: string): ParamsObject {
  let value: unknown;
  try {
    value = parseToml(text);
  } catch (err) {
    const e = err as { line?: number; column?: number; message?: string };
    const line = e.line ?? 1;
    const column = e.column ?? 1;
    // The parser's message carries a code excerpt after its first line: file:line:column says where.
    const why = String(e.message ?? err)
      .split("\n")[0]!
      .replace(/^Invalid TOML document: /, "");
    throw new MtrackError("ERR_MTRACK_PARAMS_INVALID", `${file}:${line}:${column}: ${why}`, {
      hint: "Fix the syntax of the params file.",
      data: { file, line, column },
    });
  }
  return plainToml(value) as ParamsObject;
}

/** TOML values as plain JSON-like data: ordinary objects, dates as ISO 8601 text. */
function plainToml(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plainToml);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainToml(v);
    return out;
  }
  return value;
}

/** The outcome of a dotted-key lookup; `found: false` distinguishes a missing key from a null value. */
export type Lookup = { found: true; value: unknown } | { found: false };

/**
 * Looks up a dotted key (`train.lr`, `layers.0` for a list index). A key that itself contains dots
 * (`"a.b": 1`) is matched before descending, as DVC does.
 *
 * @example
 * getParam({ train: { lr: 0.1 } }, "train.lr") // → { found: true, value: 0.1 }
 */
export function getParam(obj: unknown, key: string): Lookup {
  const direct = childOf(obj, key);
  if (direct.found) return direct;
  const parts = key.split(".");
  // Try the longest literal prefix first so `{"a.b": {c: 1}}` answers `a.b.c`.
  for (let i = parts.length - 1; i >= 1; i--) {
    const head = parts.slice(0, i).join(".");
    const child = childOf(obj, head);
    if (child.found) {
      const rest = getParam(child.value, parts.slice(i).join("."));
      if (rest.found) return rest;
    }
  }
  return { found: false };
}

function childOf(obj: unknown, key: string): Lookup {
  if (isMapping(obj)) return Object.hasOwn(obj, key) ? { found: true, value: obj[key] } : { found: false };
  if (Array.isArray(obj) && /^\d+$/.test(key)) {
    const i = Number(key);
    return i < obj.length ? { found: true, value: obj[i] } : { found: false };
  }
  return { found: false };
}

/**
 * Flattens nested mappings to dotted keys; lists and scalars are leaves (a list is one value, as in
 * `dvc params diff`).
 *
 * @example
 * flattenParams({ a: { b: 1, c: [1, 2] } }) // → { "a.b": 1, "a.c": [1, 2] }
 */
export function flattenParams(obj: ParamsObject, prefix = ""): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isMapping(v) && Object.keys(v).length > 0) Object.assign(out, flattenParams(v, key));
    else out[key] = v;
  }
  return out;
}

/**
 * The values of the declared keys (a key naming a mapping selects its whole subtree); `null` in `keys`
 * selects every top-level key. Missing keys are returned in `missing` instead of throwing, so callers
 * decide whether that is an error (parse) or a change (staleness).
 *
 * @example
 * pickParams({ train: { lr: 1, bs: 2 } }, ["train.lr"]) // → { values: { "train.lr": 1 }, missing: [] }
 */
export function pickParams(
  obj: ParamsObject,
  keys: ReadonlyArray<string | null>,
): { values: Record<string, unknown>; missing: string[] } {
  const values: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const key of keys) {
    if (key === null) {
      Object.assign(values, obj);
      continue;
    }
    const hit = getParam(obj, key);
    if (hit.found) values[key] = hit.value;
    else missing.push(key);
  }
  return { values, missing };
}
