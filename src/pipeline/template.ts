/**
 * `${...}` interpolation for pipeline files, over YAML nodes that remember where they came from, so every
 * error names `file:line:column`.
 *
 * Values come from a {@link TemplateContext}: the default params file, `vars:` (inline mappings or
 * `file.yaml[:keys]`), and per-stage generated values (`item`, `key`). Reads from params files are
 * reported to a tracker so the stage can depend on them.
 */
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  Scalar,
} from "yaml";
import { MtrackError } from "../errors.js";
import { isMapping } from "./params.js";
import type { SourcePos } from "./types.js";

/** A YAML value with its position; mappings keep their keys' positions for "unknown key" errors. */
export type LNode =
  | { kind: "scalar"; value: unknown; pos: SourcePos; raw?: boolean; locate?: Locator }
  | { kind: "seq"; items: LNode[]; pos: SourcePos }
  | { kind: "map"; entries: LEntry[]; pos: SourcePos };

/**
 * Finds `needle` in a scalar's source text at or after `from`: exact positions inside block scalars
 * (`cmd: |`) and quoted strings with escapes, where "start + index" would be wrong.
 */
export type Locator = (needle: string, from: number) => { pos: SourcePos; next: number } | undefined;

/** One `key: value` of a mapping. */
export interface LEntry {
  key: string;
  keyPos: SourcePos;
  value: LNode;
}

/** Where the parser's offsets are turned into line/column. */
export interface SourceInfo {
  file: string;
  lineCounter: LineCounter;
  /** Needed to resolve `*alias` nodes. */
  doc: Document;
  /** The source text, to locate `${...}` inside scalars. */
  text: string;
}

/** Position of a character offset in the source. */
export function posAt(src: SourceInfo, offset: number): SourcePos {
  const { line, col } = src.lineCounter.linePos(offset);
  return { file: src.file, line, column: col };
}

/** Formats a position the way editors and compilers do: `pipeline.yaml:12:5`. */
export function fmtPos(pos: SourcePos): string {
  return `${pos.file}:${pos.line}:${pos.column}`;
}

/** Data payload of a positioned error. */
export function posData(pos: SourcePos, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { file: pos.file, line: pos.line, column: pos.column, ...extra };
}

/**
 * Converts a parsed YAML node to an {@link LNode}. Aliases are resolved; `null`/missing nodes become a null
 * scalar at `fallback`.
 */
export function toLNode(node: unknown, src: SourceInfo, fallback: SourcePos): LNode {
  if (node === null || node === undefined) return { kind: "scalar", value: null, pos: fallback };
  const n = node as Node;
  const pos = n.range ? posAt(src, n.range[0]) : fallback;
  if (isAlias(n)) return toLNode(n.resolve(src.doc), src, pos);
  if (isScalar(n)) {
    // Quoted scalars start with the quote, so offsets inside the value are one column further.
    const quoted = n.type === Scalar.QUOTE_DOUBLE || n.type === Scalar.QUOTE_SINGLE;
    const valuePos = quoted ? { ...pos, column: pos.column + 1 } : pos;
    const node: LNode = { kind: "scalar", value: n.value, pos: valuePos };
    if (typeof n.value === "string" && n.value.includes("$") && n.range) {
      const start = n.range[0];
      const raw = src.text.slice(start, n.range[1]);
      node.locate = (needle, from) => {
        const i = raw.indexOf(needle, from);
        return i < 0 ? undefined : { pos: posAt(src, start + i), next: i + needle.length };
      };
    }
    return node;
  }
  if (isSeq(n)) return { kind: "seq", items: n.items.map((item) => toLNode(item, src, pos)), pos };
  if (isMap(n)) {
    const entries: LEntry[] = [];
    const merged: LEntry[] = [];
    for (const pair of n.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as Node | null;
      const keyPos = keyNode?.range ? posAt(src, keyNode.range[0]) : pos;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const value = toLNode(pair.value, src, keyPos);
      // `<<: *base` (YAML merge keys, which DVC's parser accepts): explicit keys win over merged ones.
      if (key === "<<" && (value.kind === "map" || value.kind === "seq")) {
        const sources = value.kind === "map" ? [value] : value.items;
        for (const m of sources) if (m.kind === "map") merged.push(...m.entries);
        continue;
      }
      entries.push({ key, keyPos, value });
    }
    for (const m of merged) if (!entries.some((e) => e.key === m.key)) entries.push(m);
    return { kind: "map", entries, pos };
  }
  return { kind: "scalar", value: null, pos };
}

/** Turns an LNode back into a plain JS value. */
export function toValue(node: LNode): unknown {
  switch (node.kind) {
    case "scalar":
      return node.value;
    case "seq":
      return node.items.map(toValue);
    case "map":
      return Object.fromEntries(node.entries.map((e) => [e.key, toValue(e.value)]));
  }
}

/** Wraps a plain value (from a params file) as an LNode, every part at `pos`. */
export function fromValue(value: unknown, pos: SourcePos): LNode {
  if (Array.isArray(value)) return { kind: "seq", items: value.map((v) => fromValue(v, pos)), pos };
  if (isMapping(value)) {
    return {
      kind: "map",
      entries: Object.entries(value).map(([key, v]) => ({ key, keyPos: pos, value: fromValue(v, pos) })),
      pos,
    };
  }
  return { kind: "scalar", value, pos, raw: true };
}

/** Where a top-level context name came from: a params/vars file (tracked) or inline/generated (not). */
export type VarSource = { kind: "file"; file: string } | { kind: "inline" };

/** Receives every params-file key that interpolation read. */
export type ParamTracker = (file: string, key: string, pos: SourcePos) => void;

/**
 * The names visible to `${...}`. Immutable: {@link TemplateContext.with} returns a new context, so a
 * stage's generated `item` never leaks into the next stage.
 *
 * @example
 * const ctx = new TemplateContext().with({ lr: 0.1 }, { kind: "file", file: "params.yaml" }, pos);
 * interpolate(node, ctx, track);
 */
export class TemplateContext {
  private readonly names: ReadonlyMap<string, { value: unknown; source: VarSource }>;

  constructor(names: ReadonlyMap<string, { value: unknown; source: VarSource }> = new Map()) {
    this.names = names;
  }

  /**
   * Adds the top-level keys of `values`. Redefining a name from another source is an error, as in DVC,
   * unless `override` (used for generated `item`/`key`, which shadow on purpose).
   */
  with(
    values: Record<string, unknown>,
    source: VarSource,
    pos: SourcePos,
    override = false,
  ): TemplateContext {
    const next = new Map(this.names);
    for (const [k, v] of Object.entries(values)) {
      const prev = next.get(k);
      if (prev && !override && !sameSource(prev.source, source)) {
        throw new MtrackError(
          "ERR_MTRACK_INTERPOLATION",
          `${fmtPos(pos)}: cannot redefine '${k}' (already defined by ${describeSource(prev.source)}).`,
          {
            hint: "Rename one of the variables, or load only some keys with `file.yaml:key1,key2`.",
            data: posData(pos, { key: k }),
          },
        );
      }
      next.set(k, { value: v, source });
    }
    return new TemplateContext(next);
  }

  /** Resolves `a.b[0].c`; returns undefined when any part is missing. */
  lookup(path: ReadonlyArray<string | number>): { value: unknown; source: VarSource } | undefined {
    const [head, ...rest] = path;
    const entry = typeof head === "string" ? this.names.get(head) : undefined;
    if (!entry) return undefined;
    let value = entry.value;
    for (const part of rest) {
      if (typeof part === "number") {
        if (!Array.isArray(value) || part >= value.length) return undefined;
        value = value[part];
      } else {
        if (!isMapping(value) || !Object.hasOwn(value, part)) return undefined;
        value = value[part];
      }
    }
    return { value, source: entry.source };
  }
}

function sameSource(a: VarSource, b: VarSource): boolean {
  return a.kind === b.kind && (a.kind === "inline" || (b.kind === "file" && a.file === b.file));
}

function describeSource(s: VarSource): string {
  return s.kind === "file" ? s.file : "inline vars";
}

/** The interpolation opener, spelled so linters do not mistake it for a template-literal slip. */
const OPEN = "$" + "{";

const NAME = /^[^.[\]\s${}]+/;

/** Parses `a.b[0].c` into `["a", "b", 0, "c"]`; undefined when malformed. */
export function parseExpression(expr: string): Array<string | number> | undefined {
  const parts: Array<string | number> = [];
  let rest = expr.trim();
  const first = NAME.exec(rest);
  if (!first) return undefined;
  parts.push(first[0]);
  rest = rest.slice(first[0].length);
  while (rest.length > 0) {
    const index = /^\[\s*(\d+)\s*\]/.exec(rest);
    if (index) {
      parts.push(Number(index[1]));
      rest = rest.slice(index[0].length);
      continue;
    }
    const dotted = /^\.([^.[\]\s${}]+)/.exec(rest);
    if (!dotted) return undefined;
    parts.push(dotted[1]!);
    rest = rest.slice(dotted[0].length);
  }
  return parts;
}

/** The params key interpolation depends on: dotted names up to the first list index (the whole list). */
function trackedKey(path: ReadonlyArray<string | number>): string {
  const names: string[] = [];
  for (const p of path) {
    if (typeof p === "number") break;
    names.push(p);
  }
  return names.join(".");
}

/**
 * Interpolates one string. A string that is exactly one `${x}` keeps x's type (a list stays a list); in a
 * longer string values are stringified and mappings/lists are rejected. `\${` yields a literal `${`.
 *
 * @example
 * interpolateString("lr=${train.lr}", pos, ctx, track) // → "lr=0.01"
 */
export function interpolateString(
  s: string,
  pos: SourcePos,
  ctx: TemplateContext,
  track: ParamTracker,
  locate?: Locator,
  unpack = false,
): unknown {
  const pieces: Array<{ text: string } | { value: unknown }> = [];
  let text = "";
  let i = 0;
  let cursor = 0;
  while (i < s.length) {
    if (s.startsWith(`\\${OPEN}`, i)) {
      text += "${";
      i += 3;
      continue;
    }
    if (!s.startsWith(OPEN, i)) {
      text += s[i];
      i += 1;
      continue;
    }
    const end = s.indexOf("}", i + 2);
    const found = locate?.(end < 0 ? OPEN : s.slice(i, end + 1), cursor);
    if (found) cursor = found.next;
    const at = found?.pos ?? { ...pos, column: pos.column + i };
    if (end < 0) {
      throw new MtrackError("ERR_MTRACK_INTERPOLATION", `${fmtPos(at)}: unclosed '\${' in "${s}".`, {
        hint: "Close the expression with '}', or write '\\${' for a literal '${'.",
        data: posData(at),
      });
    }
    const expr = s.slice(i + 2, end);
    const path = parseExpression(expr);
    if (!path) {
      throw new MtrackError("ERR_MTRACK_INTERPOLATION", `${fmtPos(at)}: cannot parse '\${${expr}}'.`, {
        hint: `Use dotted names and list indexes, e.g. ${OPEN}train.lr} or ${OPEN}layers[0]}.`,
        data: posData(at, { expression: expr }),
      });
    }
    const hit = ctx.lookup(path);
    if (!hit) {
      const key = expr.trim();
      throw new MtrackError("ERR_MTRACK_PARAM_MISSING", `${fmtPos(at)}: '${key}' is not defined.`, {
        hint: "Define it in params.yaml or under `vars:`, or fix the name.",
        data: posData(at, { key }),
      });
    }
    if (hit.source.kind === "file") track(hit.source.file, trackedKey(path), at);
    if (text) pieces.push({ text });
    text = "";
    pieces.push({ value: hit.value });
    i = end + 1;
  }
  if (text) pieces.push({ text });
  const only = pieces[0];
  if (pieces.length === 1 && only && "value" in only) return only.value;
  return pieces
    .map((p) => {
      if ("text" in p) return p.text;
      if (unpack && isMapping(p.value)) return unpackArgs(p.value);
      if (typeof p.value === "object" && p.value !== null) {
        throw new MtrackError(
          "ERR_MTRACK_INTERPOLATION",
          `${fmtPos(pos)}: cannot put a ${Array.isArray(p.value) ? "list" : "mapping"} inside the string "${s}".`,
          {
            hint: "Interpolate a scalar here, or make the whole value `$" + "{...}` to keep the list.",
            data: posData(pos),
          },
        );
      }
      return String(p.value);
    })
    .join("");
}

/**
 * Interpolates every string (not mapping keys) in a node tree. Values coming from params files are not
 * re-interpolated.
 */
export function interpolate(
  node: LNode,
  ctx: TemplateContext,
  track: ParamTracker,
  options: { unpack?: boolean } = {},
): LNode {
  switch (node.kind) {
    case "scalar": {
      if (node.raw || typeof node.value !== "string" || !node.value.includes("${")) return node;
      const value = interpolateString(node.value, node.pos, ctx, track, node.locate, options.unpack);
      return typeof value === "object" && value !== null
        ? fromValue(value, node.pos)
        : { kind: "scalar", value, pos: node.pos, raw: true };
    }
    case "seq":
      return { ...node, items: node.items.map((item) => interpolate(item, ctx, track, options)) };
    case "map":
      return {
        ...node,
        // Keys too: `- models/${item}.bin: {persist: true}` and `{${file}: [keys]}` are common.
        entries: node.entries.map((e) => ({
          ...e,
          key: e.key.includes("${") ? String(interpolateString(e.key, e.keyPos, ctx, track)) : e.key,
          value: interpolate(e.value, ctx, track),
        })),
      };
  }
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function argValue(v: unknown): string {
  return typeof v === "string" ? shellQuote(v) : String(v);
}

/**
 * DVC's dict unpacking in `cmd`: `${opts}` with `{lr: 0.1, fast: true, tags: [a, b], sub: {k: x}}` becomes
 * `--lr 0.1 --fast --tags 'a' 'b' --sub.k 'x'` (false booleans are left out).
 *
 * @example
 * unpackArgs({ lr: 0.1, fast: true }) // → "--lr 0.1 --fast"
 */
export function unpackArgs(obj: Record<string, unknown>, prefix = ""): string {
  const args: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const flag = `--${prefix}${k}`;
    if (isMapping(v)) args.push(unpackArgs(v, `${prefix}${k}.`));
    else if (v === true) args.push(flag);
    else if (v === false || v === null || v === undefined) continue;
    else if (Array.isArray(v)) args.push([flag, ...v.map(argValue)].join(" "));
    else args.push(`${flag} ${argValue(v)}`);
  }
  return args.filter(Boolean).join(" ");
}
