/**
 * Filters and orderings of the registry's searches (logged models, registered models, model versions),
 * in MLflow's grammar for them: clauses `<key> <op> <value>` joined by AND, where a key is an attribute
 * (`name`, `attributes.source_run_id`), `tags.<key>` or `params.<key>` (backticks or double quotes
 * around keys with special characters). Run search has its own, richer parser (tracking/search-parse.ts);
 * these searches need far less and name different attributes. Pure.
 */
import { MtrackError } from "../errors.js";
import { likeMatch } from "../tracking/search.js";

/** What a clause's key names. */
export type RegistryKeyKind = "attribute" | "tag" | "param";

/** One `<key> <op> <value>` clause. */
export interface RegistryClause {
  kind: RegistryKeyKind;
  /** The attribute's canonical name, or the tag / param key. */
  name: string;
  op: "=" | "!=" | "<" | "<=" | ">" | ">=" | "LIKE" | "ILIKE" | "IN" | "NOT IN";
  value: string | number | string[];
}

/** The attributes one search accepts: canonical name → value type; `aliases` maps other spellings. */
export interface RegistrySearchSchema {
  attributes: Readonly<Record<string, "string" | "number">>;
  aliases?: Readonly<Record<string, string>>;
  /** Whether `params.<key>` is allowed (logged models only). */
  params?: boolean;
}

/** The values a search reads from one item. */
export interface RegistryItemView {
  attribute(name: string): string | number | null;
  tags: Readonly<Record<string, string>>;
  params?: Readonly<Record<string, string>>;
}

function syntax(expr: string, reason: string): MtrackError {
  return new MtrackError("ERR_MTRACK_SEARCH_SYNTAX", `Invalid filter ${JSON.stringify(expr)}: ${reason}.`, {
    hint: "Write clauses as <key> <op> <value> joined by AND, e.g. name LIKE '%clf%' AND tags.team = 'ml'.",
    data: { expr, reason },
  });
}

/** Splits on AND outside quotes and parentheses. */
function splitAnd(expr: string): string[] {
  const parts: string[] = [];
  let quote: string | undefined;
  let depth = 0;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || c === '"' || c === "`") quote = c;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (depth === 0 && /\s/.test(expr[i - 1] ?? " ") && /^and\s/i.test(expr.slice(i, i + 4))) {
      parts.push(expr.slice(start, i));
      start = i + 3;
    }
  }
  parts.push(expr.slice(start));
  return parts.map((p) => p.trim());
}

const CLAUSE =
  /^(?:(?<prefix>[A-Za-z_]+)\.)?(?:`(?<bq>[^`]+)`|"(?<dq>[^"]+)"|(?<bare>[A-Za-z0-9_.\-/:]+))\s*(?<op>!=|<=|>=|=|<|>|NOT\s+IN\b|IN\b|ILIKE\b|LIKE\b)\s*(?<value>.+)$/is;

function parseValue(expr: string, raw: string): string | number | string[] {
  const v = raw.trim();
  const q = /^(['"])(.*)\1$/s.exec(v);
  if (q) return q[2]!;
  if (/^[+-]?\d+(\.\d+)?$/.test(v)) return Number(v);
  const list = /^\((.*)\)$/s.exec(v);
  if (list) {
    return list[1]!.split(",").map((s) => {
      const m = /^\s*(['"])(.*)\1\s*$/s.exec(s);
      if (!m) throw syntax(expr, `${s.trim()} in the IN list is not a quoted string`);
      return m[2]!;
    });
  }
  throw syntax(expr, `${v} is not a quoted string or a number`);
}

/**
 * Parses a filter for one kind of registry search; "" matches everything.
 *
 * @example
 * parseRegistryFilter("name LIKE '%clf%' AND tags.team = 'ml'", { attributes: { name: "string" } });
 * // [{ kind: "attribute", name: "name", op: "LIKE", value: "%clf%" }, { kind: "tag", name: "team", ... }]
 */
export function parseRegistryFilter(
  expr: string | undefined,
  schema: RegistrySearchSchema,
): RegistryClause[] {
  if (expr === undefined || expr.trim() === "") return [];
  return splitAnd(expr).map((part) => {
    const m = CLAUSE.exec(part);
    if (!m?.groups) throw syntax(expr, `${JSON.stringify(part)} is not <key> <op> <value>`);
    const g = m.groups;
    const key = (g.bq ?? g.dq ?? g.bare)!;
    const prefix = g.prefix?.toLowerCase();
    const op = g.op!.toUpperCase().replace(/\s+/g, " ") as RegistryClause["op"];
    const value = parseValue(expr, g.value!);
    let kind: RegistryKeyKind;
    let name = key;
    if (prefix === "tag" || prefix === "tags") kind = "tag";
    else if ((prefix === "param" || prefix === "params") && schema.params) kind = "param";
    else if (prefix === undefined || prefix === "attribute" || prefix === "attributes" || prefix === "attr") {
      kind = "attribute";
      name = schema.aliases?.[key] ?? key;
      const type = schema.attributes[name];
      if (type === undefined) throw syntax(expr, `${key} is not an attribute this search knows`);
      if (type === "number" ? typeof value !== "number" : typeof value === "number")
        throw syntax(expr, `${key} compares with a ${type}`);
      if (type === "string" && ["<", "<=", ">", ">="].includes(op))
        throw syntax(expr, `${op} does not compare strings`);
    } else throw syntax(expr, `${prefix}. is not a key prefix this search knows`);
    if (kind !== "attribute" && typeof value === "number")
      throw syntax(expr, `${key} compares with a string`);
    return { kind, name, op, value };
  });
}

function test(clause: RegistryClause, x: string | number | null): boolean {
  if (x === null) return false;
  const v = clause.value;
  switch (clause.op) {
    case "=":
      return x === v;
    case "!=":
      return x !== v;
    case "<":
      return (x as number) < (v as number);
    case "<=":
      return (x as number) <= (v as number);
    case ">":
      return (x as number) > (v as number);
    case ">=":
      return (x as number) >= (v as number);
    case "LIKE":
      return likeMatch(String(x), String(v));
    case "ILIKE":
      return likeMatch(String(x).toLowerCase(), String(v).toLowerCase());
    case "IN":
      return Array.isArray(v) && v.includes(String(x));
    case "NOT IN":
      return Array.isArray(v) && !v.includes(String(x));
  }
}

/**
 * True when an item matches every clause. A missing tag or param fails its clause, except `!=` and
 * NOT IN, which it passes; a missing (null) attribute fails every clause.
 *
 * @example
 * matchesRegistryFilter(clauses, { attribute: (n) => (n === "name" ? "clf" : null), tags: {} });
 */
export function matchesRegistryFilter(clauses: readonly RegistryClause[], item: RegistryItemView): boolean {
  for (const c of clauses) {
    const x =
      c.kind === "attribute"
        ? item.attribute(c.name)
        : c.kind === "tag"
          ? (item.tags[c.name] ?? null)
          : (item.params?.[c.name] ?? null);
    // A missing tag or param is "not equal" to every value: that is how MLflow's client keeps prompts
    // out of registered-model searches (`tag.\`mlflow.prompt.is_prompt\` != 'true'`).
    if (x === null && c.kind !== "attribute" && (c.op === "!=" || c.op === "NOT IN")) continue;
    if (!test(c, x)) return false;
  }
  return true;
}

/** One ordering: a field and its direction. */
export interface RegistryOrder {
  name: string;
  ascending: boolean;
}

/**
 * Parses MLflow's `order_by` strings (`"name ASC"`, `"last_updated_timestamp DESC"`) against the
 * attributes a search can sort on.
 *
 * @example
 * parseRegistryOrderBy(["name DESC"], { attributes: { name: "string" } }); // [{ name: "name", ascending: false }]
 */
export function parseRegistryOrderBy(
  exprs: readonly string[],
  schema: RegistrySearchSchema,
): RegistryOrder[] {
  return exprs.map((e) => {
    const m = /^\s*(?:attributes?\.)?`?([A-Za-z_]+)`?\s*(ASC|DESC)?\s*$/i.exec(e);
    const name = m ? (schema.aliases?.[m[1]!] ?? m[1]!) : undefined;
    if (!m || name === undefined || schema.attributes[name] === undefined)
      throw syntax(e, `it is not <attribute> [ASC|DESC] over ${Object.keys(schema.attributes).join(", ")}`);
    return { name, ascending: (m[2] ?? "ASC").toUpperCase() === "ASC" };
  });
}

/**
 * A comparator over the orderings, then `tiebreak`.
 *
 * @example
 * models.sort(compareRegistryItems(order, (m) => view(m), byName));
 */
export function compareRegistryItems<T>(
  order: readonly RegistryOrder[],
  view: (item: T) => RegistryItemView,
  tiebreak: (a: T, b: T) => number,
): (a: T, b: T) => number {
  return (a, b) => {
    for (const o of order) {
      const x = view(a).attribute(o.name);
      const y = view(b).attribute(o.name);
      if (x === y) continue;
      if (x === null) return 1;
      if (y === null) return -1;
      const c = x < y ? -1 : 1;
      return o.ascending ? c : -c;
    }
    return tiebreak(a, b);
  };
}
