/**
 * The pure parts of the UI's JSON API: reading query parameters, matching metric key patterns, and
 * shaping run rows and run details as the API contract (docs/ui.md) says. No I/O here.
 */

import { MtrackError } from "../errors.js";
import { PARENT_RUN_TAG, REPRO_ID_TAG, STAGE_TAG } from "../tracking/context.js";
import type { RunDetails, RunSummary } from "../tracking/types.js";
import type { MetricCell, RegisteredRef, RunInfo, RunRow } from "./wire.js";

/** A column a runs table asked for: `params.lr`, `metrics.val_acc`, `tags.phase`. */
export interface ColumnRef {
  kind: "params" | "metrics" | "tags";
  key: string;
}

/**
 * Parses the `columns` parameter (comma-separated `params.<k>`, `metrics.<k>`, `tags.<k>`).
 *
 * @example
 * parseColumns("params.lr,metrics.val_acc"); // [{ kind: "params", key: "lr" }, { kind: "metrics", key: "val_acc" }]
 */
export function parseColumns(value: string | null): ColumnRef[] {
  if (value === null || value.trim() === "") return [];
  return value.split(",").map((part) => {
    const m = /^(params|metrics|tags)\.(.+)$/.exec(part.trim());
    if (m === null) {
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `Bad column ${JSON.stringify(part)}.`, {
        hint: "Name columns as params.<key>, metrics.<key> or tags.<key>, separated by commas.",
        data: { parameter: "columns", value: part },
      });
    }
    return { kind: m[1] as ColumnRef["kind"], key: m[2]! };
  });
}

/**
 * An integer query parameter within [min, max]; the default when absent.
 *
 * @example
 * intParam(new URLSearchParams("limit=50"), "limit", 200, 0, 5000); // 50
 */
export function intParam(
  query: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = query.get(name);
  if (raw === null || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new MtrackError(
      "ERR_MTRACK_INVALID_ARGUMENT",
      `${name} must be an integer from ${min} to ${max}.`,
      {
        hint: `Pass ${name}=<integer between ${min} and ${max}>.`,
        data: { parameter: name, value: raw, min, max },
      },
    );
  }
  return n;
}

/** A comma-separated list parameter, empty items dropped. */
export function listParam(query: URLSearchParams, name: string): string[] {
  return query
    .getAll(name)
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

/**
 * A matcher for a metric key pattern: `*` stands for one path segment or more (`seed/*\/alpha` matches
 * `seed/s0/alpha` and `seed/a/b/alpha`); without `*` the key must match exactly.
 *
 * @example
 * keyMatcher("seed/*\/alpha")("seed/s0/alpha"); // true
 */
export function keyMatcher(pattern: string): (key: string) => boolean {
  if (!pattern.includes("*")) return (key) => key === pattern;
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join("[^/]+(?:/[^/]+)*");
  const re = new RegExp(`^${source}$`);
  return (key) => re.test(key);
}

/**
 * The keys of `available` that the patterns select, in the patterns' order, each once.
 *
 * @example
 * expandKeys(["loss", "seed/*\/alpha"], ["seed/s1/alpha", "loss", "seed/s0/alpha"]); // ["loss", "seed/s0/alpha", "seed/s1/alpha"]
 */
export function expandKeys(patterns: readonly string[], available: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const sorted = [...available].sort();
  for (const pattern of patterns) {
    const match = keyMatcher(pattern);
    for (const key of sorted) {
      if (!seen.has(key) && match(key)) {
        seen.add(key);
        out.push(key);
      }
    }
  }
  return out;
}

/** Metric summaries as JSON can carry them: NaN and ±Inf become null. */
function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function jsonMetric<M extends RunSummary["metrics"][string]>(
  m: M,
): Omit<M, "last" | "min" | "max"> & MetricCell {
  return { ...m, last: finiteOrNull(m.last), min: finiteOrNull(m.min), max: finiteOrNull(m.max) };
}

/**
 * The row of a run: its summary fields plus only the requested columns (none: no params/metrics/tags).
 *
 * @example
 * runRow(summary, [{ kind: "params", key: "lr" }]).params; // { lr: "0.001" }
 */
export function runRow(r: RunSummary, columns: readonly ColumnRef[]): RunRow {
  const row: RunRow = {
    runId: r.runId,
    name: r.name,
    experimentId: r.experimentId,
    experimentName: r.experimentName,
    status: r.status,
    unfinished: r.unfinished === true,
    commit: r.commit,
    dirty: r.dirty,
    branch: r.branch,
    startTime: r.startTime,
    endTime: r.endTime,
    durationMs: r.endTime === null ? null : r.endTime - r.startTime,
    deleted: r.deleted,
  };
  if (columns.length > 0) {
    const params: Record<string, string> = {};
    const metrics: Record<string, MetricCell> = {};
    const tags: Record<string, string> = {};
    for (const c of columns) {
      if (!Object.hasOwn(r[c.kind], c.key)) continue;
      if (c.kind === "params") params[c.key] = r.params[c.key]!;
      else if (c.kind === "tags") tags[c.key] = r.tags[c.key]!;
      else metrics[c.key] = jsonMetric(r.metrics[c.key]!);
    }
    row.params = params;
    row.metrics = metrics;
    row.tags = tags;
  }
  return row;
}

/**
 * The sorted union of param, metric and tag keys over some runs (what the column picker offers).
 *
 * @example
 * unionKeys(runs).metrics; // ["loss", "val_acc"]
 */
export function unionKeys(runs: readonly RunSummary[]): {
  params: string[];
  metrics: string[];
  tags: string[];
} {
  const params = new Set<string>();
  const metrics = new Set<string>();
  const tags = new Set<string>();
  for (const r of runs) {
    for (const k in r.params) params.add(k);
    for (const k in r.metrics) metrics.add(k);
    for (const k in r.tags) tags.add(k);
  }
  return { params: [...params].sort(), metrics: [...metrics].sort(), tags: [...tags].sort() };
}

/**
 * A run's details as the API sends them: summary fields, everything of RunDetails that JSON can carry,
 * the provenance the run page shows (stage, repro id, parent run), and the registered model versions made
 * from the run (`registered`, see models.ts: versionsOfRun).
 *
 * @example
 * runDetailsJson(getRun(dir, store, "3f2a")).stage; // "train" or null
 */
export function runDetailsJson(r: RunDetails, registered: RegisteredRef[] = []): RunInfo {
  const metrics: RunInfo["metrics"] = {};
  for (const [k, m] of Object.entries(r.metrics)) metrics[k] = jsonMetric(m);
  const tag = (k: string) => (Object.hasOwn(r.tags, k) ? r.tags[k]! : null);
  return {
    ...runRow(r, []),
    params: r.params,
    tags: r.tags,
    metrics,
    artifacts: r.artifacts.map((a) => ({ name: a.name, kind: a.kind, size: a.size })),
    models: r.models.map((m) => ({ name: m.name, flavor: m.flavor, size: m.size })),
    git: r.git,
    command: r.command,
    host: r.host,
    error: r.error,
    stage: tag(STAGE_TAG),
    reproId: tag(REPRO_ID_TAG),
    parentRunId: tag(PARENT_RUN_TAG) ?? tag("mlflow.parentRunId"),
    datasets: (r.inputs?.datasets ?? []).map((d) => ({
      name: d.dataset.name,
      digest: d.dataset.digest,
      sourceType: d.dataset.sourceType,
      context: d.tags["mlflow.data.context"] ?? null,
    })),
    loggedModels: [
      ...(r.inputs?.models ?? []).map((m) => ({ modelId: m.modelId, role: "input" as const, step: null })),
      ...(r.outputs?.models ?? []).map((m) => ({
        modelId: m.modelId,
        role: "output" as const,
        step: m.step,
      })),
    ],
    registered,
  };
}

/** What `/bands` is asked: group runs by a param or tag, the metric to band, and the caps. */
export interface BandsQuery {
  kind: "params" | "tags";
  groupKey: string;
  key: string;
  points: number;
  maxRuns: number;
}

/**
 * Reads the `/bands` parameters (`group=params.<k>|tags.<k>`, `key`, `points`, `maxRuns`), refusing a
 * bad group or a missing key with ERR_MTRACK_INVALID_ARGUMENT.
 *
 * @example
 * bandsQuery(new URLSearchParams("group=params.lr&key=val_acc")); // { kind: "params", groupKey: "lr", key: "val_acc", points: 500, maxRuns: 200 }
 */
export function bandsQuery(q: URLSearchParams): BandsQuery {
  const group = q.get("group") ?? "";
  const gm = /^(params|tags)\.(.+)$/.exec(group);
  if (gm === null) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "group must be params.<key> or tags.<key>.", {
      hint: "Pass group=params.<key> or group=tags.<key>.",
      data: { parameter: "group", value: group },
    });
  }
  const key = q.get("key") ?? "";
  if (key === "") {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "key (a metric key) is required.", {
      hint: "Pass key=<metric key>.",
      data: { parameter: "key" },
    });
  }
  return {
    kind: gm[1] as BandsQuery["kind"],
    groupKey: gm[2]!,
    key,
    points: intParam(q, "points", 500, 1, 20000),
    maxRuns: intParam(q, "maxRuns", 200, 1, 5000),
  };
}
