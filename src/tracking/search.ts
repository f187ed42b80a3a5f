/**
 * Run search: filter and order runs with MLflow's grammar (plus `or` and parentheses).
 *
 * Parsing lives in search-parse.ts; this module evaluates. Filters are compiled once into closures because
 * `runs list --filter` walks every run summary (10,000+) and re-reading the AST per row would dominate.
 */

import { MtrackError } from "../errors.js";
import {
  ATTRIBUTES,
  type ComparisonNode,
  type FilterNode,
  type OrderByClause,
  parseFilter,
  parseOrderBy,
  type SearchKey,
} from "./search-parse.js";
import type { RunSummary } from "./types.js";

export type {
  AttributeType,
  ComparisonNode,
  ComparisonOp,
  FilterNode,
  OrderByClause,
  SearchKey,
  SearchKeyKind,
} from "./search-parse.js";
export { ATTRIBUTES, parseFilter, parseOrderBy, searchSyntaxError } from "./search-parse.js";

/**
 * What search works on. An alias of the tracking layer's row type, kept so callers and tests can name the
 * input of search without reaching into types.ts.
 */
export type SearchableRun = RunSummary;

type AttributeValue = string | number | boolean | null;

function str(v: string | null | undefined): string | null {
  return typeof v === "string" ? v : null;
}

/** Reads an attribute; null means "not set", which makes every comparison false. */
function attributeReader(name: string): (run: SearchableRun) => AttributeValue {
  switch (name) {
    case "run_id":
      return (r) => r.runId;
    case "experiment_id":
      return (r) => r.experimentId;
    case "experiment_name":
      return (r) => str(r.experimentName);
    case "run_name":
      return (r) => str(r.name);
    case "status":
      return (r) => r.status;
    case "start_time":
      return (r) => r.startTime;
    case "end_time":
      return (r) => (typeof r.endTime === "number" ? r.endTime : null);
    case "commit":
      return (r) => str(r.commit);
    case "branch":
      return (r) => str(r.branch);
    case "dirty":
      return (r) => (typeof r.dirty === "boolean" ? r.dirty : null);
    case "deleted":
      return (r) => r.deleted === true;
    case "lifecycle_stage":
      return (r) => (r.deleted === true ? "deleted" : "active");
    default:
      throw new MtrackError(
        "ERR_MTRACK_INVALID_ARGUMENT",
        `Unknown run attribute '${name}' in a search key.`,
        {
          hint: `Use one of: ${Object.keys(ATTRIBUTES).join(", ")}.`,
          data: { key: name },
        },
      );
  }
}

/**
 * Reads the value a key refers to: a metric's latest value, a param/tag string, an attribute.
 * Own-property checks matter: summaries are plain objects, and `params.constructor` must not find
 * Object.prototype's function.
 */
function keyReader(key: SearchKey): (run: SearchableRun) => AttributeValue {
  const k = key.name;
  switch (key.kind) {
    case "metric":
      return (r) => (Object.hasOwn(r.metrics, k) ? (r.metrics[k]?.last ?? null) : null);
    case "param":
      return (r) => (Object.hasOwn(r.params, k) ? (r.params[k] ?? null) : null);
    case "tag":
      return (r) => (Object.hasOwn(r.tags, k) ? (r.tags[k] ?? null) : null);
    case "attribute":
      return attributeReader(k);
  }
}

/**
 * SQL LIKE without regular expressions (so `.` or `(` in a pattern mean themselves): `%` is any run of
 * characters, `_` exactly one. Greedy with backtracking to the last `%`, linear in practice.
 *
 * @example
 * likeMatch("phase_2", "phase%") // true
 */
export function likeMatch(text: string, pattern: string): boolean {
  let ti = 0;
  let pi = 0;
  let star = -1;
  let mark = 0;
  while (ti < text.length) {
    const pc = pattern[pi];
    if (pc === "%") {
      star = pi++;
      mark = ti;
    } else if (pc !== undefined && (pc === "_" || pc === text[ti])) {
      ti++;
      pi++;
    } else if (star !== -1) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pattern[pi] === "%") pi++;
  return pi === pattern.length;
}

function compileComparison(node: ComparisonNode): (run: SearchableRun) => boolean {
  const read = keyReader(node.key);
  const v = node.value;
  switch (node.op) {
    case "=":
      return (r) => {
        const x = read(r);
        return x !== null && x === v;
      };
    case "!=":
      return (r) => {
        const x = read(r);
        return x !== null && x !== v;
      };
    case "<":
      return (r) => {
        const x = read(r);
        return typeof x === "number" && x < (v as number);
      };
    case "<=":
      return (r) => {
        const x = read(r);
        return typeof x === "number" && x <= (v as number);
      };
    case ">":
      return (r) => {
        const x = read(r);
        return typeof x === "number" && x > (v as number);
      };
    case ">=":
      return (r) => {
        const x = read(r);
        return typeof x === "number" && x >= (v as number);
      };
    case "LIKE": {
      const pattern = v as string;
      return (r) => {
        const x = read(r);
        return typeof x === "string" && likeMatch(x, pattern);
      };
    }
    case "ILIKE": {
      const pattern = (v as string).toLowerCase();
      return (r) => {
        const x = read(r);
        return typeof x === "string" && likeMatch(x.toLowerCase(), pattern);
      };
    }
    case "IN": {
      const set = new Set(v as string[]);
      return (r) => {
        const x = read(r);
        return typeof x === "string" && set.has(x);
      };
    }
    case "NOT IN": {
      const set = new Set(v as string[]);
      return (r) => {
        const x = read(r);
        return typeof x === "string" && !set.has(x);
      };
    }
  }
}

/**
 * Compiles a filter into a predicate. Use it when testing many runs against one filter.
 *
 * @example
 * const keep = compileFilter(parseFilter("metrics.val_acc > 0.9"));
 * const good = summaries.filter(keep);
 */
export function compileFilter(node: FilterNode): (run: SearchableRun) => boolean {
  switch (node.type) {
    case "all":
      return () => true;
    case "compare":
      return compileComparison(node);
    case "and": {
      const parts = node.children.map(compileFilter);
      if (parts.length === 2) {
        const [a, b] = parts as [(r: SearchableRun) => boolean, (r: SearchableRun) => boolean];
        return (r) => a(r) && b(r);
      }
      return (r) => parts.every((p) => p(r));
    }
    case "or": {
      const parts = node.children.map(compileFilter);
      return (r) => parts.some((p) => p(r));
    }
  }
}

/**
 * True when `run` matches the filter. A metric compares its latest value; a missing metric, param, tag or
 * unset attribute makes its comparison false (also for `!=` and NOT IN), as in MLflow.
 *
 * @example
 * evaluateFilter(parseFilter("params.optimizer = 'adam'"), run)
 */
export function evaluateFilter(node: FilterNode, run: SearchableRun): boolean {
  return compileFilter(node)(run);
}

/** Sort rank: real values first, then NaN, then missing — MLflow's order in both directions. */
function rank(v: AttributeValue): number {
  if (v === null) return 2;
  if (typeof v === "number" && Number.isNaN(v)) return 1;
  return 0;
}

function compareValues(a: AttributeValue, b: AttributeValue): number {
  // Mixed types cannot come from one key; the cast keeps booleans (dirty) ordered false < true.
  const x = typeof a === "boolean" ? Number(a) : (a as string | number);
  const y = typeof b === "boolean" ? Number(b) : (b as string | number);
  return x < y ? -1 : x > y ? 1 : 0;
}

const START_TIME_DESC: OrderByClause = { key: { kind: "attribute", name: "start_time" }, direction: "DESC" };
const RUN_ID_ASC: OrderByClause = { key: { kind: "attribute", name: "run_id" }, direction: "ASC" };

/**
 * A comparator for Array.prototype.sort. Clauses apply in order; missing values (and NaN metrics) sort
 * last whatever the direction; ties fall back to MLflow's natural order, start_time DESC then run_id.
 *
 * @example
 * runs.sort(compareRuns(parseOrderBy("metrics.val_acc DESC")));
 */
export function compareRuns(order: OrderByClause[]): (a: SearchableRun, b: SearchableRun) => number {
  const clauses = [...order, START_TIME_DESC, RUN_ID_ASC].map((c) => ({
    read: keyReader(c.key),
    sign: c.direction === "DESC" ? -1 : 1,
  }));
  return (a, b) => {
    for (const { read, sign } of clauses) {
      const va = read(a);
      const vb = read(b);
      const ra = rank(va);
      const rb = rank(vb);
      if (ra !== rb) return ra - rb;
      if (ra !== 0) continue;
      const c = compareValues(va, vb);
      if (c !== 0) return c * sign;
    }
    return 0;
  };
}

/** Options of {@link searchRuns}. */
export interface SearchRunsOptions {
  /** A filter expression or an already parsed one; empty matches all. */
  filter?: string | FilterNode;
  /** Order-by clauses as strings (`"metrics.val_acc DESC"`) or parsed; default start_time DESC. */
  orderBy?: string | string[] | OrderByClause[];
  /** Keep at most this many runs after sorting. */
  maxResults?: number;
}

/**
 * Filters, sorts and truncates run summaries — the whole of `runs list --filter --sort --limit`.
 * Returns a new array; the input is not modified.
 *
 * @example
 * searchRuns(summaries, { filter: "metrics.val_acc > 0.9 or tags.phase = 'final'", orderBy: "metrics.val_acc DESC", maxResults: 10 })
 */
export function searchRuns<R extends SearchableRun>(
  runs: readonly R[],
  options: SearchRunsOptions = {},
): R[] {
  const { filter = "", orderBy = [], maxResults } = options;
  const node = typeof filter === "string" ? parseFilter(filter) : filter;
  const order =
    typeof orderBy === "string" || orderBy.every((o): o is string => typeof o === "string")
      ? parseOrderBy(orderBy as string | string[])
      : (orderBy as OrderByClause[]);
  const keep = compileFilter(node);
  const out = node.type === "all" ? [...runs] : runs.filter(keep);
  out.sort(compareRuns(order));
  return maxResults === undefined ? out : out.slice(0, Math.max(0, maxResults));
}
