/**
 * The pipeline's plots overlaid across git revisions (/api/v1/plots, the report `mtrack plots diff`
 * writes): a revision picker (the workspace, HEAD, branches, tags, recent commits, or any revision typed
 * in), then one chart per plot with a line per revision, confusion matrices and images side by side, and
 * a note for each file a revision lacks. The revisions live in the URL (`#/plots?revs=HEAD~1,HEAD`).
 */

import uPlot from "uplot";
import {
  ApiError,
  type ConfusionPlot,
  getJson,
  type LinePlot,
  type PlotsReport,
  type ReportPlot,
  type RevisionChoice,
} from "./api.js";
import { type AppContext, chartWidth, type View } from "./app.js";
import { h, replace } from "./dom.js";
import { colorAt } from "./model.js";
import type { PlotsRoute, Route } from "./route.js";

/** Revisions typed into the picker: separated by commas or spaces. */
export function parseRevList(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter((s) => s !== ""))];
}

/**
 * A line's colour: with one line per revision, the revision's (so it keeps its colour in every plot, even
 * where another revision lacks the file); else the line's place.
 */
export function seriesColor(plot: LinePlot, k: number, revs: readonly string[]): string {
  const byRev = revs.length > 1 && new Set(plot.series.map((s) => s.rev)).size === plot.series.length;
  return colorAt(byRev ? Math.max(0, revs.indexOf(plot.series[k]?.rev ?? "")) : k);
}

function lineChart(parent: HTMLElement, plot: LinePlot, width: number, revs: readonly string[]): uPlot {
  const opts: uPlot.Options = {
    width,
    height: 300,
    scales: {
      x: {
        time: false,
        ...(plot.x.length === 1
          ? { range: (_u: uPlot, lo: number, hi: number): uPlot.Range.MinMax => [lo - 1, hi + 1] }
          : {}),
      },
    },
    axes: [{ label: plot.xLabel }, plot.yLabel ? { label: plot.yLabel } : {}],
    series: [
      { label: plot.xLabel },
      ...plot.series.map((s, i) =>
        plot.points || plot.x.length < 2
          ? {
              label: s.label,
              stroke: seriesColor(plot, i, revs),
              paths: () => null,
              points: { show: true, size: 6 },
            }
          : {
              label: s.label,
              stroke: seriesColor(plot, i, revs),
              width: 1.5,
              spanGaps: true,
              points: { show: false },
            },
      ),
    ],
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
  };
  return new uPlot(opts, [plot.x, ...plot.series.map((s) => s.values)] as uPlot.AlignedData, parent);
}

/** A cell's background: white to blue by its share of the matrix's largest value. */
function heat(value: number, max: number): string {
  const t = max > 0 ? value / max : 0;
  const c = (from: number, to: number) => Math.round(from + (to - from) * t);
  return `background:rgb(${c(255, 31)},${c(255, 119)},${c(255, 180)});color:${t > 0.6 ? "#fff" : "inherit"}`;
}

function confusionTables(plot: ConfusionPlot, severalRevs: boolean): HTMLElement {
  return h(
    "div",
    { class: "plot-facets" },
    ...plot.matrices.map((m) => {
      const max = Math.max(0, ...m.values.flat());
      const caption = [severalRevs ? m.rev : null, m.file !== plot.id ? m.file : null]
        .filter(Boolean)
        .join(" · ");
      return h(
        "figure",
        { class: "plot-facet", "data-rev": m.rev },
        caption ? h("figcaption", {}, caption) : null,
        h(
          "table",
          { class: "confusion" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, `${plot.xLabel} \\ ${plot.yLabel}`),
              ...plot.labels.map((l) => h("th", {}, l)),
            ),
          ),
          h(
            "tbody",
            {},
            ...m.values.map((row, i) =>
              h(
                "tr",
                {},
                h("th", {}, plot.labels[i] ?? ""),
                ...row.map((v, j) =>
                  h(
                    "td",
                    {
                      style: heat(v, max),
                      title: `${plot.xLabel}=${plot.labels[i]}, ${plot.yLabel}=${plot.labels[j]}: ${m.counts[i]?.[j] ?? 0}`,
                    },
                    plot.normalized ? v.toFixed(2) : String(v),
                  ),
                ),
              ),
            ),
          ),
        ),
      );
    }),
  );
}

/** Mounts the plots view. */
export function plotsView(ctx: AppContext, route: PlotsRoute): View {
  const charts: uPlot[] = [];
  const input = h("input", {
    type: "text",
    class: "plot-revs",
    "aria-label": "revisions",
    placeholder: "HEAD workspace",
    value: route.revs.join(", "),
  });
  const choices = h("div", { class: "rev-choices" });
  const status = h("p", { class: "status-line" });
  const body = h("div", { class: "plots" });
  const apply = () => ctx.go({ view: "plots", revs: parseRevList(input.value) });
  const form = h(
    "form",
    { class: "chart-controls" },
    h("label", {}, "revisions ", input),
    h("button", { type: "submit", class: "overlay" }, "Overlay"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  const el = h("div", { class: "plots-view" }, h("h1", {}, "Plots"), form, choices, status, body);

  /** Chips that add or remove a revision from the picker's text (applied with Overlay). */
  function showChoices(list: RevisionChoice[]) {
    const chosen = () => new Set(parseRevList(input.value));
    const chips = list.map((c) => {
      const chip = h(
        "button",
        {
          type: "button",
          class: `rev-chip rev-${c.kind}`,
          "data-rev": c.name,
          title: c.commit ?? "the working tree",
        },
        c.name,
      );
      chip.classList.toggle("on", chosen().has(c.name));
      chip.addEventListener("click", () => {
        const now = parseRevList(input.value);
        input.value = (now.includes(c.name) ? now.filter((r) => r !== c.name) : [...now, c.name]).join(", ");
        for (const b of choices.querySelectorAll<HTMLButtonElement>(".rev-chip")) {
          b.classList.toggle("on", chosen().has(b.dataset.rev ?? ""));
        }
      });
      return chip;
    });
    replace(choices, ...chips);
  }

  function drawPlot(plot: ReportPlot, revs: readonly string[]): HTMLElement {
    const severalRevs = revs.length > 1;
    const box = h(
      "section",
      { class: `plot plot-${plot.kind}`, "data-plot": plot.id },
      h("h2", {}, plot.title),
      plot.title !== plot.id ? h("p", { class: "small" }, plot.id) : null,
    );
    if (plot.kind === "lines") {
      const chart = h("div", { class: "chart" });
      box.append(chart);
      charts.push(lineChart(chart, plot, chartWidth() * 2, revs));
    } else if (plot.kind === "confusion") box.append(confusionTables(plot, severalRevs));
    else if (plot.kind === "images") {
      box.append(
        h(
          "div",
          { class: "plot-facets" },
          ...plot.images.map((img) =>
            h(
              "figure",
              { class: "plot-facet", "data-rev": img.rev },
              h("figcaption", {}, severalRevs ? `${img.rev} · ${img.file}` : img.file),
              h("img", { src: img.dataUrl, alt: img.file, class: "plot-img" }),
            ),
          ),
        ),
      );
    } else box.append(h("p", { class: "error" }, `Not drawn: ${plot.reason}`));
    if (plot.kind !== "missing" && plot.notes.length > 0) {
      box.append(
        h(
          "ul",
          { class: "plot-notes" },
          ...plot.notes.map((n) => h("li", {}, `${n.rev}: ${n.file}: ${n.reason}`)),
        ),
      );
    }
    return box;
  }

  async function load() {
    status.textContent = "Loading…";
    void getJson<{ revisions: RevisionChoice[] }>("/plots/revisions")
      .then((r) => showChoices(r.revisions))
      .catch(() => {
        // The picker still takes typed revisions.
      });
    const report = await getJson<PlotsReport>("/plots", { revs: route.revs.join(",") });
    const names = report.revisions.map((r) => r.name);
    if (route.revs.length === 0) input.value = names.join(", ");
    const broken = report.revisions.filter((r) => r.error).map((r) => `${r.name}: ${r.error?.message}`);
    status.textContent =
      report.plots.length === 0
        ? "No plots (declare them under plots: in pipeline.yaml)."
        : `${report.plots.length} plots over ${names.join(", ")}${broken.length > 0 ? ` — ${broken.join("; ")}` : ""}`;
    replace(body, ...report.plots.map((p) => drawPlot(p, names)));
    el.dataset.drawn = "1";
  }

  void load().catch((e) => {
    status.textContent = e instanceof ApiError && e.hint ? `${e.message} ${e.hint}` : (e as Error).message;
    status.classList.add("error");
    if (e instanceof ApiError) el.dataset.error = e.code;
  });

  return {
    el,
    update: (_next: Route) => false,
    destroy: () => {
      for (const c of charts) c.destroy();
    },
  };
}
