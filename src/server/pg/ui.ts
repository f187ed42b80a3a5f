/**
 * The web UI's JSON API (`/api/v1`, the shapes of src/ui/wire.ts) over the team server's database, so
 * `mtrack server --db` serves the same page as `mtrack server` (read-only, behind the read-token rule):
 * info, experiments, runs (experiment, filter and sort in SQL, paged), a run's details, its artifact files
 * and their bytes (from the objects store), and metric series (evenly thinned to `points`).
 * Bands, the model registry's pages and plots are in ui-extra.ts (mounted beside these by serve.ts).
 */
import { buffer } from "node:stream/consumers";
import type pg from "pg";
import { MtrackError } from "../../errors.js";
import type { Remote } from "../../remotes/types.js";
import { mtrackVersion } from "../../tracking/context.js";
import { parseFilter } from "../../tracking/search.js";
import { POLL_MS, sendUiJson } from "../../ui/api.js";
import { artifactHeaders } from "../../ui/artifacts.js";
import type { ExperimentInfo, MetricCell, RunInfo, RunRow, Series } from "../../ui/wire.js";
import { Router } from "../router.js";
import { orderByOf } from "./mlflow.js";
import { type PgRun, type PgSearch, PgTrackingStore } from "./tracking-store.js";

const MAX_SERIES_RUNS = 50;

function statusOf(s: string): RunRow["status"] {
  return s === "RUNNING" || s === "FAILED" || s === "KILLED" ? s : "FINISHED";
}

function rowOf(r: PgRun, experimentName: string, metrics: Record<string, MetricCell>): RunRow {
  return {
    runId: r.runId,
    name: r.name,
    experimentId: r.experimentId,
    experimentName,
    status: statusOf(r.status),
    unfinished: false,
    commit: r.tags["mlflow.source.git.commit"] ?? null,
    dirty: false,
    branch: r.tags["mlflow.source.git.branch"] ?? null,
    startTime: r.startTime,
    endTime: r.endTime,
    durationMs: r.endTime === null ? null : r.endTime - r.startTime,
    deleted: r.lifecycleStage !== "active",
    params: r.params,
    metrics,
    tags: r.tags,
  };
}

function finite(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/**
 * The runs a UI request selects (`experiment` ids or names, `filter`, `sort`, `deleted=1`), as a
 * database search; `names` maps the experiments' ids to their names.
 */
export function uiRunSearch(q: URLSearchParams, names: ReadonlyMap<string, string>): PgSearch {
  const wanted = q.getAll("experiment").filter((e) => e !== "");
  const experimentIds: string[] = [];
  for (const e of wanted) {
    const id = names.has(e) ? e : [...names].find(([, n]) => n === e)?.[0];
    if (id === undefined) {
      throw new MtrackError("ERR_MTRACK_EXPERIMENT_NOT_FOUND", `No experiment ${e}.`, {
        data: { experiment: e },
        hint: "List experiments with GET /api/v1/experiments.",
      });
    }
    experimentIds.push(id);
  }
  const sorts = q.getAll("sort").filter((s) => s.trim() !== "");
  return {
    experimentIds: experimentIds.length > 0 ? experimentIds : [...names.keys()],
    filter: parseFilter(q.get("filter") ?? ""),
    ...(sorts.length > 0 ? { orderBy: orderByOf(sorts) } : {}),
    view: q.get("deleted") === "1" ? "ALL" : "ACTIVE_ONLY",
  };
}

/** The UI routes (mount under /api/v1) over a migrated database and its objects store. */
export function pgUiApi(pool: pg.Pool, objects: Remote): Router {
  const store = new PgTrackingStore(pool, "mlflow-artifacts:");
  const router = new Router();
  const experimentNames = async (): Promise<Map<string, string>> =>
    new Map((await store.listExperiments()).map((e) => [e.experimentId, e.name]));
  /** last/min/max/count of each metric of these runs (one query). */
  const cells = async (
    runIds: string[],
  ): Promise<Map<string, Record<string, MetricCell & { count: number }>>> => {
    const out = new Map<string, Record<string, MetricCell & { count: number }>>();
    if (runIds.length === 0) return out;
    const r = await pool.query(
      `SELECT l.run_id, l.key, l.value, l.step, l.timestamp, a.min, a.max, a.count
         FROM latest_metrics l
         JOIN (SELECT run_id, key, MIN(value) AS min, MAX(value) AS max, COUNT(*)::int AS count
                 FROM metrics WHERE run_id = ANY($1) GROUP BY run_id, key) a
           ON a.run_id = l.run_id AND a.key = l.key
        WHERE l.run_id = ANY($1)`,
      [runIds],
    );
    for (const m of r.rows) {
      const run = out.get(m.run_id) ?? {};
      run[m.key] = {
        last: finite(Number(m.value)),
        min: finite(Number(m.min)),
        max: finite(Number(m.max)),
        step: Number(m.step),
        timestamp: Number(m.timestamp),
        count: Number(m.count),
      };
      out.set(m.run_id, run);
    }
    return out;
  };

  router.add({
    method: "GET",
    pattern: "/info",
    access: "public",
    handler: async ({ res }) =>
      sendUiJson(res, 200, { version: mtrackVersion(), repo: "", readOnly: true, pollMs: POLL_MS }),
  });
  router.add({
    method: "GET",
    pattern: "/experiments",
    access: "public",
    handler: async ({ res }) => {
      await store.defaultExperimentId();
      const counts = await pool.query(
        `SELECT experiment_id, COUNT(*)::int AS runs, COUNT(*) FILTER (WHERE status = 'RUNNING')::int AS active
           FROM runs WHERE lifecycle_stage = 'active' GROUP BY experiment_id`,
      );
      const by = new Map(counts.rows.map((c) => [String(c.experiment_id), c]));
      const experiments: ExperimentInfo[] = (await store.listExperiments())
        .filter((e) => e.lifecycleStage === "active")
        .map((e) => ({
          id: e.experimentId,
          name: e.name,
          creationTime: e.creationTime,
          runCount: Number(by.get(e.experimentId)?.runs ?? 0),
          activeRunCount: Number(by.get(e.experimentId)?.active ?? 0),
        }));
      sendUiJson(res, 200, { experiments });
    },
  });
  router.add({
    method: "GET",
    pattern: "/runs",
    access: "public",
    handler: async ({ res, url }) => {
      const q = url.searchParams;
      const offset = Math.max(0, Number(q.get("offset") ?? 0) || 0);
      const limit = Math.min(5000, Math.max(0, Number(q.get("limit") ?? 200) || 0));
      const names = await experimentNames();
      const search = uiRunSearch(q, names);
      // The page and the total in SQL; the column picker's keys from the experiments' runs.
      const [found, total, keys] = await Promise.all([
        store.searchRuns({ ...search, maxResults: limit, offset }),
        store.countRuns(search),
        pool.query(
          `WITH ids AS (SELECT run_id FROM runs WHERE experiment_id = ANY($1::bigint[]))
           SELECT DISTINCT 'params' AS kind, key FROM params WHERE run_id IN (SELECT run_id FROM ids)
           UNION SELECT DISTINCT 'metrics', key FROM latest_metrics WHERE run_id IN (SELECT run_id FROM ids)
           UNION SELECT DISTINCT 'tags', key FROM tags WHERE run_id IN (SELECT run_id FROM ids) ORDER BY 2`,
          [search.experimentIds],
        ),
      ]);
      const pageIds = found.runIds;
      const [runs, metrics] = await Promise.all([store.getRuns(pageIds), cells(pageIds)]);
      const union = { params: [] as string[], metrics: [] as string[], tags: [] as string[] };
      for (const k of keys.rows) union[k.kind as keyof typeof union].push(k.key);
      sendUiJson(res, 200, {
        total,
        offset,
        runs: runs.map((r) => rowOf(r, names.get(r.experimentId) ?? "", metrics.get(r.runId) ?? {})),
        keys: union,
      });
    },
  });
  router.add({
    method: "GET",
    pattern: "/runs/:id",
    access: "public",
    handler: async ({ res, params }) => {
      const run = await store.getRun(params.id ?? "");
      const [names, metrics, files] = await Promise.all([
        experimentNames(),
        cells([run.runId]),
        store.listArtifacts(run.runId),
      ]);
      const tag = (k: string) => run.tags[k] ?? null;
      const info: RunInfo = {
        ...rowOf(run, names.get(run.experimentId) ?? "", {}),
        params: run.params,
        tags: run.tags,
        metrics: metrics.get(run.runId) ?? {},
        artifacts: files.map((f) => ({ name: f.name, kind: "file", size: f.size })),
        models: [],
        git: {
          commit: tag("mlflow.source.git.commit"),
          branch: tag("mlflow.source.git.branch"),
          dirty: false,
        },
        command: [],
        host: "",
        error: null,
        stage: tag("mtrack.stage"),
        reproId: tag("mtrack.repro_id"),
        parentRunId: tag("mlflow.parentRunId"),
        datasets: run.inputs.map((i) => ({
          name: i.name,
          digest: i.digest,
          sourceType: i.sourceType ?? "",
          context: i.tags?.["mlflow.data.context"] ?? null,
        })),
        loggedModels: [],
        registered: [],
      };
      sendUiJson(res, 200, info);
    },
  });
  router.add({
    method: "GET",
    pattern: "/runs/:id/artifacts",
    access: "public",
    handler: async ({ res, params }) => {
      const run = await store.getRun(params.id ?? "");
      const files = (await store.listArtifacts(run.runId)).map((f) => ({
        path: f.name,
        size: f.size,
        kind: /\.(png|jpe?g|gif|svg|webp)$/i.test(f.name)
          ? "image"
          : /\.(txt|log|json|ya?ml|csv|md|py)$/i.test(f.name)
            ? "text"
            : "binary",
        artifact: f.name,
      }));
      sendUiJson(res, 200, { files, models: [] });
    },
  });
  router.add({
    method: "GET",
    pattern: "/runs/:id/artifact",
    access: "public",
    handler: async ({ req, res, params, url }) => {
      const name = url.searchParams.get("path") ?? "";
      const run = await store.getRun(params.id ?? "");
      const file = (await store.listArtifacts(run.runId)).find((f) => f.name === name);
      if (!file) {
        throw new MtrackError("ERR_MTRACK_ARTIFACT_NOT_FOUND", `Run ${run.runId} has no artifact ${name}.`, {
          data: { runId: run.runId, artifact: name },
          hint: "List the run's artifacts with GET /api/v1/runs/<id>/artifacts.",
        });
      }
      const stream = await objects.open(file.hash);
      if (!stream) {
        throw new MtrackError(
          "ERR_MTRACK_OBJECT_MISSING",
          `Artifact ${name} is missing from the objects store.`,
          {
            data: { runId: run.runId, hash: file.hash },
            hint: "Push the run again, or restore the objects store.",
          },
        );
      }
      const bytes = await buffer(stream);
      res.writeHead(200, artifactHeaders(name, bytes.length, url.searchParams.get("download") === "1"));
      res.end(req.method === "HEAD" ? undefined : bytes);
    },
  });
  router.add({
    method: "GET",
    pattern: "/series",
    access: "public",
    handler: async ({ res, url }) => {
      const q = url.searchParams;
      const split = (n: string) =>
        q
          .getAll(n)
          .flatMap((v) => v.split(","))
          .filter((v) => v !== "");
      const runIds = split("runs");
      if (runIds.length > MAX_SERIES_RUNS) {
        throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `At most ${MAX_SERIES_RUNS} runs per request.`, {
          hint: "Ask for the series of fewer runs at a time.",
          data: { parameter: "runs", count: runIds.length, max: MAX_SERIES_RUNS },
        });
      }
      const keys = split("keys");
      const points = Math.min(20000, Math.max(0, Number(q.get("points") ?? 1000) || 1000));
      const r = await pool.query(
        `SELECT run_id, key, value, timestamp, step FROM metrics WHERE run_id = ANY($1)
           ${keys.length > 0 ? "AND key = ANY($2)" : ""} ORDER BY run_id, key, step, seq`,
        keys.length > 0 ? [runIds, keys] : [runIds],
      );
      const by = new Map<string, Series>();
      for (const m of r.rows) {
        const id = `${m.run_id}\u0000${m.key}`;
        let s = by.get(id);
        if (!s) {
          s = {
            runId: m.run_id,
            key: m.key,
            total: 0,
            downsampled: false,
            steps: [],
            values: [],
            timestamps: [],
          };
          by.set(id, s);
        }
        s.total++;
        s.steps.push(Number(m.step));
        s.values.push(finite(Number(m.value)));
        s.timestamps.push(Number(m.timestamp));
      }
      const series = [...by.values()].map((s) => {
        if (s.total <= points || points < 2) return s;
        // Evenly spaced points, first and last kept.
        const pick = Array.from({ length: points }, (_, i) => Math.round((i * (s.total - 1)) / (points - 1)));
        return {
          ...s,
          downsampled: true,
          steps: pick.map((i) => s.steps[i] as number),
          values: pick.map((i) => s.values[i] as number | null),
          timestamps: pick.map((i) => s.timestamps[i] as number),
        };
      });
      sendUiJson(res, 200, { series });
    },
  });
  return router;
}
