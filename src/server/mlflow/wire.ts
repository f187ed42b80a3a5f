/**
 * MLflow's wire format, both ways, as pure functions: reading request fields the way MLflow's server
 * accepts them (int64 as numbers or strings, doubles as numbers or "NaN"/"Infinity", GET requests as
 * query strings), and shaping mtrack's runs and experiments as MLflow's JSON messages (service.proto).
 */
import type { Experiment } from "../../tracking/layout.js";
import type { DatasetInput, RunInputs, RunSummary } from "../../tracking/types.js";
import { invalidParam } from "./errors.js";

/** A request message as parsed JSON (POST) or query parameters (GET). */
export type Message = Record<string, unknown>;

/** MLflow's log-batch limits (validation.py). */
export const BATCH_LIMITS = {
  metrics: 1000,
  params: 100,
  tags: 100,
  total: 1000,
  /** MAX_BATCH_LOG_REQUEST_SIZE. */
  bytes: 1_000_000,
} as const;

/** Largest `max_results` of runs/search (MLflow's SEARCH_MAX_RESULTS_THRESHOLD). */
export const MAX_SEARCH_RESULTS = 50_000;

/** Default page size of runs/search (SEARCH_MAX_RESULTS_DEFAULT). */
export const DEFAULT_SEARCH_RESULTS = 1000;

/** Fields that are repeated in service.proto and arrive from a query string as repeated keys. */
const REPEATED_QUERY_FIELDS = new Set(["experiment_ids", "order_by", "run_ids"]);

/**
 * A GET request's query string as a request message: repeated fields become lists (even when given once),
 * and the `field[]`/`field[0]` spellings some clients use are accepted.
 *
 * @example
 * queryMessage(new URLSearchParams("run_id=ab&order_by=x&order_by=y")); // { run_id: "ab", order_by: ["x", "y"] }
 */
export function queryMessage(query: URLSearchParams): Message {
  const out: Message = {};
  for (const [rawKey, value] of query) {
    const key = rawKey.replace(/\[\d*\]$/, "");
    if (REPEATED_QUERY_FIELDS.has(key) || key !== rawKey) {
      const list = (out[key] as string[] | undefined) ?? [];
      list.push(value);
      out[key] = list;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * A string field; `required` refuses a missing or empty one with INVALID_PARAMETER_VALUE (MLflow's
 * "Missing value for required parameter").
 */
export function stringField(msg: Message, field: string, required: true): string;
export function stringField(msg: Message, field: string, required?: false): string | undefined;
export function stringField(msg: Message, field: string, required = false): string | undefined {
  const v = msg[field];
  if (v === undefined || v === null || v === "") {
    if (required) throw invalidParam(`Missing value for required parameter '${field}'.`);
    return undefined;
  }
  if (typeof v !== "string") {
    throw invalidParam(`Invalid value ${JSON.stringify(v)} for parameter '${field}': expected a string.`);
  }
  return v;
}

/**
 * An int64 field: protobuf's JSON writes them as strings, newer MLflow clients as numbers; both are
 * accepted. Returns undefined when absent.
 *
 * @example
 * int64Field({ step: "3" }, "step"); // 3
 */
export function int64Field(msg: Message, field: string): number | undefined {
  const v = msg[field];
  if (v === undefined || v === null || v === "") return undefined;
  const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw invalidParam(`Invalid value ${JSON.stringify(v)} for parameter '${field}': expected an integer.`);
  }
  return n;
}

/**
 * A double field: a JSON number, or one of protobuf's spellings "NaN", "Infinity", "-Infinity" (or a
 * numeric string), since JSON has no literal for those.
 */
export function doubleField(msg: Message, field: string, required: boolean): number | undefined {
  const v = msg[field];
  if (v === undefined || v === null || v === "") {
    if (required) throw invalidParam(`Missing value for required parameter '${field}'.`);
    return undefined;
  }
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    if (v === "NaN") return Number.NaN;
    if (v === "Infinity") return Number.POSITIVE_INFINITY;
    if (v === "-Infinity") return Number.NEGATIVE_INFINITY;
    const n = Number(v);
    if (v.trim() !== "" && !Number.isNaN(n)) return n;
  }
  throw invalidParam(`Invalid value ${JSON.stringify(v)} for parameter '${field}': expected a number.`);
}

/** A repeated field: absent → [], a single value → [value] (as MLflow's GET parsing does). */
export function listField(msg: Message, field: string): unknown[] {
  const v = msg[field];
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** A key/value entry of a `tags` or `params` list. */
export interface KeyValue {
  key: string;
  value: string;
}

/** A list of `{key, value}` messages (tags, params); values may be absent (→ ""). */
export function keyValues(msg: Message, field: string): KeyValue[] {
  return listField(msg, field).map((e, i) => {
    if (typeof e !== "object" || e === null) throw invalidParam(`${field}[${i}] must be an object.`);
    const entry = e as Message;
    const key = stringField(entry, "key", true);
    const raw = entry.value ?? "";
    const value = typeof raw === "string" ? raw : String(raw);
    return { key, value };
  });
}

/** The run id of a request: `run_id`, or the older `run_uuid` (the client sends both). */
export function runIdField(msg: Message): string {
  const id = stringField(msg, "run_id") ?? stringField(msg, "run_uuid");
  if (id === undefined) throw invalidParam("Missing value for required parameter 'run_id'.");
  return id;
}

/** One metric point of a request. */
export interface MetricPoint {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

/** Reads a metric message (log-metric's body, or an entry of log-batch's `metrics`). */
export function metricPoint(msg: Message, now: number): MetricPoint {
  return {
    key: stringField(msg, "key", true),
    value: doubleField(msg, "value", true) as number,
    timestamp: int64Field(msg, "timestamp") ?? now,
    step: int64Field(msg, "step") ?? 0,
  };
}

/** A validated log-batch request. */
export interface Batch {
  runId: string;
  metrics: MetricPoint[];
  params: KeyValue[];
  tags: KeyValue[];
}

/**
 * Reads and checks a log-batch request against MLflow's limits (1000 metrics, 100 params, 100 tags,
 * 1000 in total) and its rule that one batch may not log a param key twice with different values.
 *
 * @example
 * readBatch({ run_id: id, metrics: [{ key: "loss", value: 0.5, timestamp: 1, step: 0 }] }, Date.now());
 */
export function readBatch(msg: Message, now: number): Batch {
  const runId = runIdField(msg);
  const rawMetrics = listField(msg, "metrics");
  const rawParams = listField(msg, "params");
  const rawTags = listField(msg, "tags");
  const limit = (what: string, n: number, max: number) => {
    if (n > max) {
      throw invalidParam(
        `A batch logging request can contain at most ${max} ${what}. Got ${n} ${what}. Please split up ${what} across multiple requests and try again.`,
      );
    }
  };
  limit("metrics", rawMetrics.length, BATCH_LIMITS.metrics);
  limit("params", rawParams.length, BATCH_LIMITS.params);
  limit("tags", rawTags.length, BATCH_LIMITS.tags);
  limit("entities", rawMetrics.length + rawParams.length + rawTags.length, BATCH_LIMITS.total);
  const metrics = rawMetrics.map((m, i) => {
    if (typeof m !== "object" || m === null) throw invalidParam(`metrics[${i}] must be an object.`);
    return metricPoint(m as Message, now);
  });
  const params = keyValues(msg, "params");
  const seen = new Map<string, string>();
  for (const p of params) {
    const old = seen.get(p.key);
    if (old !== undefined && old !== p.value) {
      throw invalidParam(`Duplicate parameter keys have been submitted: '${p.key}' with different values.`);
    }
    seen.set(p.key, p.value);
  }
  return { runId, metrics, params, tags: keyValues(msg, "tags") };
}

/** Run view types of runs/search and experiments/search, by name or proto number. */
export type ViewType = "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL";

/** Reads `run_view_type` / `view_type` (default ACTIVE_ONLY). */
export function viewTypeField(msg: Message, field: string): ViewType {
  const v = msg[field];
  if (v === undefined || v === null || v === "") return "ACTIVE_ONLY";
  if (v === "ACTIVE_ONLY" || v === 1 || v === "1") return "ACTIVE_ONLY";
  if (v === "DELETED_ONLY" || v === 2 || v === "2") return "DELETED_ONLY";
  if (v === "ALL" || v === 3 || v === "3") return "ALL";
  throw invalidParam(`Invalid value ${JSON.stringify(v)} for parameter '${field}'.`);
}

/**
 * A page token: an opaque base64 of `{"offset": n}`, like MLflow's own stores use.
 *
 * @example
 * decodePageToken(encodePageToken(100)); // 100
 */
export function encodePageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString("base64");
}

/** The offset in a page token; 0 without one; INVALID_PARAMETER_VALUE for a token we did not make. */
export function decodePageToken(token: string | undefined): number {
  if (token === undefined || token === "") return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64").toString("utf8")) as { offset?: unknown };
    if (typeof parsed.offset === "number" && Number.isSafeInteger(parsed.offset) && parsed.offset >= 0) {
      return parsed.offset;
    }
  } catch {
    // fall through to the error below
  }
  throw invalidParam(`Invalid page token ${JSON.stringify(token)}.`);
}

/**
 * `max_results` of a request, bounded: absent → `fallback`; out of [1, max] → INVALID_PARAMETER_VALUE.
 */
export function maxResultsField(msg: Message, fallback: number, max: number): number {
  const n = int64Field(msg, "max_results");
  if (n === undefined) return fallback;
  if (n < 1 || n > max) {
    throw invalidParam(`Invalid value ${n} for parameter 'max_results': it must be between 1 and ${max}.`);
  }
  return n;
}

/** A double as protobuf JSON writes it: JSON has no NaN or Infinity, so those become strings. */
export function jsonDouble(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

/** The artifact URI of a run: served by this server's mlflow-artifacts proxy. */
export function artifactUri(experimentId: string, runId: string): string {
  return `mlflow-artifacts:/${experimentId}/${runId}/artifacts`;
}

/**
 * MLflow's Metric message. Like protobuf's JSON writer, a field at its default (step 0) is left out: the
 * client parses every field it gets, and a search answer holds thousands of them.
 */
export function metricJson(key: string, value: number, timestamp: number, step: number): Message {
  return step === 0
    ? { key, value: jsonDouble(value), timestamp }
    : { key, value: jsonDouble(value), timestamp, step };
}

/** MLflow's RunInfo message for a run (fields at their defaults left out, as protobuf's JSON does). */
export function runInfoJson(run: RunSummary): Message {
  const info: Message = {
    run_id: run.runId,
    run_uuid: run.runId,
    // A run renamed after it started (MLflow sets this tag) shows its new name, as in MLflow.
    run_name: run.tags["mlflow.runName"] || run.name,
    experiment_id: run.experimentId,
    status: run.status,
    start_time: run.startTime,
    artifact_uri: artifactUri(run.experimentId, run.runId),
    lifecycle_stage: run.deleted ? "deleted" : "active",
  };
  const user = run.tags["mlflow.user"];
  if (user) info.user_id = user;
  if (run.endTime !== null) info.end_time = run.endTime;
  return info;
}

/**
 * MLflow's Run message: info, and data with each metric's latest value, the params and the tags.
 *
 * @example
 * runJson(getRun(dir, store, id)).data.metrics; // [{ key: "loss", value: 0.1, timestamp, step }]
 */
export function runJson(run: RunSummary): {
  info: Message;
  data: Message;
  inputs: Message;
  outputs?: Message;
} {
  const metrics = Object.entries(run.metrics).map(([key, m]) => metricJson(key, m.last, m.timestamp, m.step));
  const params = Object.entries(run.params).map(([key, value]) => ({ key, value }));
  const tags = Object.entries(run.tags).map(([key, value]) => ({ key, value }));
  const out: { info: Message; data: Message; inputs: Message; outputs?: Message } = {
    info: runInfoJson(run),
    data: { metrics, params, tags },
    inputs: runInputsJson(run.inputs),
  };
  if (run.outputs !== undefined && run.outputs.models.length > 0) {
    out.outputs = {
      model_outputs: run.outputs.models.map((m) => ({ model_id: m.modelId, step: m.step })),
    };
  }
  return out;
}

/** MLflow's RunInputs message (`{}` when the run has none, as MLflow answers). */
export function runInputsJson(inputs: RunInputs | undefined): Message {
  const out: Message = {};
  if (inputs === undefined) return out;
  if (inputs.datasets.length > 0) {
    out.dataset_inputs = inputs.datasets.map((d) => {
      const dataset: Message = {
        name: d.dataset.name,
        digest: d.dataset.digest,
        source_type: d.dataset.sourceType,
        source: d.dataset.source,
      };
      if (d.dataset.schema !== undefined) dataset.schema = d.dataset.schema;
      if (d.dataset.profile !== undefined) dataset.profile = d.dataset.profile;
      return { tags: Object.entries(d.tags).map(([key, value]) => ({ key, value })), dataset };
    });
  }
  if (inputs.models.length > 0) out.model_inputs = inputs.models.map((m) => ({ model_id: m.modelId }));
  return out;
}

/**
 * The dataset inputs of a runs/log-inputs request (`datasets: [{tags, dataset}]`), in mtrack's shape;
 * limits are checked by the tracking layer.
 *
 * @example
 * datasetInputs({ datasets: [{ tags: [{ key: "mlflow.data.context", value: "train" }],
 *   dataset: { name: "iris", digest: "4f1b", source_type: "code", source: "{}" } }] });
 */
export function datasetInputs(msg: Message): DatasetInput[] {
  return listField(msg, "datasets").map((e, i) => {
    if (typeof e !== "object" || e === null) throw invalidParam(`datasets[${i}] must be an object.`);
    const entry = e as Message;
    const d = entry.dataset;
    if (typeof d !== "object" || d === null) throw invalidParam(`datasets[${i}].dataset is required.`);
    const ds = d as Message;
    const dataset: DatasetInput["dataset"] = {
      name: stringField(ds, "name", true),
      digest: stringField(ds, "digest", true),
      sourceType: stringField(ds, "source_type", true),
      source: stringField(ds, "source", true),
    };
    const schema = stringField(ds, "schema");
    const profile = stringField(ds, "profile");
    if (schema !== undefined) dataset.schema = schema;
    if (profile !== undefined) dataset.profile = profile;
    const tags: Record<string, string> = {};
    for (const t of keyValues(entry, "tags")) tags[t.key] = t.value;
    return { dataset, tags };
  });
}

/** The `models` of a runs/log-inputs (`[{model_id}]`) or runs/outputs (`[{model_id, step}]`) request. */
export function modelRefs(msg: Message): { modelId: string; step: number }[] {
  return listField(msg, "models").map((e, i) => {
    if (typeof e !== "object" || e === null) throw invalidParam(`models[${i}] must be an object.`);
    return {
      modelId: stringField(e as Message, "model_id", true),
      step: int64Field(e as Message, "step") ?? 0,
    };
  });
}

/** MLflow's Experiment message. */
export function experimentJson(e: Experiment): Message {
  return {
    experiment_id: e.id,
    name: e.name,
    artifact_location: `mlflow-artifacts:/${e.id}`,
    lifecycle_stage: e.lifecycleStage,
    creation_time: e.creationTime,
    last_update_time: e.lastUpdateTime,
    tags: Object.entries(e.tags).map(([key, value]) => ({ key, value })),
  };
}

/**
 * Splits a proxy artifact path `<experiment>/<run>/artifacts[/<name>]` into the run id and the artifact
 * name inside the run ("" for the run's root). Undefined when the path is not shaped like that.
 *
 * @example
 * parseArtifactPath("1/3f2a.../artifacts/plots/loss.png"); // { runId: "3f2a...", name: "plots/loss.png" }
 */
export function parseArtifactPath(p: string): { runId: string; name: string } | undefined {
  const parts = p.split("/").filter((s) => s !== "");
  if (parts.length < 3 || parts[2] !== "artifacts") return undefined;
  return { runId: parts[1]!, name: parts.slice(3).join("/") };
}
