/**
 * One run's page: provenance (git commit and dirty flag, pipeline stage, parent run), params, tags, the
 * metrics summary, every metric's chart, seed curves, and an artifacts browser (text inline, images shown,
 * anything else — HTML and SVG included — offered as a download).
 */

import type uPlot from "uplot";
import { type ArtifactFile, artifactUrl, getJson, type RunInfo, type Series } from "./api.js";
import type { AppContext, View } from "./app.js";
import { splitKeys } from "./compare-view.js";
import { h, replace } from "./dom.js";
import { formatDuration, formatTime, formatValue, shortCommit, sizeText } from "./model.js";
import { formatRoute, type Route, type RunRoute } from "./route.js";
import {
  type ChartSettings,
  chartControls,
  drawMetricCharts,
  drawSeedCharts,
  fetchSeries,
} from "./series-charts.js";

/** A two-column table of labelled values. */
export function kv(rows: [string, Node | string][]): HTMLElement {
  return h(
    "table",
    { class: "kv" },
    h("tbody", {}, ...rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))),
  );
}

/** Mounts a run's page. */
export function runView(ctx: AppContext, route: RunRoute): View {
  let run: RunInfo | undefined;
  let st: ChartSettings = { x: "step", log: false, smooth: 0 };
  let plain: string[] = [];
  let patterns: string[] = [];
  let series: Series[] = [];
  let seedSeries = new Map<string, Series[]>();
  let charts: uPlot[] = [];

  const title = h("h1", {}, "Run");
  const status = h("p", { class: "status-line" }, "Loading…");
  const info = h("div", { class: "run-info" });
  const chartsBox = h("div", { class: "charts metric-charts" });
  const seedBox = h("div", { class: "seed-sections" });
  const artifactsBox = h("div", { class: "artifacts" });
  const viewer = h("div", { class: "artifact-viewer" });
  const el = h(
    "div",
    { class: "run-view" },
    title,
    status,
    info,
    h("h2", {}, "Charts"),
    chartControls(st, (next) => {
      const refetch = (next.x === "step") !== (st.x === "step");
      st = next;
      if (refetch) void loadSeries();
      else draw();
    }),
    chartsBox,
    seedBox,
    h("h2", {}, "Artifacts"),
    h("div", { class: "artifact-browser" }, artifactsBox, viewer),
  );

  function draw() {
    if (!run) return;
    for (const c of charts) c.destroy();
    const runs = [{ runId: run.runId, name: run.name, startTime: run.startTime }];
    charts = drawMetricCharts(chartsBox, runs, plain, series, st);
    const sections: HTMLElement[] = [];
    for (const p of patterns) {
      const box = h("div", { class: "charts seed-charts" });
      sections.push(h("h3", {}, p), box);
      charts.push(...drawSeedCharts(box, runs, p, seedSeries.get(p) ?? [], st));
    }
    replace(seedBox, sections);
    el.dataset.drawn = String(charts.length);
  }

  async function loadSeries() {
    if (!run) return;
    const id = run.runId;
    const [plainSeries, ...seeds] = await Promise.all([
      fetchSeries([id], plain, st.x),
      ...patterns.map((p) => fetchSeries([id], [p], st.x)),
    ]);
    series = plainSeries ?? [];
    seedSeries = new Map(patterns.map((p, i) => [p, seeds[i] ?? []]));
    draw();
  }

  function renderInfo(r: RunInfo) {
    title.textContent = r.name;
    const status = r.unfinished ? "KILLED" : r.status;
    const commit = r.git?.commit ?? r.commit;
    const dirty = r.git?.dirty ?? r.dirty;
    const provenance = kv([
      ["run id", h("code", {}, r.runId)],
      ["status", h("span", { class: `status status-${status}` }, status.toLowerCase())],
      ["experiment", r.experimentName],
      ["start", formatTime(r.startTime, new Date(r.startTime).getTimezoneOffset())],
      [
        "duration",
        formatDuration(r.durationMs ?? (r.status === "RUNNING" ? Date.now() - r.startTime : null)),
      ],
      [
        "git commit",
        h(
          "span",
          { class: "commit", title: commit ?? "" },
          h("code", {}, shortCommit(commit, dirty)),
          dirty ? h("span", { class: "dirty" }, " dirty worktree") : null,
          r.git?.branch ? ` on ${r.git.branch}` : "",
        ),
      ],
      ["pipeline stage", r.stage ?? "—"],
      [
        "parent run",
        r.parentRunId ? h("a", { href: `#/run/${r.parentRunId}` }, r.parentRunId.slice(0, 8)) : "—",
      ],
      ["host", r.host || "—"],
      ["command", h("code", {}, (r.command ?? []).join(" "))],
      ...(r.error ? ([["error", h("pre", { class: "run-error" }, r.error)]] as [string, Node][]) : []),
    ]);
    const params = kv(Object.entries(r.params).sort(([a], [b]) => a.localeCompare(b)));
    params.classList.add("params");
    const tags = kv(Object.entries(r.tags).sort(([a], [b]) => a.localeCompare(b)));
    tags.classList.add("tags");
    const metrics = h(
      "table",
      { class: "metrics-summary" },
      h(
        "thead",
        {},
        h("tr", {}, ...["metric", "last", "min", "max", "step", "points"].map((c) => h("th", {}, c))),
      ),
      h(
        "tbody",
        {},
        ...Object.entries(r.metrics)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, m]) =>
            h(
              "tr",
              {},
              h("th", {}, k),
              h("td", {}, formatValue(m.last)),
              h("td", {}, formatValue(m.min)),
              h("td", {}, formatValue(m.max)),
              h("td", {}, String(m.step)),
              h("td", {}, String(m.count)),
            ),
          ),
      ),
    );
    const table = (cls: string, headers: string[], rows: string[][]) =>
      h(
        "table",
        { class: cls },
        h("thead", {}, h("tr", {}, ...headers.map((c) => h("th", {}, c)))),
        h("tbody", {}, ...rows.map((row) => h("tr", {}, ...row.map((c) => h("td", {}, c))))),
      );
    const datasets = r.datasets ?? [];
    const models = r.loggedModels ?? [];
    const registered = r.registered ?? [];
    replace(
      info,
      h("div", { class: "panel" }, h("h2", {}, "Run"), provenance),
      h("div", { class: "panel" }, h("h2", {}, "Params"), params),
      h("div", { class: "panel" }, h("h2", {}, "Tags"), tags),
      h("div", { class: "panel wide" }, h("h2", {}, "Metrics"), metrics),
      registered.length === 0
        ? null
        : h(
            "div",
            { class: "panel wide registered" },
            h("h2", {}, "Registered as"),
            h(
              "ul",
              { class: "registered-list" },
              ...registered.map((v) =>
                h(
                  "li",
                  {},
                  h(
                    "a",
                    {
                      href: formatRoute({ view: "model-version", name: v.name, version: v.version }),
                      "data-model": v.name,
                      "data-version": v.version,
                    },
                    `${v.name} v${v.version}`,
                  ),
                  v.aliases.length > 0 ? ` (${v.aliases.map((a) => `@${a}`).join(", ")})` : "",
                ),
              ),
            ),
          ),
      datasets.length === 0
        ? null
        : h(
            "div",
            { class: "panel wide" },
            h("h2", {}, "Datasets"),
            table(
              "datasets",
              ["dataset", "digest", "source", "context"],
              datasets.map((d) => [d.name, d.digest, d.sourceType, d.context ?? "—"]),
            ),
          ),
      models.length === 0
        ? null
        : h(
            "div",
            { class: "panel wide" },
            h("h2", {}, "Logged models"),
            table(
              "logged-models",
              ["model id", "role", "step"],
              models.map((m) => [m.modelId, m.role, m.step === null ? "—" : String(m.step)]),
            ),
          ),
    );
  }

  async function openArtifact(runId: string, f: ArtifactFile) {
    const url = artifactUrl(runId, f.path);
    const head = h(
      "div",
      { class: "viewer-head" },
      h("code", {}, f.path),
      " ",
      h("a", { href: artifactUrl(runId, f.path, true), download: "" }, "download"),
    );
    if (f.kind === "image") {
      replace(viewer, head, h("img", { src: url, alt: f.path, class: "artifact-image" }));
    } else if (f.kind === "text") {
      replace(viewer, head, h("p", {}, "Loading…"));
      const res = await fetch(url);
      const text = await res.text();
      replace(viewer, head, h("pre", { class: "artifact-text", "data-path": f.path }, text));
    } else {
      replace(viewer, head, h("p", {}, "Binary file: use the download link."));
    }
  }

  async function loadArtifacts(runId: string) {
    const { files, models } = await getJson<{ files: ArtifactFile[]; models: RunInfo["models"] }>(
      `/runs/${encodeURIComponent(runId)}/artifacts`,
    );
    const items = files
      .slice()
      .sort((a, b) => a.path.localeCompare(b.path))
      .map((f) => {
        const link =
          f.kind === "binary"
            ? h(
                "a",
                {
                  href: artifactUrl(runId, f.path, true),
                  download: "",
                  class: "artifact binary",
                  "data-path": f.path,
                },
                f.path,
              )
            : h("a", { href: "#", class: `artifact ${f.kind}`, "data-path": f.path }, f.path);
        if (f.kind !== "binary") {
          link.addEventListener("click", (e) => {
            e.preventDefault();
            void openArtifact(runId, f).catch((err) => replace(viewer, String(err)));
          });
        }
        return h("li", {}, link, h("span", { class: "size" }, ` ${f.kind}, ${sizeText(f.size)}`));
      });
    replace(
      artifactsBox,
      items.length
        ? h("ul", { class: "artifact-list" }, ...items)
        : h("p", { class: "empty" }, "No artifacts."),
      models.length
        ? h(
            "div",
            { class: "models" },
            h("h3", {}, "Models"),
            h("ul", {}, ...models.map((m) => h("li", {}, `${m.name} (${m.flavor}, ${sizeText(m.size)})`))),
          )
        : null,
    );
  }

  async function load() {
    const r = await getJson<RunInfo>(`/runs/${encodeURIComponent(route.id)}`);
    run = r;
    renderInfo(r);
    status.textContent = "";
    ({ plain, patterns } = splitKeys(Object.keys(r.metrics).sort()));
    await Promise.all([loadSeries(), loadArtifacts(r.runId)]);
  }

  void load().catch((e) => {
    status.textContent = e instanceof Error ? e.message : String(e);
    status.classList.add("error");
  });

  ctx.poll(
    () => run?.status === "RUNNING",
    async () => {
      if (!run) return;
      run = await getJson<RunInfo>(`/runs/${run.runId}`);
      renderInfo(run);
      await loadSeries();
    },
  );

  return {
    el,
    update: (_next: Route) => false,
    destroy() {
      for (const c of charts) c.destroy();
    },
  };
}
