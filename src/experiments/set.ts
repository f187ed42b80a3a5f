/**
 * `mtrack exp run -S` values: parsing `[+][file:]key=value` overrides, expanding sweeps (`a,b`,
 * `range(start, stop[, step])`, `choice(a, b)`) into a grid, and applying one grid point to params files.
 * Pure: the caller reads and writes the files.
 */

import { isMap, parseDocument } from "yaml";
import { MtrackError } from "../errors.js";

/** The params file an override without `file:` goes to. */
export const DEFAULT_PARAMS_FILE = "params.yaml";

/** One `-S` flag: where it goes and the values to try (one value: no sweep). */
export interface SetAxis {
  file: string;
  /** Dotted key inside the file (`train.lr`). */
  key: string;
  /** `+key=value`: the key may be new. */
  add: boolean;
  values: unknown[];
}

/** One grid point: file → dotted key → value, plus the axes it came from. */
export type Overrides = Array<{ file: string; key: string; add: boolean; value: unknown }>;

function invalid(text: string, why: string): MtrackError {
  return new MtrackError("ERR_MTRACK_EXP_SET_INVALID", `-S ${text}: ${why}.`, {
    data: { set: text },
    hint: "Write -S [file:]key=value, key=a,b, key=range(start, stop[, step]) or key=choice(a, b).",
  });
}

/** A scalar the way YAML reads it (`0.1` → 0.1, `true` → true, `adam` → "adam"). */
function scalar(text: string): unknown {
  const t = text.trim();
  if (t === "") return "";
  try {
    return parseDocument(t).toJS() as unknown;
  } catch {
    return t;
  }
}

/** Splits on commas outside brackets and quotes (`[1,2],3` → two values). */
function splitTop(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = "";
  let cur = "";
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = "";
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === "[" || ch === "{" || ch === "(") depth++;
    else if (ch === "]" || ch === "}" || ch === ")") depth--;
    if (ch === "," && depth === 0 && !quote) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function decimals(x: number): number {
  const s = String(x);
  const i = s.indexOf(".");
  return i < 0 ? 0 : s.length - i - 1;
}

/** The values of `range(start, stop[, step])`: stop excluded, as Python's range and DVC's. */
function expandRange(text: string, args: string[]): number[] {
  if (args.length < 2 || args.length > 3) throw invalid(text, "range() takes 2 or 3 numbers");
  const nums = args.map((a) => Number(a.trim()));
  if (nums.some((n) => !Number.isFinite(n)) || args.some((a) => a.trim() === ""))
    throw invalid(text, "range() takes numbers");
  const [start, stop, step = 1] = nums as [number, number, number?];
  if (step === 0) throw invalid(text, "range() step must not be 0");
  // Round to the inputs' decimals so range(0.1, 0.4, 0.1) gives 0.1, 0.2, 0.3, not 0.30000000000000004.
  const places = Math.max(decimals(start), decimals(step));
  const out: number[] = [];
  for (let i = 0; ; i++) {
    const v = Number((start + i * step).toFixed(places));
    if (step > 0 ? v >= stop : v <= stop) break;
    out.push(v);
    if (out.length > 100_000) throw invalid(text, "range() gives more than 100000 values");
  }
  if (out.length === 0) throw invalid(text, "range() is empty");
  return out;
}

/**
 * Parses one `-S` flag.
 *
 * @example
 * parseSet("lr=0.1,0.2");          // { file: "params.yaml", key: "lr", add: false, values: [0.1, 0.2] }
 * parseSet("train.yaml:opt.lr=range(1, 4)").values; // [1, 2, 3]
 * parseSet("+seed=choice(1, 2)").add;                 // true
 */
export function parseSet(text: string): SetAxis {
  const eq = text.indexOf("=");
  if (eq <= 0) throw invalid(text, "expected key=value");
  let lhs = text.slice(0, eq).trim();
  const rhs = text.slice(eq + 1).trim();
  let add = false;
  if (lhs.startsWith("+")) {
    add = true;
    lhs = lhs.slice(1);
  }
  let file = DEFAULT_PARAMS_FILE;
  const colon = lhs.lastIndexOf(":");
  if (colon >= 0) {
    file = lhs.slice(0, colon);
    lhs = lhs.slice(colon + 1);
    if (file === "") throw invalid(text, "empty file name before ':'");
  }
  if (lhs === "" || lhs.split(".").some((p) => p === "")) throw invalid(text, "empty key");
  const call = /^(range|choice)\s*\(/.exec(rhs);
  let values: unknown[];
  if (call) {
    if (!rhs.endsWith(")")) throw invalid(text, `${call[1]}( is not closed`);
    const inner = rhs.slice(call[0].length, -1);
    const args = splitTop(inner);
    if (call[1] === "range") values = expandRange(text, args);
    else {
      if (args.some((a) => a.trim() === "")) throw invalid(text, "choice() has an empty value");
      values = args.map(scalar);
    }
  } else {
    const parts = splitTop(rhs);
    values = parts.length > 1 ? parts.map(scalar) : [scalar(rhs)];
  }
  return { file, key: lhs, add, values };
}

/**
 * Every combination of the axes' values (the first axis varies slowest). One point when no axis sweeps.
 *
 * @example
 * expandGrid([parseSet("a=1,2"), parseSet("b=x,y")]).length; // 4
 */
export function expandGrid(axes: readonly SetAxis[]): Overrides[] {
  let points: Overrides[] = [[]];
  for (const axis of axes) {
    const next: Overrides[] = [];
    for (const p of points)
      for (const value of axis.values)
        next.push([...p, { file: axis.file, key: axis.key, add: axis.add, value }]);
    points = next;
  }
  return points;
}

/**
 * The new text of each changed params file: `texts` holds the current text of each file named by the
 * overrides (undefined when it does not exist). Comments and layout are kept. A key that is in no file
 * is refused (ERR_MTRACK_EXP_PARAM_UNKNOWN) unless the override was written `+key`.
 *
 * @example
 * applyOverrides({ "params.yaml": "lr: 0.1\n" }, [{ file: "params.yaml", key: "lr", add: false, value: 0.2 }]);
 * // { "params.yaml": "lr: 0.2\n" }
 */
export function applyOverrides(
  texts: Readonly<Record<string, string | undefined>>,
  overrides: Overrides,
): Record<string, string> {
  const docs = new Map<string, ReturnType<typeof parseDocument>>();
  for (const o of overrides) {
    let doc = docs.get(o.file);
    if (!doc) {
      const text = texts[o.file];
      if (text === undefined && !o.add) throw unknownKey(o.file, o.key, true);
      doc = parseDocument(text ?? "{}");
      if (doc.errors.length > 0)
        throw new MtrackError("ERR_MTRACK_PARAMS_INVALID", `${o.file}: ${doc.errors[0]?.message}`, {
          data: { file: o.file },
        });
      if (doc.contents === null) doc = parseDocument("{}");
      docs.set(o.file, doc);
    }
    const path = o.key.split(".");
    if (!o.add && !doc.hasIn(path)) throw unknownKey(o.file, o.key, false);
    if (!isMap(doc.contents)) throw unknownKey(o.file, o.key, false);
    doc.setIn(path, o.value);
  }
  const out: Record<string, string> = {};
  for (const [file, doc] of docs) out[file] = doc.toString();
  return out;
}

function unknownKey(file: string, key: string, missingFile: boolean): MtrackError {
  return new MtrackError(
    "ERR_MTRACK_EXP_PARAM_UNKNOWN",
    missingFile ? `${file} does not exist, so it has no key '${key}'.` : `${file} has no key '${key}'.`,
    {
      data: { file, key },
      hint: `Check the spelling, or write -S +${file === DEFAULT_PARAMS_FILE ? "" : `${file}:`}${key}=... to add a new key.`,
    },
  );
}

/** A short label of a grid point for progress lines: `lr=0.1 epochs=3`. */
export function describeOverrides(overrides: Overrides): string {
  return overrides
    .map((o) => `${o.file === DEFAULT_PARAMS_FILE ? "" : `${o.file}:`}${o.key}=${JSON.stringify(o.value)}`)
    .join(" ");
}
