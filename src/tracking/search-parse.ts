/**
 * Parser for run search expressions: MLflow's filter grammar (`metrics.val_acc > 0.9 and params.lr = '0.001'`)
 * plus `or` and parentheses, and MLflow's `order_by` clauses.
 *
 * The parser works on characters rather than on a separate token stream because the same text lexes
 * differently by position: `seed/a-1` is a key after `metrics.`, but would be nonsense as a value.
 * Every error is ERR_MTRACK_SEARCH_SYNTAX with the 1-based column of the offending character.
 */

import { MtrackError } from "../errors.js";

/** What a search key refers to. MLflow's aliases (`metric.`, `param.`, `attr.`, ...) are normalised. */
export type SearchKeyKind = "metric" | "param" | "tag" | "attribute";

/** A column of a run: `metrics.val_acc` is `{ kind: "metric", name: "val_acc" }`. */
export interface SearchKey {
  kind: SearchKeyKind;
  /** Metric/param/tag key as logged, or the canonical attribute name (`run_name`, `start_time`, ...). */
  name: string;
}

/** Comparison operators, upper-cased. */
export type ComparisonOp = "=" | "!=" | "<" | "<=" | ">" | ">=" | "LIKE" | "ILIKE" | "IN" | "NOT IN";

/** One `<key> <op> <value>` clause. */
export interface ComparisonNode {
  type: "compare";
  key: SearchKey;
  op: ComparisonOp;
  /** number for metrics and numeric attributes, boolean for `dirty`, string list for IN / NOT IN. */
  value: number | string | boolean | string[];
  /** 1-based column of the clause in the expression, for messages about it. */
  column: number;
}

/** A parsed filter expression. `all` is the empty filter, which matches every run. */
export type FilterNode =
  | { type: "all" }
  | { type: "and"; children: FilterNode[] }
  | { type: "or"; children: FilterNode[] }
  | ComparisonNode;

/** One order-by clause. */
export interface OrderByClause {
  key: SearchKey;
  direction: "ASC" | "DESC";
}

/** Value type of an attribute; decides which operators and literals it accepts (as MLflow does). */
export type AttributeType = "string" | "number" | "boolean";

/**
 * The run attributes a filter or order-by may name, with their types. Keys are canonical names;
 * MLflow's spellings (`name`, `run name`, `created`) are mapped by {@link ATTRIBUTE_ALIASES}.
 */
export const ATTRIBUTES: Readonly<Record<string, AttributeType>> = {
  run_id: "string",
  experiment_id: "string",
  experiment_name: "string",
  run_name: "string",
  status: "string",
  start_time: "number",
  end_time: "number",
  commit: "string",
  branch: "string",
  dirty: "boolean",
  deleted: "boolean",
  lifecycle_stage: "string",
};

const ATTRIBUTE_ALIASES: Readonly<Record<string, string>> = {
  name: "run_name",
  "run name": "run_name",
  created: "start_time",
  run_uuid: "run_id",
  experiment: "experiment_name",
};

const PREFIXES: Readonly<Record<string, SearchKeyKind>> = {
  metric: "metric",
  metrics: "metric",
  param: "param",
  params: "param",
  parameter: "param",
  parameters: "param",
  tag: "tag",
  tags: "tag",
  attribute: "attribute",
  attributes: "attribute",
  attr: "attribute",
  run: "attribute",
};

const NUMERIC_OPS: readonly ComparisonOp[] = ["=", "!=", "<", "<=", ">", ">="];
const STRING_OPS: readonly ComparisonOp[] = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];
const BOOLEAN_OPS: readonly ComparisonOp[] = ["=", "!="];

const SEARCH_HINT =
  "Write clauses as <key> <operator> <value>, e.g. metrics.val_acc > 0.9 and params.lr = '0.001'; " +
  "quote keys with special characters as metrics.`a/b`; string values need quotes.";

/**
 * Builds the ERR_MTRACK_SEARCH_SYNTAX error: the message repeats the expression with a caret under
 * `column` so a CLI user sees where it went wrong without counting characters.
 */
export function searchSyntaxError(expr: string, column: number, expected: string): MtrackError {
  // Tabs and newlines would shift the caret; they are one column each, like a space.
  const shown = expr.replace(/[\t\r\n]/g, " ");
  const caret = `${" ".repeat(column - 1)}^ expected ${expected}`;
  return new MtrackError(
    "ERR_MTRACK_SEARCH_SYNTAX",
    `Invalid search expression at column ${column}: expected ${expected}\n  ${shown}\n  ${caret}`,
    { hint: SEARCH_HINT, data: { expr, column, expected } },
  );
}

const WORD_START = /[A-Za-z_]/;
const WORD_CHAR = /[A-Za-z0-9_]/;
/** Unquoted metric/param/tag keys: MLflow's name characters minus space; `-` and `/` are never operators here. */
const BARE_KEY_CHAR = /[A-Za-z0-9_.\-/:]/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;

/** Character-level cursor over one expression; every method reports errors against the whole text. */
class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  fail(expected: string, at = this.pos): never {
    throw searchSyntaxError(this.text, at + 1, expected);
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos] ?? "";
  }

  /** Reads `[A-Za-z_][A-Za-z0-9_]*` at the cursor, or returns "" without moving. */
  word(): string {
    const start = this.pos;
    if (!WORD_START.test(this.peek())) return "";
    while (this.pos < this.text.length && WORD_CHAR.test(this.text[this.pos]!)) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** Consumes a case-insensitive keyword if it stands at the cursor as a whole word. */
  keyword(kw: string): boolean {
    this.skipSpace();
    const start = this.pos;
    const w = this.word();
    if (w.toUpperCase() === kw) return true;
    this.pos = start;
    return false;
  }

  /**
   * Reads a quoted string starting at the cursor (which holds the quote). A quote is escaped by doubling
   * it (SQL) or by a backslash; a backslash before anything else is kept, so Windows paths survive.
   */
  quoted(): string {
    const quote = this.peek();
    const start = this.pos;
    this.pos++;
    let out = "";
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (c === "\\" && (this.text[this.pos + 1] === quote || this.text[this.pos + 1] === "\\")) {
        out += this.text[this.pos + 1];
        this.pos += 2;
      } else if (c === quote) {
        if (this.text[this.pos + 1] === quote) {
          out += quote;
          this.pos += 2;
        } else {
          this.pos++;
          return out;
        }
      } else {
        out += c;
        this.pos++;
      }
    }
    return this.fail(`a closing ${quote} for the string that starts at column ${start + 1}`);
  }
}

function isQuote(c: string): boolean {
  return c === "'" || c === '"' || c === "`";
}

function resolveAttribute(s: Scanner, raw: string, at: number): SearchKey {
  const lower = raw.toLowerCase();
  const name = ATTRIBUTE_ALIASES[lower] ?? lower;
  if (!Object.hasOwn(ATTRIBUTES, name)) {
    s.fail(`an attribute name (one of ${Object.keys(ATTRIBUTES).join(", ")}), not '${raw}'`, at);
  }
  return { kind: "attribute", name };
}

/** Parses `<prefix>.<key>` or a bare/quoted attribute name at the cursor. */
function parseKey(s: Scanner): SearchKey {
  s.skipSpace();
  const start = s.pos;
  if (isQuote(s.peek())) return resolveAttribute(s, s.quoted(), start);
  const word = s.word();
  if (word === "") {
    return s.fail("a key such as metrics.<name>, params.<name>, tags.<name> or attributes.<name>");
  }
  if (s.peek() !== ".") return resolveAttribute(s, word, start);
  const kind = PREFIXES[word.toLowerCase()];
  if (kind === undefined) {
    const what = word.toLowerCase().startsWith("dataset") ? " (dataset filters are not supported)" : "";
    return s.fail(`metrics., params., tags. or attributes. before the key, not '${word}.'${what}`, start);
  }
  s.pos++;
  const keyStart = s.pos;
  let name: string;
  if (isQuote(s.peek())) {
    name = s.quoted();
  } else {
    while (s.pos < s.text.length && BARE_KEY_CHAR.test(s.text[s.pos]!)) s.pos++;
    name = s.text.slice(keyStart, s.pos);
  }
  if (name === "") return s.fail(`a key name after '${word}.'`, keyStart);
  if (kind === "attribute") return resolveAttribute(s, name, keyStart);
  return { kind, name };
}

function parseOperator(s: Scanner): ComparisonOp {
  s.skipSpace();
  const two = s.text.slice(s.pos, s.pos + 2);
  if (two === "!=" || two === "<=" || two === ">=") {
    s.pos += 2;
    return two;
  }
  const one = s.peek();
  if (one === "=" || one === "<" || one === ">") {
    s.pos++;
    return one;
  }
  const start = s.pos;
  const word = s.word().toUpperCase();
  if (word === "LIKE" || word === "ILIKE" || word === "IN") return word;
  if (word === "NOT" && s.keyword("IN")) return "NOT IN";
  return s.fail("a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)", start);
}

type RawValue =
  | { kind: "number"; value: number; at: number }
  | { kind: "string"; value: string; at: number }
  | { kind: "word"; value: string; at: number }
  | { kind: "list"; value: string[]; at: number };

function parseValue(s: Scanner, op: ComparisonOp): RawValue {
  s.skipSpace();
  const at = s.pos;
  if (op === "IN" || op === "NOT IN") {
    if (s.peek() !== "(") s.fail(`a parenthesised list of quoted strings after ${op}, e.g. ('a', 'b')`);
    s.pos++;
    const items: string[] = [];
    for (;;) {
      s.skipSpace();
      const c = s.peek();
      if (c !== "'" && c !== '"') s.fail("a quoted string in the list");
      items.push(s.quoted());
      s.skipSpace();
      if (s.peek() === ",") {
        s.pos++;
        continue;
      }
      if (s.peek() === ")") {
        s.pos++;
        return { kind: "list", value: items, at };
      }
      s.fail("',' or ')' in the list");
    }
  }
  const c = s.peek();
  if (c === "'" || c === '"') return { kind: "string", value: s.quoted(), at };
  const m = NUMBER.exec(s.text.slice(s.pos));
  if (m !== null) {
    s.pos += m[0].length;
    if (WORD_CHAR.test(s.peek()) || s.peek() === ".") s.fail("a number", at);
    return { kind: "number", value: Number(m[0]), at };
  }
  const word = s.word();
  if (word !== "") return { kind: "word", value: word, at };
  return s.fail("a value");
}

function describeKey(key: SearchKey): string {
  const prefix = { metric: "metrics", param: "params", tag: "tags", attribute: "attributes" }[key.kind];
  return `${prefix}.${key.name}`;
}

/** Applies MLflow's type rules: metrics and numeric attributes take numbers, the rest quoted strings. */
function typedComparison(
  s: Scanner,
  key: SearchKey,
  op: ComparisonOp,
  opAt: number,
  raw: RawValue,
  column: number,
): ComparisonNode {
  const type: AttributeType =
    key.kind === "metric" ? "number" : key.kind === "attribute" ? ATTRIBUTES[key.name]! : "string";
  const allowed = type === "number" ? NUMERIC_OPS : type === "boolean" ? BOOLEAN_OPS : STRING_OPS;
  if (!allowed.includes(op)) {
    s.fail(`one of ${allowed.join(", ")} for ${describeKey(key)} (${type} comparison), not ${op}`, opAt);
  }
  if (type === "number") {
    if (raw.kind !== "number") {
      s.fail(
        `a number for ${describeKey(key)}: it compares numerically, e.g. ${describeKey(key)} > 0.9`,
        raw.at,
      );
    }
    return { type: "compare", key, op, value: raw.value, column };
  }
  if (type === "boolean") {
    const text = raw.kind === "word" || raw.kind === "string" ? raw.value.toLowerCase() : "";
    if (text !== "true" && text !== "false") s.fail(`true or false for ${describeKey(key)}`, raw.at);
    return { type: "compare", key, op, value: text === "true", column };
  }
  if (raw.kind === "number" || raw.kind === "word") {
    s.fail(
      `a quoted string for ${describeKey(key)}: ${key.kind === "attribute" ? "attributes" : `${key.kind}s`} compare as strings, e.g. '${raw.value}'`,
      raw.at,
    );
  }
  return { type: "compare", key, op, value: raw.value, column };
}

function parseComparison(s: Scanner): ComparisonNode {
  s.skipSpace();
  const column = s.pos + 1;
  const key = parseKey(s);
  s.skipSpace();
  const opAt = s.pos;
  const op = parseOperator(s);
  const raw = parseValue(s, op);
  return typedComparison(s, key, op, opAt, raw, column);
}

function parsePrimary(s: Scanner, depth: number): FilterNode {
  s.skipSpace();
  if (s.peek() === "(") {
    const open = s.pos;
    s.pos++;
    const inner = parseOr(s, depth + 1);
    s.skipSpace();
    if (s.peek() !== ")") s.fail(`AND, OR or ')' to close the '(' at column ${open + 1}`);
    s.pos++;
    return inner;
  }
  return parseComparison(s);
}

function parseAnd(s: Scanner, depth: number): FilterNode {
  const children = [parsePrimary(s, depth)];
  while (s.keyword("AND")) children.push(parsePrimary(s, depth));
  return children.length === 1 ? children[0]! : { type: "and", children };
}

function parseOr(s: Scanner, depth: number): FilterNode {
  const children = [parseAnd(s, depth)];
  while (s.keyword("OR")) children.push(parseAnd(s, depth));
  return children.length === 1 ? children[0]! : { type: "or", children };
}

/**
 * Parses a run filter. `and` binds tighter than `or`; both are case-insensitive. An empty expression
 * matches every run.
 *
 * @example
 * parseFilter("metrics.val_acc > 0.9 and (params.opt = 'adam' or tags.phase LIKE 'phase_%')")
 * parseFilter("attributes.status IN ('FINISHED', 'KILLED') and metrics.`seed/seed1_1/alpha` <= 1e-3")
 */
export function parseFilter(expr: string): FilterNode {
  const s = new Scanner(expr);
  if (s.atEnd()) return { type: "all" };
  const node = parseOr(s, 0);
  if (!s.atEnd()) {
    if (s.peek() === ")") s.fail("AND, OR or the end of the expression (this ')' has no matching '(')");
    s.fail("AND, OR or the end of the expression");
  }
  return node;
}

/** Splits on commas that are outside quotes, remembering where each piece starts. */
function splitTopLevel(text: string): { part: string; offset: number }[] {
  const parts: { part: string; offset: number }[] = [];
  let quote = "";
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== "") {
      if (c === quote) quote = "";
    } else if (isQuote(c)) {
      quote = c;
    } else if (c === ",") {
      parts.push({ part: text.slice(start, i), offset: start });
      start = i + 1;
    }
  }
  parts.push({ part: text.slice(start), offset: start });
  return parts;
}

/**
 * Parses MLflow order-by clauses (`<key> [ASC|DESC]`, default ASC). A single string may hold several
 * clauses separated by commas, which is what a `--sort` flag receives.
 *
 * @example
 * parseOrderBy(["metrics.val_acc DESC", "attributes.start_time"])
 * parseOrderBy("params.lr, metrics.`val/loss` asc")
 */
export function parseOrderBy(exprs: string[] | string): OrderByClause[] {
  const list = typeof exprs === "string" ? [exprs] : exprs;
  const clauses: OrderByClause[] = [];
  for (const expr of list) {
    const pieces = splitTopLevel(expr);
    if (pieces.length === 1 && pieces[0]!.part.trim() === "") continue;
    for (const { part, offset } of pieces) {
      const s = new Scanner(expr);
      s.pos = offset;
      s.skipSpace();
      if (s.pos >= offset + part.length) s.fail("a key to order by, e.g. metrics.val_acc DESC");
      const key = parseKey(s);
      let direction: "ASC" | "DESC" = "ASC";
      if (s.keyword("DESC")) direction = "DESC";
      else s.keyword("ASC");
      s.skipSpace();
      if (s.pos < offset + part.length) s.fail("ASC, DESC, ',' or the end of the clause");
      clauses.push({ key, direction });
    }
  }
  return clauses;
}
