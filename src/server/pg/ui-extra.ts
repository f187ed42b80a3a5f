/**
 * The rest of the web UI's JSON API over the team server's database (mounted with src/server/pg/ui.ts
 * under /api/v1): grouped bands across runs (`/bands`, the same computation as the file backend,
 * src/ui/bands.ts), the model registry's pages (`/models`, `/models/:name`, a version and its files'
 * bytes, from the registry tables through PgRegistryStore and the objects store, in the shapes of
 * src/ui/models.ts), and `/plots`, which answers as a file-backed server outside a repository does: the
 * team server has no repository, so no pipeline plots.
 */
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { MtrackError } from "../../errors.js";
import { parseVersion } from "../../registry/names.js";
import type { Remote } from "../../remotes/types.js";
import { validateArtifactName } from "../../tracking/names.js";
import { artifactHeaders } from "../../ui/artifacts.js";
import { computeBands } from "../../ui/bands.js";
import { modelInfo, modelSummary, versionInfo } from "../../ui/models.js";
import { bandsQuery } from "../../ui/query.js";
import { sendUiJson } from "../../ui/respond.js";
import { Router } from "../router.js";
import { PgRegistryStore } from "./registry-store.js";
import { PgTrackingStore } from "./tracking-store.js";
import { uiRunSearch } from "./ui.js";

/** Runs one /bands request reads at most before `maxRuns` (the selection is searched in SQL). */
const BAND_SEARCH_LIMIT = 5000;

/** The bands, registry and plots routes (mount under /api/v1) over a migrated database. */
export function pgUiExtraApi(pool: pg.Pool, objects: Remote): Router {
  const tracking = new PgTrackingStore(pool, "mlflow-artifacts:");
  const registry = new PgRegistryStore(pool);
  const router = new Router();

  router.add({
    method: "GET",
    pattern: "/bands",
    access: "public",
    handler: async ({ res, url }) => {
      const q = url.searchParams;
      const { kind, groupKey, key, points, maxRuns } = bandsQuery(q);
      const names = new Map((await tracking.listExperiments()).map((e) => [e.experimentId, e.name]));
      const found = await tracking.searchRuns({
        ...uiRunSearch(q, names),
        maxResults: BAND_SEARCH_LIMIT,
      });
      // The selected runs that logged the metric, in the selection's order.
      const having = await pool.query(
        "SELECT run_id FROM latest_metrics WHERE key = $1 AND run_id = ANY($2)",
        [key, found.runIds],
      );
      const has = new Set(having.rows.map((r) => String(r.run_id)));
      const withMetric = found.runIds.filter((id) => has.has(id));
      const chosen = withMetric.slice(0, maxRuns);
      const [values, points_] = await Promise.all([
        pool.query(`SELECT run_id, value FROM ${kind} WHERE key = $1 AND run_id = ANY($2)`, [
          groupKey,
          chosen,
        ]),
        pool.query(
          "SELECT run_id, step, value FROM metrics WHERE key = $1 AND run_id = ANY($2) ORDER BY run_id, seq",
          [key, chosen],
        ),
      ]);
      const groupOf = new Map(values.rows.map((r) => [String(r.run_id), String(r.value)]));
      const series = new Map<string, { steps: number[]; values: number[] }>();
      for (const p of points_.rows) {
        const id = String(p.run_id);
        let s = series.get(id);
        if (!s) series.set(id, (s = { steps: [], values: [] }));
        s.steps.push(Number(p.step));
        s.values.push(Number(p.value));
      }
      const inputs = chosen.flatMap((id) => {
        const s = series.get(id);
        return s ? [{ group: groupOf.get(id) ?? null, steps: s.steps, values: s.values }] : [];
      });
      sendUiJson(res, 200, {
        groups: computeBands(inputs, points),
        truncated: withMetric.length > chosen.length || found.nextOffset !== undefined,
      });
    },
  });

  /** The names of the runs the versions came from. */
  const runNames = async (runIds: (string | null)[]): Promise<Map<string, string>> => {
    const ids = runIds.filter((id): id is string => id !== null);
    if (ids.length === 0) return new Map();
    const r = await pool.query("SELECT run_id, name FROM runs WHERE run_id = ANY($1)", [ids]);
    return new Map(r.rows.map((x) => [String(x.run_id), String(x.name)]));
  };
  const versionOf = async (name: string, versionText: string) =>
    registry.getVersion(name, parseVersion(versionText));

  router.add({
    method: "GET",
    pattern: "/models",
    access: "public",
    handler: async ({ res }) => {
      sendUiJson(res, 200, { models: (await registry.listModels()).map(modelSummary) });
    },
  });
  router.add({
    method: "GET",
    pattern: "/models/:name",
    access: "public",
    handler: async ({ res, params }) => {
      const m = await registry.getModel(params.name ?? "");
      sendUiJson(res, 200, modelInfo(m, await runNames([...m.versions.values()].map((v) => v.runId))));
    },
  });
  router.add({
    method: "GET",
    pattern: "/models/:name/versions/:version",
    access: "public",
    handler: async ({ res, params }) => {
      const v = await versionOf(params.name ?? "", params.version ?? "");
      const files = await registry.contentFiles(v.content.hash);
      const runName = v.runId === null ? undefined : (await runNames([v.runId])).get(v.runId);
      // A version always has its file list in the database (an empty content has none).
      sendUiJson(res, 200, versionInfo(v, files, runName));
    },
  });
  router.add({
    method: "GET",
    pattern: "/models/:name/versions/:version/file",
    access: "public",
    handler: async ({ req, res, params, url }) => {
      const name = url.searchParams.get("path") ?? "";
      validateArtifactName(name);
      const v = await versionOf(params.name ?? "", params.version ?? "");
      const entry = (await registry.contentFiles(v.content.hash)).find((e) => e.name === name);
      if (entry === undefined) {
        throw new MtrackError(
          "ERR_MTRACK_PATH_NOT_FOUND",
          `Version ${v.version} of model ${JSON.stringify(v.name)} has no file ${name}.`,
          {
            hint: `List its files with GET /api/v1/models/${encodeURIComponent(v.name)}/versions/${v.version}.`,
            data: { name: v.name, version: v.version, path: name },
          },
        );
      }
      const headers = artifactHeaders(name, entry.size, url.searchParams.get("download") === "1");
      if (req.method === "HEAD") {
        res.writeHead(200, headers);
        res.end();
        return;
      }
      // Opened before the headers go out, so a missing object is still an error answer.
      const stream = await objects.open(entry.hash);
      if (!stream) {
        throw new MtrackError(
          "ERR_MTRACK_OBJECT_MISSING",
          `File ${name} of model ${JSON.stringify(v.name)} version ${v.version} is missing from the objects store.`,
          {
            data: { name: v.name, version: v.version, hash: entry.hash },
            hint: "Push the registry again, or restore the objects store.",
          },
        );
      }
      res.writeHead(200, headers);
      await pipeline(stream, res);
    },
  });

  const noPlots = (): never => {
    throw new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", "This server has no repository to read plots from.", {
      hint: "Pipeline plots are read from a repository: run `mtrack ui` (or `mtrack plots diff`) in it.",
    });
  };
  router.add({ method: "GET", pattern: "/plots", access: "public", handler: async () => noPlots() });
  router.add({
    method: "GET",
    pattern: "/plots/revisions",
    access: "public",
    handler: async () => noPlots(),
  });
  return router;
}
