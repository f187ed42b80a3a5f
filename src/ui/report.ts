/**
 * `mtrack plots show`: a self-contained HTML report of the metrics and plots files a pipeline declares,
 * in the workspace or at a git revision. The file needs no server and no network: uPlot and its
 * stylesheet are inlined, data travels as JSON inside `<script type="application/json">`, and a CSP meta
 * tag forbids every fetch. Gathering is effectful and thin; parsing rows and rendering are pure.
 */

import fs from "node:fs";
import { createRequire } from "node:module";
import type { Rev } from "../pipeline/compare.js";
import { collectPlots, type PlotsReport } from "../plots/collect.js";
import type { ReportPlot } from "../plots/types.js";
import type { Repo } from "../repo.js";

/** Everything a report shows (see {@link PlotsReport}): one revision for `plots show`, several for `plots diff`. */
export type ReportData = PlotsReport;

/**
 * Gathers a one-revision report (`mtrack plots show`): metrics files (flattened) and plots at `rev`
 * (null: the workspace).
 *
 * @example
 * const data = await buildReport(repo, { rev: "HEAD~1" });
 */
export function buildReport(
  repo: Repo,
  options: { rev?: Rev; clock?: () => number } = {},
): Promise<ReportData> {
  return collectPlots(repo, [options.rev ?? null], options.clock ? { clock: options.clock } : {});
}

/** uPlot's script and stylesheet, inlined into reports. */
export interface ReportAssets {
  uplotJs: string;
  uplotCss: string;
}

/**
 * Reads uPlot from the installed package (a runtime dependency), so a report needs no network.
 *
 * @example
 * const assets = loadReportAssets();
 */
export function loadReportAssets(): ReportAssets {
  const require = createRequire(import.meta.url);
  return {
    uplotJs: fs.readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
    uplotCss: fs.readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
  };
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for HTML content and attribute values.
 *
 * @example
 * escapeHtml('<a href="x">'); // "&lt;a href=&quot;x&quot;&gt;"
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * JSON that is safe inside a `<script>` element: `<` is escaped so no `</script>` or `<!--` can end or
 * change it (JSON.parse reads `\u003c` back as `<`).
 *
 * @example
 * scriptJson({ a: "</script>" }); // '{"a":"\\u003c/script>"}'
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Inlined code must not close its own script element. */
function inlineScript(code: string): string {
  return code.replace(/<\/(script)/gi, "<\\/$1");
}

function cellText(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (typeof v === "string") return v;
  return JSON.stringify(v) ?? "";
}

/** Draws the line plots from the embedded JSON with uPlot (runs in the report's page). */
const RENDER_SCRIPT = `(() => {
  const data = JSON.parse(document.getElementById("mtrack-report-data").textContent);
  const palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  const revs = data.revisions.map((r) => r.name);
  // One line per revision: a revision keeps its colour in every plot, even where another lacks the file.
  const colorOf = (plot, k) => {
    const byRev = revs.length > 1 && new Set(plot.series.map((s) => s.rev)).size === plot.series.length;
    return palette[(byRev ? revs.indexOf(plot.series[k].rev) : k) % palette.length];
  };
  for (const [i, plot] of data.plots.entries()) {
    if (plot.kind !== "lines") continue;
    const el = document.getElementById("plot-" + i);
    if (!el) continue;
    const width = Math.max(320, Math.min(960, el.clientWidth || 800));
    const opts = {
      width, height: 320,
      scales: { x: { time: false } },
      axes: [{ label: plot.xLabel }, { label: plot.yLabel || undefined }],
      series: [{ label: plot.xLabel }].concat(plot.series.map((s, k) => plot.points
        ? { label: s.label, stroke: colorOf(plot, k), paths: () => null, points: { show: true, size: 6 } }
        : { label: s.label, stroke: colorOf(plot, k), width: 1.5, spanGaps: true })),
    };
    new uPlot(opts, [plot.x].concat(plot.series.map((s) => s.values)), el);
  }
})();`;

const REPORT_CSS = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1000px;padding:0 16px;color:#1d1d1f}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:14px;margin:18px 0 6px}.meta{color:#666;font-size:12px}
table{border-collapse:collapse;margin:6px 0 12px}td,th{border:1px solid #ddd;padding:3px 10px;text-align:left}
th{background:#f5f5f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.plot{margin:8px 0 20px}.missing{color:#a33}.notes{color:#a33;font-size:12px;margin:2px 0 8px;padding-left:18px}
img.plot-img{max-width:100%;border:1px solid #eee}.facets{display:flex;flex-wrap:wrap;gap:16px}
.facet{margin:0}.facet figcaption{font-size:12px;color:#444;margin-bottom:4px}
table.confusion td{text-align:right;min-width:36px;font-variant-numeric:tabular-nums}`;

/** The revisions as the report names them: `HEAD (3f2a…)`, `workspace`. */
function revisionText(r: { name: string; commit: string | null }): string {
  return r.commit && r.name !== r.commit ? `${r.name} (${r.commit.slice(0, 12)})` : r.name;
}

/** Metrics as one table per file: a row per key, a column per revision. */
function metricsHtml(data: ReportData): string[] {
  const parts: string[] = ["<h2>Metrics</h2>"];
  const files = [...new Set(data.revisions.flatMap((r) => Object.keys(r.metrics)))];
  if (files.length === 0) {
    parts.push(
      '<p class="meta">No metrics files (declare them under <code>metrics:</code> in pipeline.yaml).</p>',
    );
  }
  const several = data.revisions.length > 1;
  for (const file of files) {
    const keys = [...new Set(data.revisions.flatMap((r) => Object.keys(r.metrics[file] ?? {})))];
    const heads = several
      ? data.revisions.map((r) => `<th>${escapeHtml(r.name)}</th>`).join("")
      : "<th>Value</th>";
    parts.push(`<h3>${escapeHtml(file)}</h3><table><thead><tr><th>Key</th>${heads}</tr></thead><tbody>`);
    for (const k of keys) {
      const cells = data.revisions.map((r) => {
        const values = r.metrics[file];
        if (values === undefined || !Object.hasOwn(values, k)) return "<td>—</td>";
        const v = values[k];
        return `<td${typeof v === "number" ? ' class="num"' : ""}>${escapeHtml(cellText(v))}</td>`;
      });
      parts.push(`<tr><td>${escapeHtml(k)}</td>${cells.join("")}</tr>`);
    }
    parts.push("</tbody></table>");
  }
  return parts;
}

/** A facet's caption: what tells it apart (revision, file). */
function facetCaption(rev: string, file: string, plotId: string, severalRevs: boolean): string {
  const bits = [severalRevs ? rev : null, file !== plotId ? file : null].filter((b) => b !== null);
  return bits.length > 0 ? `<figcaption>${escapeHtml(bits.join(" · "))}</figcaption>` : "";
}

/** A cell's background: white to blue by its share of the largest value. */
function heat(value: number, max: number): string {
  const t = max > 0 ? value / max : 0;
  const c = (from: number, to: number) => Math.round(from + (to - from) * t);
  const text = t > 0.6 ? "#fff" : "#1d1d1f";
  return `background:rgb(${c(255, 31)},${c(255, 119)},${c(255, 180)});color:${text}`;
}

function confusionHtml(p: Extract<ReportPlot, { kind: "confusion" }>, severalRevs: boolean): string {
  const facets = p.matrices.map((m) => {
    const max = Math.max(0, ...m.values.flat());
    const head = p.labels.map((l) => `<th>${escapeHtml(l)}</th>`).join("");
    const rows = m.values.map((row, i) => {
      const cells = row.map((v, j) => {
        const shown = p.normalized ? v.toFixed(2) : String(v);
        return `<td style="${heat(v, max)}" title="${escapeHtml(`${p.xLabel}=${p.labels[i]}, ${p.yLabel}=${p.labels[j]}: ${m.counts[i]![j]}`)}">${escapeHtml(shown)}</td>`;
      });
      return `<tr><th>${escapeHtml(p.labels[i]!)}</th>${cells.join("")}</tr>`;
    });
    return `<figure class="facet">${facetCaption(m.rev, m.file, p.id, severalRevs)}<table class="confusion"><thead><tr><th>${escapeHtml(p.xLabel)} \\ ${escapeHtml(p.yLabel)}</th>${head}</tr></thead><tbody>${rows.join("")}</tbody></table></figure>`;
  });
  return `<div class="facets">${facets.join("")}</div>`;
}

/**
 * The report as one HTML document. Every piece of data is escaped: text through {@link escapeHtml}, the
 * chart data through {@link scriptJson}.
 *
 * @example
 * fs.writeFileSync("report.html", renderReportHtml(await buildReport(repo), loadReportAssets()));
 */
export function renderReportHtml(data: ReportData, assets: ReportAssets): string {
  const parts: string[] = [];
  const revs = data.revisions.map(revisionText).join(" vs ");
  const severalRevs = data.revisions.length > 1;
  parts.push(
    `<h1>mtrack report</h1><p class="meta">${severalRevs ? "Revisions" : "Revision"} ${escapeHtml(revs)} · generated ${escapeHtml(new Date(data.generatedAt).toISOString())}</p>`,
  );
  for (const r of data.revisions) {
    if (r.error) parts.push(`<p class="missing">${escapeHtml(r.name)}: ${escapeHtml(r.error.message)}</p>`);
  }
  parts.push(...metricsHtml(data));
  parts.push("<h2>Plots</h2>");
  if (data.plots.length === 0)
    parts.push('<p class="meta">No plots (declare them under <code>plots:</code> in pipeline.yaml).</p>');
  data.plots.forEach((p, i) => {
    parts.push(
      `<h3>${escapeHtml(p.title)}</h3>${p.title !== p.id ? `<p class="meta">${escapeHtml(p.id)}</p>` : ""}`,
    );
    if (p.kind === "lines") parts.push(`<div class="plot" id="plot-${i}"></div>`);
    else if (p.kind === "images") {
      const figures = p.images.map(
        (img) =>
          `<figure class="facet">${facetCaption(img.rev, img.file, p.id, severalRevs)}<img class="plot-img" alt="${escapeHtml(img.file)}" src="${escapeHtml(img.dataUrl)}"></figure>`,
      );
      parts.push(`<div class="facets">${figures.join("")}</div>`);
    } else if (p.kind === "confusion") parts.push(confusionHtml(p, severalRevs));
    else parts.push(`<p class="missing">Not drawn: ${escapeHtml(p.reason)}</p>`);
    if (p.kind !== "missing" && p.notes.length > 0) {
      const items = p.notes.map((n) => `<li>${escapeHtml(`${n.rev}: ${n.file}: ${n.reason}`)}</li>`);
      parts.push(`<ul class="notes">${items.join("")}</ul>`);
    }
  });
  const csp =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mtrack report · ${escapeHtml(revs)}</title>
<style>${assets.uplotCss.replace(/<\/(style)/gi, "<\\/$1")}
${REPORT_CSS}</style>
</head>
<body>
${parts.join("\n")}
<script type="application/json" id="mtrack-report-data">${scriptJson(data)}</script>
<script>${inlineScript(assets.uplotJs)}</script>
<script>${RENDER_SCRIPT}</script>
</body>
</html>
`;
}
