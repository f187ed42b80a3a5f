/**
 * The JSON API of `mtrack ui`, under /api/v1 (documented in docs/ui.md): experiments, a filtered, sorted
 * and paged runs listing, one run's details, downsampled metric series, grouped bands, a run's
 * artifacts, and the model registry (models.ts). Read-only: every route is a GET.
 */

import { MtrackError } from "../errors.js";
import type { PlotsSource } from "../plots/collect.js";
import { Registry } from "../registry/registry.js";
import { Router } from "../server/router.js";
import type { ObjectStore } from "../store/types.js";
import { mtrackVersion } from "../tracking/context.js";
import { findExperiment } from "../tracking/layout.js";
import { RunListing } from "../tracking/listing.js";
import { validateArtifactName } from "../tracking/names.js";
import { getRun, listArtifactFiles, readArtifact } from "../tracking/read.js";
import type { Liveness } from "../tracking/runlog.js";
import { compareRuns, compileFilter, parseFilter, parseOrderBy } from "../tracking/search.js";
import type { RunSummary } from "../tracking/types.js";
import { artifactHeaders, artifactKind } from "./artifacts.js";
import { computeBands } from "./bands.js";
import { HistorySource, LruCache } from "./histories.js";
import { modelsApi, type OpenObject, registryDirBeside, versionsOfRun } from "./models.js";
import {
  bandsQuery,
  expandKeys,
  intParam,
  listParam,
  parseColumns,
  runDetailsJson,
  runRow,
  unionKeys,
} from "./query.js";
import { sendUiJson } from "./respond.js";

export { sendUiJson } from "./respond.js";

/** How often the page polls while a visible run is RUNNING. */
export const POLL_MS = 2000;
/** Most runs one /series request may name. */
export const MAX_SERIES_RUNS = 50;
/** Most revisions one /plots request may overlay (each costs a read of its pipeline and plot files). */
export const MAX_PLOT_REVS = 20;

/** What the API serves. */
export interface UiApiOptions {
  /** The tracking dir (`<repo>/.mtrack/runs`). */
  dir: string;
  store: ObjectStore;
  /** The repository root, reported by /info. */
  repoRoot: string;
  /** How running runs are told from dead ones; default this host and kill(pid, 0). */
  liveness?: Liveness;
  /** The runs listing to serve from (default: a new one); pass one to warm it before the first request. */
  listing?: RunListing;
  /** The model registry's directory (default: beside `dir`, i.e. `<repo>/.mtrack/registry`). */
  registryDir?: string;
  /** Streams a stored object (model file downloads); default: objects are read whole. */
  openObject?: OpenObject;
  /** The repository's pipeline plots at revisions (GET /plots); absent when serving runs without a repository. */
  plots?: PlotsSource;
}

/** Parses a filter or sort clause, reporting the 0-based column of a syntax error as the API promises. */
function parseSearch<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof MtrackError && err.code === "ERR_MTRACK_SEARCH_SYNTAX") {
      const column = typeof err.data.column === "number" ? err.data.column - 1 : 0;
      throw new MtrackError(err.code, err.message, { hint: err.hint, data: { ...err.data, column } });
    }
    if (err instanceof MtrackError && err.code === "ERR_MTRACK_INVALID_ARGUMENT") {
      // An unknown attribute: a search error too, located at the start of the expression.
      throw new MtrackError("ERR_MTRACK_SEARCH_SYNTAX", err.message, {
        hint: err.hint,
        data: { ...err.data, column: 0 },
      });
    }
    throw err;
  }
}

interface Selection {
  rows: RunSummary[];
  keys: { params: string[]; metrics: string[]; tags: string[] };
}

/**
 * The API routes (mount them under /api/v1).
 *
 * @example
 * const router = new Router().mount("/api/v1", uiApi({ dir, store, repoRoot }));
 */
export function uiApi(options: UiApiOptions): Router {
  const { dir, store } = options;
  const listing = options.listing ?? new RunListing(dir, store, options.liveness);
  const histories = new HistorySource(dir, store);
  // Read only: the UI folds the event log and never takes the writers' lock.
  const registry = new Registry({ dir: options.registryDir ?? registryDirBeside(dir) });
  // Filtered + sorted selections of one listing version: scrolling the table asks for many windows of
  // the same selection, which then cost a slice.
  const selections = new LruCache<string, Selection>(32);
  const orderings = new LruCache<string, RunSummary[]>(8);

  const select = (query: URLSearchParams): Selection => {
    const snap = listing.snapshot();
    const experiments = query.getAll("experiment").filter((e) => e !== "");
    const filter = query.get("filter") ?? "";
    const sorts = query.getAll("sort").filter((s) => s.trim() !== "");
    const deleted = query.get("deleted") === "1";
    const cacheKey = JSON.stringify([snap.version, experiments, filter, sorts, deleted]);
    const hit = selections.get(cacheKey);
    if (hit !== undefined) return hit;
    const ids = new Set<string>();
    for (const e of experiments) {
      const exp = findExperiment(snap.experiments, e);
      if (exp === undefined) {
        throw new MtrackError("ERR_MTRACK_EXPERIMENT_NOT_FOUND", `No experiment ${e}.`, {
          data: { experiment: e },
          hint: "List experiments with GET /api/v1/experiments.",
        });
      }
      ids.add(exp.id);
    }
    const keep = compileFilter(parseSearch(() => parseFilter(filter)));
    const order = parseSearch(() => parseOrderBy(sorts));
    // Sorting is the costly step; the whole listing is sorted once per order and filtering keeps that
    // order, so refining a filter under the same sort costs only the filter.
    const sortKey = JSON.stringify([snap.version, sorts]);
    let sorted = sorts.length === 0 ? snap.runs : orderings.get(sortKey);
    if (sorted === undefined) {
      sorted = [...snap.runs].sort(compareRuns(order));
      orderings.set(sortKey, sorted);
    }
    const rows = sorted.filter(
      (r) => (deleted || !r.deleted) && (ids.size === 0 || ids.has(r.experimentId)) && keep(r),
    );
    const result = { rows, keys: unionKeys(rows) };
    // Rows of RUNNING runs change between polls; the listing version moves with them.
    selections.set(cacheKey, result);
    return result;
  };

  const router = new Router();
  router.add({
    method: "GET",
    pattern: "/info",
    access: "public",
    handler: async ({ res }) =>
      sendUiJson(res, 200, {
        version: mtrackVersion(),
        repo: options.repoRoot,
        readOnly: true,
        pollMs: POLL_MS,
      }),
  });

  router.add({
    method: "GET",
    pattern: "/experiments",
    access: "public",
    handler: async ({ res }) => {
      const snap = listing.snapshot();
      const counts = new Map<string, { runs: number; active: number }>();
      for (const r of snap.runs) {
        if (r.deleted) continue;
        const c = counts.get(r.experimentId) ?? { runs: 0, active: 0 };
        c.runs++;
        if (r.status === "RUNNING") c.active++;
        counts.set(r.experimentId, c);
      }
      sendUiJson(res, 200, {
        experiments: snap.experiments.map((e) => ({
          id: e.id,
          name: e.name,
          creationTime: e.creationTime,
          runCount: counts.get(e.id)?.runs ?? 0,
          activeRunCount: counts.get(e.id)?.active ?? 0,
        })),
      });
    },
  });

  router.add({
    method: "GET",
    pattern: "/runs",
    access: "public",
    handler: async ({ res, url }) => {
      const q = url.searchParams;
      const offset = intParam(q, "offset", 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = intParam(q, "limit", 200, 0, 5000);
      const columns = parseColumns(q.get("columns"));
      const { rows, keys } = select(q);
      sendUiJson(res, 200, {
        total: rows.length,
        offset,
        runs: rows.slice(offset, offset + limit).map((r) => runRow(r, columns)),
        keys,
      });
    },
  });

  router.add({
    method: "GET",
    pattern: "/runs/:id",
    access: "public",
    handler: async ({ res, params }) => {
      const run = getRun(dir, store, params.id ?? "", { liveness: options.liveness });
      sendUiJson(res, 200, runDetailsJson(run, versionsOfRun(registry.state(), run.runId)));
    },
  });

  router.add({
    method: "GET",
    pattern: "/runs/:id/artifacts",
    access: "public",
    handler: async ({ res, params }) => {
      const run = getRun(dir, store, params.id ?? "", { liveness: options.liveness });
      const files = listArtifactFiles(dir, store, run.runId).map((f) => {
        const owner = run.artifacts.find((a) => a.name === f.name || f.name.startsWith(`${a.name}/`));
        return { path: f.name, size: f.size, kind: artifactKind(f.name), artifact: owner?.name ?? f.name };
      });
      sendUiJson(res, 200, {
        files,
        models: run.models.map((m) => ({ name: m.name, flavor: m.flavor, size: m.size })),
      });
    },
  });

  router.add({
    method: "GET",
    pattern: "/runs/:id/artifact",
    access: "public",
    handler: async ({ req, res, params, url }) => {
      const name = url.searchParams.get("path") ?? "";
      validateArtifactName(name);
      const runId = histories.resolve(params.id ?? "");
      const bytes = readArtifact(dir, store, runId, name);
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
      const runIds = listParam(q, "runs");
      const patterns = listParam(q, "keys");
      if (runIds.length > MAX_SERIES_RUNS) {
        throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `At most ${MAX_SERIES_RUNS} runs per request.`, {
          hint: "Ask for the series of fewer runs at a time.",
          data: { parameter: "runs", count: runIds.length, max: MAX_SERIES_RUNS },
        });
      }
      const points = intParam(q, "points", 1000, 0, 20000);
      const xParam = q.get("x") ?? "step";
      if (xParam !== "step" && xParam !== "time") {
        throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "x must be step or time.", {
          hint: "Pass x=step or x=time.",
          data: { parameter: "x", value: xParam },
        });
      }
      const series = [];
      for (const id of runIds) {
        const run = histories.run(id);
        for (const key of expandKeys(patterns, run.keys)) {
          const pts = run.points(key, { points, x: xParam });
          if (pts !== undefined) series.push({ runId: run.runId, key, ...pts });
        }
      }
      sendUiJson(res, 200, { series });
    },
  });

  const plots = (): PlotsSource => {
    if (options.plots === undefined) {
      throw new MtrackError(
        "ERR_MTRACK_PATH_NOT_FOUND",
        "This server has no repository to read plots from.",
        {
          hint: "Run mtrack ui (or mtrack server) inside the repository.",
        },
      );
    }
    return options.plots;
  };

  // The pipeline's plots overlaid across revisions (`revs=HEAD,workspace`, or `rev` repeated; default
  // HEAD and the workspace), the same report `mtrack plots diff --json` prints.
  router.add({
    method: "GET",
    pattern: "/plots",
    access: "public",
    handler: async ({ res, url }) => {
      const q = url.searchParams;
      const names = [...listParam(q, "revs"), ...listParam(q, "rev")];
      if (names.length > MAX_PLOT_REVS) {
        throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `At most ${MAX_PLOT_REVS} revisions at once.`, {
          data: { parameter: "revs", count: names.length },
        });
      }
      sendUiJson(res, 200, await plots().report(names));
    },
  });

  router.add({
    method: "GET",
    pattern: "/plots/revisions",
    access: "public",
    handler: async ({ res }) => {
      sendUiJson(res, 200, { revisions: await plots().revisions() });
    },
  });

  router.add({
    method: "GET",
    pattern: "/bands",
    access: "public",
    handler: async ({ res, url }) => {
      const q = url.searchParams;
      const { kind, groupKey, key, points, maxRuns } = bandsQuery(q);
      const withMetric = select(q).rows.filter((r) => Object.hasOwn(r.metrics, key));
      const chosen = withMetric.slice(0, maxRuns);
      const inputs = [];
      for (const r of chosen) {
        const h = histories.run(r.runId).history(key);
        if (h === undefined) continue;
        const value = Object.hasOwn(r[kind], groupKey) ? r[kind][groupKey]! : null;
        inputs.push({ group: value, steps: h.steps, values: h.values });
      }
      sendUiJson(res, 200, {
        groups: computeBands(inputs, points),
        truncated: withMetric.length > chosen.length,
      });
    },
  });

  router.mount(
    "",
    modelsApi({
      registry,
      store,
      openObject: options.openObject,
      runNames: () => new Map(listing.snapshot().runs.map((r) => [r.runId, r.name])),
    }),
  );
  return router;
}
