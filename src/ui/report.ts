/**
 * `mtrack plots show`: a self-contained HTML report of the metrics and plots files a pipeline declares,
 * in the workspace or at a git revision. The file needs no server and no network: uPlot and its
 * stylesheet are inlined, data travels as JSON inside `<script type="application/json">`, and a CSP meta
 * tag forbids every fetch. Gathering is effectful and thin; parsing rows and rendering are pure.
 */

import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { MtrackError } from "../errors.js";
import { type FlatFiles, metricsAt, openRev, pipelineFilesAt, type Rev } from "../pipeline/compare.js";
import { DEFAULT_PIPELINE_FILE, lockPathFor } from "../pipeline/load.js";
import { parseLock } from "../pipeline/lockfile.js";
import { isMapping } from "../pipeline/params.js";
import type { Repo } from "../repo.js";
import { IMAGE_TYPES } from "./artifacts.js";

/** A declared plots file and the options the pipeline gives it (DVC's `x`, `y`, `title`). */
export interface PlotSpec {
  file: string;
  x?: string;
  y?: string[];
  title?: string;
}

/** A line chart: one x column and one series per numeric column. */
export interface LinePlot {
  kind: "lines";
  file: string;
  title: string;
  xLabel: string;
  x: number[];
  series: { label: string; values: (number | null)[] }[];
}

/** An image plot (PNG, JPEG, GIF, WebP), embedded as a data: URL. */
export interface ImagePlot {
  kind: "image";
  file: string;
  title: string;
  dataUrl: string;
}

/** A declared plot that could not be drawn, and why. */
export interface MissingPlot {
  kind: "missing";
  file: string;
  title: string;
  reason: string;
}

/** One entry of the report's plots section. */
export type ReportPlot = LinePlot | ImagePlot | MissingPlot;

/** Everything a report shows. */
export interface ReportData {
  /** `workspace` or the revision as given. */
  revision: string;
  commit: string | null;
  generatedAt: number;
  metrics: FlatFiles;
  plots: ReportPlot[];
}

function splitDelimited(text: string, sep: string): Record<string, unknown>[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = lines[0]?.split(sep).map((h) => h.trim()) ?? [];
  return lines.slice(1).map((line) => {
    const cells = line.split(sep);
    const row: Record<string, unknown> = {};
    header.forEach((h, i) => {
      row[h] = cells[i]?.trim() ?? "";
    });
    return row;
  });
}

/**
 * The rows of a plots file: a CSV/TSV table with a header, or a JSON/YAML list of objects (or an object
 * holding one such list, as DVC accepts).
 *
 * @example
 * parsePlotRows("step,loss\n0,1\n1,0.5\n", "loss.csv"); // [{ step: "0", loss: "1" }, { step: "1", loss: "0.5" }]
 */
export function parsePlotRows(text: string, file: string): Record<string, unknown>[] {
  const ext = path.posix.extname(file).toLowerCase();
  if (ext === ".csv") return splitDelimited(text, ",");
  if (ext === ".tsv") return splitDelimited(text, "\t");
  let value: unknown;
  try {
    value = ext === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new MtrackError(
      "ERR_MTRACK_FORMAT_INVALID",
      `${file} is not valid ${ext === ".json" ? "JSON" : "YAML"}.`,
      {
        hint: "Write plots files as CSV/TSV with a header, or as a JSON/YAML list of objects.",
        data: { file },
        cause: err,
      },
    );
  }
  if (isMapping(value)) {
    const list = Object.values(value).find(Array.isArray);
    if (list !== undefined) value = list;
  }
  if (!Array.isArray(value)) {
    throw new MtrackError("ERR_MTRACK_FORMAT_INVALID", `${file} holds no list of rows.`, {
      hint: "Write plots files as CSV/TSV with a header, or as a JSON/YAML list of objects.",
      data: { file },
    });
  }
  return value.filter(isMapping);
}

function toNumber(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && v.trim() !== "") {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** A cell that leaves a gap in a numeric column: empty, or a NaN/infinity however it is spelled. */
function isGap(v: unknown): boolean {
  if (v === undefined || v === null || v === "") return true;
  if (typeof v === "number") return !Number.isFinite(v);
  return typeof v === "string" && /^\s*[+-]?(nan|inf|infinity)\s*$/i.test(v);
}

/**
 * A line chart from rows: x is the spec's `x`, else `step`, else the first column (or the row index when
 * that column is not numeric); one series per other column whose every non-empty value is a number
 * (or per column of the spec's `y`). Rows are sorted by x.
 *
 * @example
 * linePlotFromRows([{ step: 0, loss: 1 }, { step: 1, loss: 0.5 }], { file: "loss.json" }).series[0]?.label; // "loss"
 */
export function linePlotFromRows(rows: readonly Record<string, unknown>[], spec: PlotSpec): LinePlot {
  const columns: string[] = [];
  for (const row of rows) for (const k of Object.keys(row)) if (!columns.includes(k)) columns.push(k);
  const xKey = spec.x ?? (columns.includes("step") ? "step" : columns[0]);
  const xNumeric = xKey !== undefined && rows.every((r) => toNumber(r[xKey]) !== null);
  const order = rows.map((_, i) => i);
  if (xNumeric) order.sort((a, b) => toNumber(rows[a]![xKey!])! - toNumber(rows[b]![xKey!])! || a - b);
  const numeric = (k: string) =>
    rows.every((r) => toNumber(r[k]) !== null || isGap(r[k])) && rows.some((r) => toNumber(r[k]) !== null);
  const yKeys = spec.y ?? columns.filter((k) => k !== xKey && numeric(k));
  return {
    kind: "lines",
    file: spec.file,
    title: spec.title ?? spec.file,
    xLabel: xNumeric ? xKey! : "row",
    x: order.map((i) => (xNumeric ? toNumber(rows[i]![xKey!])! : i)),
    series: yKeys.map((k) => ({ label: k, values: order.map((i) => toNumber(rows[i]![k])) })),
  };
}

/** `y` as DVC writes it: a column, a list of columns, or `{ file: column(s) }`. */
function yColumns(y: unknown, file: string): string[] | undefined {
  if (typeof y === "string") return [y];
  if (Array.isArray(y)) return y.filter((v): v is string => typeof v === "string");
  if (isMapping(y) && Object.hasOwn(y, file)) return yColumns(y[file], file);
  return undefined;
}

/**
 * The plots files of a pipeline file's text and its parsed stages: each stage's `plots:` outputs with
 * their options, then the top-level `plots:` list (strings, or `{ file: options }` entries).
 *
 * @example
 * plotSpecs("plots:\n  - eval/roc.csv\n", []); // [{ file: "eval/roc.csv" }]
 */
export function plotSpecs(
  pipelineText: string,
  stageOuts: readonly { path: string; kind: string; options: Record<string, unknown> }[],
): PlotSpec[] {
  const specs = new Map<string, PlotSpec>();
  const add = (file: string, options: Record<string, unknown>) => {
    if (specs.has(file)) return;
    const spec: PlotSpec = { file };
    if (typeof options.x === "string") spec.x = options.x;
    const y = yColumns(options.y, file);
    if (y !== undefined) spec.y = y;
    if (typeof options.title === "string") spec.title = options.title;
    specs.set(file, spec);
  };
  for (const o of stageOuts) if (o.kind === "plots") add(o.path, o.options);
  let doc: unknown;
  try {
    doc = parseYaml(pipelineText);
  } catch {
    doc = undefined;
  }
  const list = isMapping(doc) ? doc.plots : undefined;
  if (Array.isArray(list)) {
    for (const item of list) {
      if (typeof item === "string") add(item, {});
      else if (isMapping(item)) {
        for (const [file, options] of Object.entries(item)) add(file, isMapping(options) ? options : {});
      }
    }
  }
  return [...specs.values()];
}

/** Reads a file at the report's revision as bytes: the workspace, git, or (for cached outputs) the store. */
type BytesReader = (rel: string) => Promise<Buffer | null>;

async function bytesReaderFor(repo: Repo, commit: string | null, rev: Rev): Promise<BytesReader> {
  if (rev === null) {
    return async (rel) => {
      try {
        return repo.fs.readFileSync(repo.abs(rel)) as Buffer;
      } catch {
        return null;
      }
    };
  }
  if (commit === null) return async () => null;
  const git = repo.git();
  // Outputs cached by mtrack are not in git: the lock at that commit names their object.
  const lockText = await git.readFileAtRev(commit, lockPathFor(DEFAULT_PIPELINE_FILE));
  const lockOuts = new Map<string, string>();
  if (lockText !== null) {
    try {
      for (const entry of Object.values(parseLock(lockText.toString("utf8"), "pipeline.lock").stages)) {
        for (const o of entry.outs) if (o.files === undefined) lockOuts.set(o.path, o.hash);
      }
    } catch {
      // A damaged lock only means cached outputs are not found.
    }
  }
  return async (rel) => {
    const inGit = await git.readFileAtRev(commit, rel);
    if (inGit !== null) return inGit;
    const hash = lockOuts.get(rel);
    return hash !== undefined && repo.store.has(hash) ? repo.store.readObject(hash) : null;
  };
}

/**
 * Gathers a report: metrics files (flattened) and plots at `rev` (null: the workspace).
 *
 * @example
 * const data = await buildReport(repo, { rev: "HEAD~1" });
 */
export async function buildReport(
  repo: Repo,
  options: { rev?: Rev; clock?: () => number } = {},
): Promise<ReportData> {
  const rev = options.rev ?? null;
  const reader = await openRev(repo, rev);
  const files = await pipelineFilesAt(reader);
  const pipelineText = (await reader.read(DEFAULT_PIPELINE_FILE)) ?? "";
  const specs = plotSpecs(pipelineText, files.pipeline?.stages.flatMap((s) => s.outs) ?? []);
  const readBytes = await bytesReaderFor(repo, reader.commit, rev);
  const plots: ReportPlot[] = [];
  for (const spec of specs) {
    const title = spec.title ?? spec.file;
    const bytes = await readBytes(spec.file);
    if (bytes === null) {
      plots.push({ kind: "missing", file: spec.file, title, reason: "file not found" });
      continue;
    }
    const ext = path.posix.extname(spec.file).toLowerCase();
    const imageType = IMAGE_TYPES[ext];
    if (imageType !== undefined) {
      plots.push({
        kind: "image",
        file: spec.file,
        title,
        dataUrl: `data:${imageType};base64,${bytes.toString("base64")}`,
      });
    } else if ([".csv", ".tsv", ".json", ".yaml", ".yml"].includes(ext)) {
      try {
        plots.push(linePlotFromRows(parsePlotRows(bytes.toString("utf8"), spec.file), spec));
      } catch (err) {
        plots.push({ kind: "missing", file: spec.file, title, reason: (err as Error).message });
      }
    } else {
      plots.push({
        kind: "missing",
        file: spec.file,
        title,
        reason: `unsupported plot format ${ext || "(none)"}`,
      });
    }
  }
  return {
    revision: reader.label,
    commit: reader.commit,
    generatedAt: (options.clock ?? Date.now)(),
    metrics: await metricsAt(reader),
    plots,
  };
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
  for (const [i, plot] of data.plots.entries()) {
    if (plot.kind !== "lines") continue;
    const el = document.getElementById("plot-" + i);
    if (!el) continue;
    const width = Math.max(320, Math.min(960, el.clientWidth || 800));
    const opts = {
      width, height: 320,
      scales: { x: { time: false } },
      axes: [{ label: plot.xLabel }, {}],
      series: [{ label: plot.xLabel }].concat(plot.series.map((s, k) => ({
        label: s.label, stroke: palette[k % palette.length], width: 1.5, spanGaps: true,
      }))),
    };
    new uPlot(opts, [plot.x].concat(plot.series.map((s) => s.values)), el);
  }
})();`;

const REPORT_CSS = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1000px;padding:0 16px;color:#1d1d1f}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:14px;margin:18px 0 6px}.meta{color:#666;font-size:12px}
table{border-collapse:collapse;margin:6px 0 12px}td,th{border:1px solid #ddd;padding:3px 10px;text-align:left}
th{background:#f5f5f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.plot{margin:8px 0 20px}.missing{color:#a33}img.plot-img{max-width:100%;border:1px solid #eee}`;

/**
 * The report as one HTML document. Every piece of data is escaped: text through {@link escapeHtml}, the
 * chart data through {@link scriptJson}.
 *
 * @example
 * fs.writeFileSync("report.html", renderReportHtml(await buildReport(repo), loadReportAssets()));
 */
export function renderReportHtml(data: ReportData, assets: ReportAssets): string {
  const parts: string[] = [];
  const rev =
    data.commit && data.revision !== data.commit
      ? `${data.revision} (${data.commit.slice(0, 12)})`
      : data.revision;
  parts.push(
    `<h1>mtrack report</h1><p class="meta">Revision ${escapeHtml(rev)} · generated ${escapeHtml(new Date(data.generatedAt).toISOString())}</p>`,
  );
  parts.push("<h2>Metrics</h2>");
  const metricFiles = Object.entries(data.metrics);
  if (metricFiles.length === 0)
    parts.push(
      '<p class="meta">No metrics files (declare them under <code>metrics:</code> in pipeline.yaml).</p>',
    );
  for (const [file, values] of metricFiles) {
    parts.push(
      `<h3>${escapeHtml(file)}</h3><table><thead><tr><th>Key</th><th>Value</th></tr></thead><tbody>`,
    );
    for (const [k, v] of Object.entries(values)) {
      const cls = typeof v === "number" ? ' class="num"' : "";
      parts.push(`<tr><td>${escapeHtml(k)}</td><td${cls}>${escapeHtml(cellText(v))}</td></tr>`);
    }
    parts.push("</tbody></table>");
  }
  parts.push("<h2>Plots</h2>");
  if (data.plots.length === 0)
    parts.push('<p class="meta">No plots (declare them under <code>plots:</code> in pipeline.yaml).</p>');
  data.plots.forEach((p, i) => {
    const head = `<h3>${escapeHtml(p.title)}</h3>${p.title !== p.file ? `<p class="meta">${escapeHtml(p.file)}</p>` : ""}`;
    if (p.kind === "lines") parts.push(`${head}<div class="plot" id="plot-${i}"></div>`);
    else if (p.kind === "image")
      parts.push(`${head}<img class="plot-img" alt="${escapeHtml(p.file)}" src="${escapeHtml(p.dataUrl)}">`);
    else parts.push(`${head}<p class="missing">Not drawn: ${escapeHtml(p.reason)}</p>`);
  });
  const csp =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mtrack report · ${escapeHtml(rev)}</title>
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
