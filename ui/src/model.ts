/**
 * The page's pure logic: table columns and how they map to the API's `columns`/`sort` parameters, the
 * virtual-scrolling window, value formatting, smoothing, x-axis choice and run diffs. No DOM here, so the
 * unit tests (test/unit/ui-web) run it in Node.
 */

/**
 * Columns shown when the URL names none: the params whose values differ among `rows` (what a sweep
 * varies), then a few top-level metrics, accuracy and loss first.
 *
 * @example
 * defaultColumns({ params: ["lr", "opt"], metrics: ["loss", "acc"] }, [{ params: { lr: "1", opt: "a" } }, { params: { lr: "2", opt: "a" } }])
 * // [lr, acc, loss]
 */
export function defaultColumns(
  keys: { params: readonly string[]; metrics: readonly string[] },
  rows: readonly { params?: Record<string, string> }[],
): DataColumn[] {
  const varying = keys.params.filter((k) => {
    const values = new Set<string>();
    for (const r of rows) {
      const v = r.params?.[k];
      if (v !== undefined) values.add(v);
    }
    return values.size > 1;
  });
  const params = (varying.length > 0 ? varying : keys.params).slice(0, 4);
  const rank = (k: string) => (/acc/.test(k) ? 0 : /loss/.test(k) ? 1 : 2);
  const metrics = keys.metrics
    .filter((k) => !k.includes("/"))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .slice(0, 4);
  return [
    ...params.map((key): DataColumn => ({ kind: "param", key })),
    ...metrics.map((key): DataColumn => ({ kind: "metric", key, agg: "last" })),
  ];
}

/** Which of a metric's summary values a column shows. */
export type Agg = "last" | "min" | "max";

/** A user-chosen table column: a param, a tag, or a metric with its aggregate. */
export interface DataColumn {
  kind: "param" | "metric" | "tag";
  key: string;
  /** Metrics only; default "last". */
  agg?: Agg;
}

/** The fixed columns every runs table shows, with the search attribute each one sorts by (null: unsortable). */
export const BASE_COLUMNS: readonly { id: string; label: string; sortKey: string | null }[] = [
  { id: "status", label: "Status", sortKey: "attributes.status" },
  { id: "name", label: "Name", sortKey: "attributes.run_name" },
  { id: "commit", label: "Commit", sortKey: "attributes.commit" },
  { id: "start", label: "Start", sortKey: "attributes.start_time" },
  // The search grammar has no duration attribute, so the server cannot sort on it.
  { id: "duration", label: "Duration", sortKey: null },
];

const PREFIX = { param: "params", metric: "metrics", tag: "tags" } as const;
const KINDS: Readonly<Record<string, DataColumn["kind"]>> = {
  params: "param",
  metrics: "metric",
  tags: "tag",
};

/** A search key in the grammar's spelling, backtick-quoted when the key is not a plain identifier. */
export function searchKey(c: DataColumn): string {
  const plain = /^[A-Za-z_][A-Za-z0-9_]*$/.test(c.key);
  return `${PREFIX[c.kind]}.${plain ? c.key : "`" + c.key.replaceAll("`", "``") + "`"}`;
}

/**
 * A column's id in URLs and the DOM: `params.lr`, `metrics.val_acc:max` (":last" is left out).
 *
 * @example
 * columnId({ kind: "metric", key: "loss", agg: "min" }) // "metrics.loss:min"
 */
export function columnId(c: DataColumn): string {
  const agg = c.kind === "metric" && c.agg && c.agg !== "last" ? `:${c.agg}` : "";
  return `${PREFIX[c.kind]}.${c.key}${agg}`;
}

/** Inverse of {@link columnId}; undefined for anything else. */
export function parseColumnId(id: string): DataColumn | undefined {
  const dot = id.indexOf(".");
  if (dot <= 0) return undefined;
  const kind = KINDS[id.slice(0, dot)];
  if (!kind) return undefined;
  let key = id.slice(dot + 1);
  let agg: Agg | undefined;
  const m = kind === "metric" ? /:(last|min|max)$/.exec(key) : null;
  if (m) {
    agg = m[1] as Agg;
    key = key.slice(0, m.index);
  }
  if (!key) return undefined;
  return kind === "metric" ? { kind, key, agg: agg ?? "last" } : { kind, key };
}

/**
 * The API's `columns` parameter for a set of columns: each key once, whatever aggregates are shown (a
 * metric row always carries last/min/max).
 */
export function apiColumns(columns: readonly DataColumn[]): string {
  return [...new Set(columns.map((c) => `${PREFIX[c.kind]}.${c.key}`))].join(",");
}

/** A sort the user chose by clicking a header: a column id and a direction. */
export interface SortState {
  column: string;
  desc: boolean;
}

/**
 * The API `sort` expression for a sort state, or undefined when the column cannot be sorted by the server.
 * Metric columns sort by the metric's latest value whatever aggregate they show: that is what the search
 * grammar orders by.
 */
export function sortExpression(sort: SortState): string | undefined {
  const base = BASE_COLUMNS.find((b) => b.id === sort.column);
  let key: string | null | undefined;
  if (base) key = base.sortKey;
  else {
    const c = parseColumnId(sort.column);
    key = c ? searchKey(c) : undefined;
  }
  if (!key) return undefined;
  return `${key} ${sort.desc ? "DESC" : "ASC"}`;
}

/** Next sort after a click on a header: a new column starts descending, the same column flips. */
export function nextSort(current: SortState | undefined, column: string): SortState {
  if (current?.column === column) return { column, desc: !current.desc };
  return { column, desc: true };
}

/** The rows to render and the blocks of rows to fetch for one scroll position of a virtualised table. */
export interface ViewWindow {
  /** First row index to render (inclusive). */
  first: number;
  /** Last row index to render (exclusive). */
  last: number;
  /** Offsets of the fetch blocks (multiples of `blockSize`) that cover [first, last). */
  blocks: number[];
}

/**
 * Rows visible at `scrollTop` in a viewport of `height` px with fixed `rowHeight`, widened by `overscan`
 * rows on each side, and the fetch blocks covering them.
 *
 * @example
 * viewWindow({ scrollTop: 0, height: 300, rowHeight: 30, total: 10_000, overscan: 5, blockSize: 100 })
 * // { first: 0, last: 15, blocks: [0] }
 */
export function viewWindow(o: {
  scrollTop: number;
  height: number;
  rowHeight: number;
  total: number;
  overscan: number;
  blockSize: number;
}): ViewWindow {
  const top = Math.max(0, Math.floor(o.scrollTop / o.rowHeight) - o.overscan);
  const bottom = Math.min(o.total, Math.ceil((o.scrollTop + o.height) / o.rowHeight) + o.overscan);
  const first = Math.min(top, o.total);
  const last = Math.max(first, bottom);
  const blocks: number[] = [];
  if (last > first) {
    for (let b = Math.floor(first / o.blockSize) * o.blockSize; b < last; b += o.blockSize) blocks.push(b);
  }
  return { first, last, blocks };
}

/** "1.5 s", "3 min 20 s", "2 h 05 min"; "—" when unknown. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const totalS = Math.round(s);
  const min = Math.floor(totalS / 60);
  if (min < 60) return `${min} min ${String(totalS % 60).padStart(2, "0")} s`;
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, "0")} min`;
}

/** A local "YYYY-MM-DD HH:MM:SS" for a Unix ms time (`offsetMinutes` as from Date#getTimezoneOffset). */
export function formatTime(ms: number | null | undefined, offsetMinutes = 0): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const d = new Date(ms - offsetMinutes * 60_000);
  return d.toISOString().slice(0, 19).replace("T", " ");
}

/** A metric value with 4 significant digits (exponent form for very large or small magnitudes). */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined) return "";
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "Inf" : "-Inf";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-4) return v.toExponential(3);
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

/** A byte count as "512 B", "1.5 KiB", "3.2 MiB", "1.1 GiB". */
export function sizeText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  return `${(n / (1 << 30)).toFixed(1)} GiB`;
}

/** A commit as 8 hex digits plus `*` when the worktree was dirty; "—" outside git. */
export function shortCommit(commit: string | null | undefined, dirty: boolean): string {
  if (!commit) return dirty ? "*" : "—";
  return commit.slice(0, 8) + (dirty ? "*" : "");
}

/**
 * TensorBoard's smoothing: an exponential moving average debiased for its zero start, so the first points
 * are not pulled towards 0. `weight` in [0, 1): 0 returns the values unchanged. Nulls (NaN/Inf sent as
 * null) stay null and do not disturb the average.
 *
 * @example
 * smoothEma([1, 1, 1], 0.9) // [1, 1, 1]
 */
export function smoothEma(values: readonly (number | null)[], weight: number): (number | null)[] {
  if (!(weight > 0)) return values.slice();
  const w = Math.min(weight, 0.999);
  const out: (number | null)[] = new Array(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v)) {
      out[i] = v ?? null;
      continue;
    }
    last = last * w + (1 - w) * v;
    n++;
    out[i] = last / (1 - w ** n);
  }
  return out;
}

/** What the charts put on the x axis. */
export type XMode = "step" | "time" | "relative";

/**
 * The x values of one series: steps, wall time in seconds (uPlot's time unit), or seconds since
 * `runStart` (the run's start time, Unix ms).
 */
export function xValues(
  s: { steps: readonly number[]; timestamps: readonly number[] },
  mode: XMode,
  runStart: number,
): number[] {
  if (mode === "step") return s.steps.slice();
  if (mode === "time") return s.timestamps.map((t) => t / 1000);
  return s.timestamps.map((t) => (t - runStart) / 1000);
}

/**
 * Drops points a log scale cannot show (≤ 0): uPlot's log axis breaks on them.
 */
export function forLogScale(values: readonly (number | null)[]): (number | null)[] {
  return values.map((v) => (v !== null && v > 0 ? v : null));
}

/** One row of the compare view's diff table. */
export interface DiffRow {
  section: "param" | "metric" | "tag";
  key: string;
  /** One cell per run, in run order ("" when the run lacks the key). */
  values: string[];
  /** True when not every run has the same value (a missing key counts as a value). */
  differs: boolean;
}

/** The runs' fields the diff table compares. */
export interface Diffable {
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, { last: number | null }>;
}

/**
 * Params, metrics (latest values) and tags of several runs side by side, keys sorted, with the rows whose
 * values differ marked. Internal tags (`mtrack.*`, `mlflow.*`) are left out: they differ on every run.
 */
export function diffRows(runs: readonly Diffable[]): DiffRow[] {
  const rows: DiffRow[] = [];
  const section = (kind: DiffRow["section"], pick: (r: Diffable) => Record<string, string>) => {
    const keys = new Set<string>();
    for (const r of runs) for (const k of Object.keys(pick(r))) keys.add(k);
    for (const key of [...keys].sort()) {
      if (kind === "tag" && /^(mtrack|mlflow)\./.test(key)) continue;
      const values = runs.map((r) => pick(r)[key] ?? "");
      rows.push({ section: kind, key, values, differs: values.some((v) => v !== values[0]) });
    }
  };
  section("param", (r) => r.params);
  section("metric", (r) =>
    Object.fromEntries(Object.entries(r.metrics).map(([k, m]) => [k, formatValue(m.last)])),
  );
  section("tag", (r) => r.tags);
  return rows;
}

/**
 * True when `key` matches `pattern`, where `*` stands for one path segment or more (the API's series
 * pattern, e.g. `seed/*` + `/alpha`).
 */
export function matchesPattern(pattern: string, key: string): boolean {
  const re = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join("[^/]+(?:/[^/]+)*");
  return new RegExp(`^${re}$`).test(key);
}

/**
 * Suggested seed-curve patterns for a set of metric keys: each key with a middle segment replaced by `*`
 * when that groups two or more keys (`seed/s0/alpha`, `seed/s1/alpha` → `seed/*` + `/alpha`).
 */
export function seriesPatterns(keys: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const key of keys) {
    const parts = key.split("/");
    for (let i = 0; i < parts.length; i++) {
      if (parts.length < 2) continue;
      const p = parts.map((x, j) => (j === i ? "*" : x)).join("/");
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
  }
  return [...counts.entries()]
    .filter(([p, n]) => n >= 2 && !p.startsWith("*"))
    .map(([p]) => p)
    .sort();
}

/** The caret line under a filter expression for an error at 0-based `column` (clamped to the text). */
export function caretLine(expr: string, column: number | undefined): string {
  const at = Math.max(0, Math.min(expr.length, Math.floor(column ?? 0)));
  return `${" ".repeat(at)}^`;
}

/** Distinct colours for chart series, readable on white; cycles past its length. */
export const PALETTE: readonly string[] = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
  "#7f7f7f",
  "#bcbd22",
];

/** The colour of the i-th series. */
export function colorAt(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

/**
 * Chart labels for runs: their names, with a short id added where two runs share a name (sweeps often
 * name every trial alike).
 *
 * @example
 * runLabels([{ runId: "ab12cd", name: "x" }, { runId: "ef34gh", name: "x" }]) // ["x (ab12cd)", "x (ef34gh)"]
 */
export function runLabels(runs: readonly { runId: string; name: string }[]): string[] {
  const seen = new Map<string, number>();
  for (const r of runs) seen.set(r.name, (seen.get(r.name) ?? 0) + 1);
  return runs.map((r) => ((seen.get(r.name) ?? 0) > 1 ? `${r.name} (${r.runId.slice(0, 6)})` : r.name));
}
