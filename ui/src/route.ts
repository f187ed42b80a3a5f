/**
 * Hash routes, so every view is a link: `#/runs?experiment=0&filter=...&sort=...&cols=...`,
 * `#/run/<id>`, `#/compare?runs=a,b&x=step&log=1&smooth=0.6&pattern=seed/*` + `/alpha`,
 * `#/bands?group=params.lr&key=val_acc`, the model registry `#/models`, `#/models/<name>` and
 * `#/models/<name>/<version>`; MLflow's own `#/experiments/<id>/runs/<run id>` and
 * `#/experiments/<id>` (the links the mlflow client prints) are read too. Pure: parse and format only.
 */

import type { XMode } from "./model.js";

/** The runs table: experiment selection, filter, sort and chosen columns. */
export interface RunsRoute {
  view: "runs";
  experiments: string[];
  filter: string;
  /** Column id and direction, e.g. `metrics.val_acc` + desc. */
  sort?: { column: string; desc: boolean };
  /** Column ids (see model.columnId). */
  cols: string[];
}

/** One run's page. */
export interface RunRoute {
  view: "run";
  id: string;
}

/** Selected runs side by side. */
export interface CompareRoute {
  view: "compare";
  runs: string[];
  x: XMode;
  log: boolean;
  smooth: number;
  /** Seed-curve pattern (`seed/*` + `/alpha`), "" for none. */
  pattern: string;
}

/** Mean/min/max bands of a metric over runs grouped by a param or tag. */
export interface BandsRoute {
  view: "bands";
  experiments: string[];
  filter: string;
  group: string;
  key: string;
}

/** The registered models. */
export interface ModelsRoute {
  view: "models";
}

/** One registered model and its versions. */
export interface ModelRoute {
  view: "model";
  name: string;
}

/** One version of a registered model: its files, signature and URIs. */
export interface ModelVersionRoute {
  view: "model-version";
  name: string;
  version: number;
}

/** Any route of the page. */
export type Route =
  | RunsRoute
  | RunRoute
  | CompareRoute
  | BandsRoute
  | ModelsRoute
  | ModelRoute
  | ModelVersionRoute;

/**
 * The nav entry a route belongs to (a run page to Runs, a model's pages to Models).
 *
 * @example
 * navSection({ view: "model", name: "clf" }) // "models"
 */
export function navSection(r: Route): string {
  if (r.view === "model" || r.view === "model-version") return "models";
  return r.view;
}

const X_MODES: readonly XMode[] = ["step", "time", "relative"];

function list(v: string | null): string[] {
  return v ? v.split(",").filter((s) => s.length > 0) : [];
}

/**
 * Parses `location.hash`; anything unknown is the default runs table.
 *
 * @example
 * parseRoute("#/run/3f2a") // { view: "run", id: "3f2a" }
 */
export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, "");
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  const parts = path.split("/").filter((s) => s.length > 0);
  if (parts[0] === "run" && parts[1]) return { view: "run", id: decodeURIComponent(parts[1]) };
  // The links the MLflow client prints ("View run at <uri>/#/experiments/<id>/runs/<run id>",
  // "View experiment at <uri>/#/experiments/<id>") open the same run page / runs table here.
  if (parts[0] === "experiments" && parts[1]) {
    if (parts[2] === "runs" && parts[3]) return { view: "run", id: decodeURIComponent(parts[3]) };
    return { view: "runs", experiments: [decodeURIComponent(parts[1])], filter: "", cols: [] };
  }
  if (parts[0] === "models") {
    let name = "";
    try {
      name = decodeURIComponent(parts[1] ?? "");
    } catch {
      // A mangled link opens the models list.
    }
    if (name === "") return { view: "models" };
    const version = /^v?([1-9]\d{0,9})$/.exec(parts[2] ?? "")?.[1];
    return version ? { view: "model-version", name, version: Number(version) } : { view: "model", name };
  }
  if (parts[0] === "compare") {
    const x = params.get("x") as XMode | null;
    const smooth = Number(params.get("smooth") ?? "0");
    return {
      view: "compare",
      runs: list(params.get("runs")),
      x: x && X_MODES.includes(x) ? x : "step",
      log: params.get("log") === "1",
      smooth: Number.isFinite(smooth) ? Math.min(0.99, Math.max(0, smooth)) : 0,
      pattern: params.get("pattern") ?? "",
    };
  }
  if (parts[0] === "bands") {
    return {
      view: "bands",
      experiments: params.getAll("experiment"),
      filter: params.get("filter") ?? "",
      group: params.get("group") ?? "",
      key: params.get("key") ?? "",
    };
  }
  const sort = params.get("sort");
  const m = sort ? /^(.*?)(?: (asc|desc))?$/i.exec(sort) : null;
  return {
    view: "runs",
    experiments: params.getAll("experiment"),
    filter: params.get("filter") ?? "",
    ...(m?.[1] ? { sort: { column: m[1], desc: (m[2] ?? "desc").toLowerCase() === "desc" } } : {}),
    cols: list(params.get("cols")),
  };
}

/**
 * The hash for a route (inverse of {@link parseRoute}).
 *
 * @example
 * formatRoute({ view: "compare", runs: ["a", "b"], x: "step", log: false, smooth: 0, pattern: "" })
 * // "#/compare?runs=a%2Cb"
 */
export function formatRoute(r: Route): string {
  const p = new URLSearchParams();
  switch (r.view) {
    case "run":
      return `#/run/${encodeURIComponent(r.id)}`;
    case "models":
      return "#/models";
    case "model":
      return `#/models/${encodeURIComponent(r.name)}`;
    case "model-version":
      return `#/models/${encodeURIComponent(r.name)}/${r.version}`;
    case "compare":
      p.set("runs", r.runs.join(","));
      if (r.x !== "step") p.set("x", r.x);
      if (r.log) p.set("log", "1");
      if (r.smooth > 0) p.set("smooth", String(r.smooth));
      if (r.pattern) p.set("pattern", r.pattern);
      return `#/compare?${p}`;
    case "bands":
      for (const e of r.experiments) p.append("experiment", e);
      if (r.filter) p.set("filter", r.filter);
      if (r.group) p.set("group", r.group);
      if (r.key) p.set("key", r.key);
      return `#/bands?${p}`;
    case "runs": {
      for (const e of r.experiments) p.append("experiment", e);
      if (r.filter) p.set("filter", r.filter);
      if (r.sort) p.set("sort", `${r.sort.column} ${r.sort.desc ? "desc" : "asc"}`);
      if (r.cols.length > 0) p.set("cols", r.cols.join(","));
      const s = p.toString();
      return s ? `#/runs?${s}` : "#/runs";
    }
  }
}
