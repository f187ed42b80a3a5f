/**
 * The page's client of the JSON API under /api/v1 (contract: the backend's API document). Types mirror the
 * answers; `ApiError` carries the server's error code and data (e.g. the filter column of a syntax error).
 */

/** One metric's summary in a runs row. */
export interface MetricCell {
  last: number | null;
  min: number | null;
  max: number | null;
  step: number;
  timestamp: number;
  count?: number;
}

/** An experiment with its run counts. */
export interface ExperimentInfo {
  id: string;
  name: string;
  creationTime: number;
  runCount: number;
  activeRunCount: number;
}

/** A row of the runs table. */
export interface RunRow {
  runId: string;
  name: string;
  experimentId: string;
  experimentName: string;
  status: "RUNNING" | "FINISHED" | "FAILED" | "KILLED";
  unfinished: boolean;
  commit: string | null;
  dirty: boolean;
  branch: string | null;
  startTime: number;
  endTime: number | null;
  durationMs: number | null;
  deleted: boolean;
  params?: Record<string, string>;
  metrics?: Record<string, MetricCell>;
  tags?: Record<string, string>;
}

/** Keys present in the matching runs. */
export interface RunKeys {
  params: string[];
  metrics: string[];
  tags: string[];
}

/** Answer of GET /runs. */
export interface RunsPage {
  total: number;
  offset: number;
  runs: RunRow[];
  keys: RunKeys;
}

/** Answer of GET /runs/:id. */
export interface RunInfo extends RunRow {
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, MetricCell & { count: number }>;
  artifacts: { name: string; kind: "file" | "dir"; size: number }[];
  models: { name: string; flavor: string; size: number }[];
  git: { commit: string | null; branch: string | null; dirty: boolean };
  command: string[];
  host: string;
  error: string | null;
  stage: string | null;
  reproId: string | null;
  parentRunId: string | null;
}

/** One downsampled series. */
export interface Series {
  runId: string;
  key: string;
  total: number;
  downsampled: boolean;
  steps: number[];
  values: (number | null)[];
  timestamps: number[];
}

/** Mean/min/max of one group of runs on a common step grid. */
export interface Band {
  value: string | null;
  runs: number;
  steps: number[];
  mean: (number | null)[];
  min: (number | null)[];
  max: (number | null)[];
}

/** One file of a run's artifacts. */
export interface ArtifactFile {
  path: string;
  size: number;
  kind: "image" | "text" | "binary";
  artifact: string;
}

/** Answer of GET /info. */
export interface ServerInfo {
  version: string;
  repo: string;
  readOnly: boolean;
  pollMs: number;
}

/** An error answer of the API: its stable code, message, hint and data. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Query parameters; arrays repeat the parameter, undefined and "" are left out. */
export type Query = Record<string, string | number | readonly string[] | undefined>;

/** `/api/v1<path>?<query>`. */
export function apiUrl(path: string, query: Query = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === "") continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else p.set(k, String(v));
  }
  const s = p.toString();
  return `/api/v1${path}${s ? `?${s}` : ""}`;
}

/** GETs JSON from the API; throws ApiError for an error answer. */
export async function getJson<T>(path: string, query: Query = {}, signal?: AbortSignal): Promise<T> {
  const res = await fetch(apiUrl(path, query), {
    signal: signal ?? null,
    headers: { accept: "application/json" },
  });
  const body = (await res.json().catch(() => undefined)) as
    | { error?: { code?: string; message?: string; hint?: string; data?: Record<string, unknown> } }
    | undefined;
  if (!res.ok) {
    const e = body?.error;
    throw new ApiError(res.status, e?.code ?? "ERR_HTTP", e?.message ?? res.statusText, e?.hint, e?.data);
  }
  return body as T;
}

/** The URL of an artifact file's bytes (inline, or as a download). */
export function artifactUrl(runId: string, path: string, download = false): string {
  return apiUrl(`/runs/${encodeURIComponent(runId)}/artifact`, {
    path,
    download: download ? "1" : undefined,
  });
}
