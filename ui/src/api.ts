/**
 * The page's client of the JSON API under /api/v1 (contract: the backend's API document). Types mirror the
 * answers (src/ui/wire.ts, shared with the server); `ApiError` carries the server's error code and data (e.g. the filter column of a syntax error).
 */

export type {
  ArtifactFile,
  Band,
  ExperimentInfo,
  MetricCell,
  ModelFile,
  ModelInfo,
  ModelSummary,
  ModelVersionInfo,
  ModelVersionRow,
  RegisteredRef,
  RunInfo,
  RunKeys,
  RunRow,
  RunsPage,
  Series,
  ServerInfo,
} from "../../src/ui/wire.js";

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

/** The API path of a registered model, or of one of its versions. */
export function modelPath(name: string, version?: number): string {
  const m = `/models/${encodeURIComponent(name)}`;
  return version === undefined ? m : `${m}/versions/${version}`;
}

/** The URL of a model version's file, as a download. */
export function modelFileUrl(name: string, version: number, path: string): string {
  return apiUrl(`${modelPath(name, version)}/file`, { path, download: "1" });
}
