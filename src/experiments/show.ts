/**
 * `mtrack exp show`: the workspace, each baseline commit and its experiments, with every params and
 * metrics value. All experiments are read with one `git for-each-ref` and one `git cat-file --batch`.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { flattenParams, parseParamsText } from "../pipeline/params.js";
import { effectiveState, type QueueEntry } from "./queue-store.js";
import { type ExpRef, git, listExpRefs, readBlobs } from "./refs.js";
import { parseSimple } from "./simple-yaml.js";

/** One row of the table. */
export interface ExpRow {
  /** workspace | baseline | experiment */
  kind: "workspace" | "baseline" | "experiment";
  name: string;
  commit: string | null;
  baseline: string | null;
  created: number | null;
  state: string;
  /** `<file>:<key>` → value, for metrics and params. */
  metrics: Record<string, unknown>;
  params: Record<string, unknown>;
}

/** Parsed texts by format and text: experiments share most of their files' texts (the params no trial changed). */
type Parsed = Map<string, Record<string, unknown>>;

function flat(text: string | null, file: string, parsed: Parsed): Record<string, unknown> {
  if (text === null) return {};
  const toml = /\.toml$/i.test(file);
  const key = `${toml ? "t" : "y"}${text}`;
  const hit = parsed.get(key);
  if (hit) return hit;
  let values: Record<string, unknown>;
  try {
    const simple = toml ? undefined : parseSimple(text);
    values = flattenParams(simple ?? parseParamsText(text, file));
  } catch {
    values = {};
  }
  parsed.set(key, values);
  return values;
}

function values(
  files: readonly string[],
  texts: ReadonlyArray<string | null>,
  into: Record<string, unknown>,
  parsed: Parsed,
): void {
  files.forEach((file, i) => {
    for (const [k, v] of Object.entries(flat(texts[i] ?? null, file, parsed))) into[`${file}:${k}`] = v;
  });
}

/**
 * The rows: workspace, then each baseline (HEAD's first; with `all`, every baseline that has
 * experiments; else only HEAD) followed by its experiments, newest first.
 */
export function expShow(options: {
  root: string;
  paramsFiles: readonly string[];
  metricsFiles: readonly string[];
  all?: boolean;
  /** Keep the N most recent experiments of each baseline. */
  limit?: number;
  /** The queue: trials not committed yet show as rows (queued, running, or failed when their worker died). */
  queue?: readonly QueueEntry[];
}): ExpRow[] {
  const { root, paramsFiles, metricsFiles } = options;
  const parsed: Parsed = new Map();
  const head = git(root, ["rev-parse", "HEAD"]).trim();
  const refs = listExpRefs(root);
  const byBase = new Map<string, ExpRef[]>();
  for (const r of refs) byBase.set(r.baseline, [...(byBase.get(r.baseline) ?? []), r]);
  const baselines = [head, ...(options.all ? [...byBase.keys()].filter((b) => b !== head) : [])];
  const rows: ExpRow[] = [];
  const ws: ExpRow = {
    kind: "workspace",
    name: "workspace",
    commit: null,
    baseline: null,
    created: null,
    state: "",
    metrics: {},
    params: {},
  };
  const read = (f: string) => {
    const abs = path.join(root, f);
    return fs.existsSync(abs) ? fs.readFileSync(abs, "utf8") : null;
  };
  values(metricsFiles, metricsFiles.map(read), ws.metrics, parsed);
  values(paramsFiles, paramsFiles.map(read), ws.params, parsed);
  rows.push(ws);
  for (const b of baselines) {
    rows.push({
      kind: "baseline",
      name: b.slice(0, 7),
      commit: b,
      baseline: null,
      created: null,
      state: "",
      metrics: {},
      params: {},
    });
    // Queued and running trials are the newest: above the committed ones. Their params are the
    // baseline's with their overrides (filled in below, once the baseline's are read).
    for (const q of options.queue ?? []) {
      if (q.baseline !== b || q.commit) continue;
      rows.push({
        kind: "experiment",
        name: q.name,
        commit: null,
        baseline: b,
        created: Math.floor(q.queuedAt / 1000),
        state: effectiveState(q),
        metrics: {},
        params: {},
      });
    }
    const exps = byBase.get(b) ?? [];
    for (const e of options.limit === undefined ? exps : exps.slice(0, options.limit)) {
      rows.push({
        kind: "experiment",
        name: e.name,
        commit: e.commit,
        baseline: b,
        created: e.created,
        state: e.state,
        metrics: {},
        params: {},
      });
    }
  }
  // One batch for every (row, file) pair.
  const specs: string[] = [];
  const commitRows = rows.filter((r) => r.commit !== null);
  for (const r of commitRows)
    for (const f of [...metricsFiles, ...paramsFiles]) specs.push(`${r.commit}:${f}`);
  const blobs = readBlobs(root, specs);
  const n = metricsFiles.length + paramsFiles.length;
  commitRows.forEach((r, i) => {
    const slice = blobs.slice(i * n, (i + 1) * n);
    values(metricsFiles, slice.slice(0, metricsFiles.length), r.metrics, parsed);
    values(paramsFiles, slice.slice(metricsFiles.length), r.params, parsed);
  });
  const queued = new Map((options.queue ?? []).map((q) => [q.name, q]));
  for (const r of rows) {
    const q = r.commit === null && r.kind === "experiment" ? queued.get(r.name) : undefined;
    if (!q) continue;
    const base = rows.find((x) => x.kind === "baseline" && x.commit === q.baseline);
    r.params = { ...base?.params };
    for (const o of q.overrides) r.params[`${o.file}:${o.key}`] = o.value;
  }
  const headCreated = git(root, ["log", "-1", "--format=%ct", ...baselines.slice(0, 1)]).trim();
  for (const r of rows) if (r.kind === "baseline" && r.commit === head) r.created = Number(headCreated);
  return rows;
}

/** Sorts each baseline's experiments by a column (metric or param, `file:key` or bare key). */
export function sortRows(rows: ExpRow[], key: string, order: "asc" | "desc"): ExpRow[] {
  const get = (r: ExpRow): unknown => {
    const all = { ...r.params, ...r.metrics };
    if (key in all) return all[key];
    const hit = Object.keys(all).find((k) => k.endsWith(`:${key}`));
    return hit === undefined ? undefined : all[hit];
  };
  const out: ExpRow[] = [];
  let group: ExpRow[] = [];
  const flush = () => {
    group.sort((a, b) => {
      const x = get(a);
      const y = get(b);
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return order === "asc" ? c : -c;
    });
    out.push(...group);
    group = [];
  };
  for (const r of rows) {
    if (r.kind === "experiment") group.push(r);
    else {
      flush();
      out.push(r);
    }
  }
  flush();
  return out;
}
