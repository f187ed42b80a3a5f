/**
 * From files to drawable plots, purely: parsing a plots file into rows, a line table per file, overlaying
 * the tables of several files and revisions on one x axis, confusion matrices, and a whole plot from its
 * files as read at each revision ({@link plotFromFiles}). Reading files at a
 * revision is collect.ts's job; drawing is the report's (src/ui/report.ts) and the UI's.
 */

import path from "node:path";
import { parse as parseYaml } from "yaml";
import { MtrackError } from "../errors.js";
import { isMapping } from "../pipeline/params.js";
import { IMAGE_TYPES } from "../ui/artifacts.js";
import { isConfusionTemplate, PLOT_TEMPLATES, type PlotDefinition, type PlotSource } from "./definitions.js";
import type { ConfusionMatrix, LineSeries, PlotNote, ReportPlot } from "./types.js";

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

/** The formats parsed into rows. */
export const ROW_FORMATS: readonly string[] = [".csv", ".tsv", ".json", ".yaml", ".yml"];

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

/** The columns of one file for a line chart, rows sorted by x. */
export interface LineTable {
  /** The x column, or `row` when x is the row index. */
  xLabel: string;
  x: number[];
  columns: { column: string; values: (number | null)[] }[];
}

/**
 * A file's rows as a line table: x is `x`, else `step`, else the first column (or the row index when that
 * column is not numeric); one column per `y` entry, else per other column whose every non-empty value is
 * a number. Rows are sorted by x.
 *
 * @example
 * lineTable([{ step: 1, loss: 0.5 }, { step: 0, loss: 1 }], {}); // { xLabel: "step", x: [0, 1], columns: [{ column: "loss", values: [1, 0.5] }] }
 */
export function lineTable(
  rows: readonly Record<string, unknown>[],
  options: { x?: string; y?: readonly string[] },
): LineTable {
  const columns: string[] = [];
  for (const row of rows) for (const k of Object.keys(row)) if (!columns.includes(k)) columns.push(k);
  const xKey = options.x ?? (columns.includes("step") ? "step" : columns[0]);
  const xNumeric = xKey !== undefined && rows.length > 0 && rows.every((r) => toNumber(r[xKey]) !== null);
  const order = rows.map((_, i) => i);
  if (xNumeric) order.sort((a, b) => toNumber(rows[a]![xKey!])! - toNumber(rows[b]![xKey!])! || a - b);
  const numeric = (k: string) =>
    rows.every((r) => toNumber(r[k]) !== null || isGap(r[k])) && rows.some((r) => toNumber(r[k]) !== null);
  const yKeys = options.y ?? columns.filter((k) => k !== xKey && numeric(k));
  return {
    xLabel: xNumeric ? xKey! : "row",
    x: order.map((i) => (xNumeric ? toNumber(rows[i]![xKey!])! : i)),
    columns: yKeys.map((k) => ({ column: k, values: order.map((i) => toNumber(rows[i]![k])) })),
  };
}

/** A line table of one file at one revision, ready to overlay. */
export interface OverlayPart {
  rev: string;
  file: string;
  table: LineTable;
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Overlays line tables (files × revisions) on one x axis: when every table has the same x, that x is kept
 * as is (repeated x values too); otherwise x is the sorted union and each line has null where it has no
 * point (the last row wins when a table repeats an x). Labels carry only what tells lines apart: the
 * revision when there are several, the file when there are several, the column when a file gives several
 * (or when nothing else would name the line). `among` gives how many revisions and files the plot is
 * drawn over, when some of them have no table here (a file missing at a revision): a lone line of a
 * two-revision overlay still says its revision.
 *
 * @example
 * const t = (x: number[], v: number[]) => ({ xLabel: "step", x, columns: [{ column: "loss", values: v }] });
 * const o = overlayLines([{ rev: "HEAD", file: "l.csv", table: t([0, 1], [1, 0.5]) },
 *   { rev: "workspace", file: "l.csv", table: t([0, 2], [0.9, 0.2]) }]);
 * // o.x = [0, 1, 2]; o.series = [{ label: "HEAD", values: [1, 0.5, null] }, { label: "workspace", values: [0.9, null, 0.2] }] (abridged)
 */
export function overlayLines(
  parts: readonly OverlayPart[],
  among: { revs?: number; files?: number } = {},
): {
  xLabel: string;
  x: number[];
  series: LineSeries[];
} {
  const first = parts[0];
  if (first === undefined) return { xLabel: "x", x: [], series: [] };
  const shared = parts.every((p) => sameNumbers(p.table.x, first.table.x));
  const x = shared ? [...first.table.x] : [...new Set(parts.flatMap((p) => p.table.x))].sort((a, b) => a - b);
  const index = new Map(x.map((v, i) => [v, i]));
  const revs = new Set(parts.map((p) => p.rev));
  const files = new Set(parts.map((p) => p.file));
  const series: LineSeries[] = [];
  for (const p of parts) {
    for (const c of p.table.columns) {
      let values: (number | null)[];
      if (shared) values = [...c.values];
      else {
        values = new Array<number | null>(x.length).fill(null);
        p.table.x.forEach((xv, i) => {
          values[index.get(xv)!] = c.values[i] ?? null;
        });
      }
      const label: string[] = [];
      if (Math.max(revs.size, among.revs ?? 0) > 1) label.push(p.rev);
      if (Math.max(files.size, among.files ?? 0) > 1) label.push(p.file);
      if (p.table.columns.length > 1 || label.length === 0) label.push(c.column);
      series.push({ label: label.join(" · "), rev: p.rev, file: p.file, column: c.column, values });
    }
  }
  const xLabels = [...new Set(parts.map((p) => p.table.xLabel))];
  return { xLabel: xLabels.join(" / "), x, series };
}

/** Class labels in a stable order: numerically when every label is a number, else as strings. */
function sortLabels(labels: Iterable<string>): string[] {
  const list = [...new Set(labels)];
  if (list.every((l) => toNumber(l) !== null)) return list.sort((a, b) => toNumber(a)! - toNumber(b)!);
  return list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function labelOf(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return null;
}

/** The (actual, predicted) pairs of a file's rows; rows lacking either field are skipped. */
export function confusionPairs(
  rows: readonly Record<string, unknown>[],
  xField: string,
  yField: string,
): [string, string][] {
  const pairs: [string, string][] = [];
  for (const row of rows) {
    const a = labelOf(row[xField]);
    const p = labelOf(row[yField]);
    if (a !== null && p !== null) pairs.push([a, p]);
  }
  return pairs;
}

/**
 * Confusion matrices over one shared label list (the union over every file and revision, so matrices
 * line up cell for cell). With `normalized`, each cell is its count over the total of its actual class
 * (its row), so a row sums to 1.
 *
 * @example
 * const m = confusionMatrices([{ rev: "HEAD", file: "c.csv", pairs: [["0", "0"], ["0", "1"], ["1", "1"]] }], true);
 * // m.labels = ["0", "1"]; m.matrices[0].counts = [[1, 1], [0, 1]]; values = [[0.5, 0.5], [0, 1]]
 */
export function confusionMatrices(
  parts: readonly { rev: string; file: string; pairs: readonly [string, string][] }[],
  normalized: boolean,
): { labels: string[]; matrices: ConfusionMatrix[] } {
  const labels = sortLabels(parts.flatMap((p) => p.pairs.flat()));
  const index = new Map(labels.map((l, i) => [l, i]));
  const matrices = parts.map((p) => {
    const counts = labels.map(() => labels.map(() => 0));
    for (const [a, pred] of p.pairs) counts[index.get(a)!]![index.get(pred)!]! += 1;
    const values = counts.map((row) => {
      if (!normalized) return [...row];
      const total = row.reduce((s, v) => s + v, 0);
      return row.map((v) => (total === 0 ? 0 : v / total));
    });
    return { rev: p.rev, file: p.file, counts, values };
  });
  return { labels, matrices };
}

/** One file of a plot at one revision, as read: its bytes, or why there are none. */
export type PlotFile = { rev: string; source: PlotSource } & ({ bytes: Buffer } | { reason: string });

function extOf(file: string): string {
  return path.posix.extname(file).toLowerCase();
}

/**
 * True for the files mtrack draws: rows (CSV, TSV, JSON, YAML) and images.
 *
 * @example
 * isPlotFile("dvclive/plots/metrics/loss.tsv"); // true
 */
export function isPlotFile(file: string): boolean {
  const ext = extOf(file);
  return ROW_FORMATS.includes(ext) || IMAGE_TYPES[ext] !== undefined;
}

/**
 * Draws a definition from its files as read at each revision (`revisions`: how many the report has):
 * images when every file read is an image, confusion matrices for the confusion templates, else lines
 * overlaid on one x axis. Files that are missing, unreadable or of an unknown format become notes; a plot
 * left with nothing to draw is `missing`, with the reason.
 *
 * @example
 * const def = { id: "l.csv", template: "linear", sources: [{ file: "l.csv" }] };
 * plotFromFiles(def, [{ rev: "HEAD", source: def.sources[0]!, bytes: Buffer.from("step,v\n0,1\n") }], 1).kind; // "lines"
 */
export function plotFromFiles(
  def: PlotDefinition,
  files: readonly PlotFile[],
  revisions: number,
): ReportPlot {
  const base = { id: def.id, title: def.title ?? def.id, template: def.template };
  const notes: PlotNote[] = [];
  const missing = (reason: string): ReportPlot => ({ ...base, kind: "missing", reason, notes });
  if (!(PLOT_TEMPLATES as readonly string[]).includes(def.template)) {
    return missing(`unknown template ${def.template} (mtrack draws ${PLOT_TEMPLATES.join(", ")})`);
  }
  const reads: { rev: string; file: string; source: PlotSource; bytes: Buffer }[] = [];
  for (const f of files) {
    if ("reason" in f) notes.push({ rev: f.rev, file: f.source.file, reason: f.reason });
    else reads.push({ rev: f.rev, file: f.source.file, source: f.source, bytes: f.bytes });
  }
  const images = reads.filter((r) => IMAGE_TYPES[extOf(r.file)] !== undefined);
  if (images.length > 0 && images.length === reads.length) {
    return {
      ...base,
      kind: "images",
      notes,
      images: images.map((r) => ({
        rev: r.rev,
        file: r.file,
        dataUrl: `data:${IMAGE_TYPES[extOf(r.file)]};base64,${r.bytes.toString("base64")}`,
      })),
    };
  }
  const tables: { rev: string; file: string; source: PlotSource; rows: Record<string, unknown>[] }[] = [];
  for (const r of reads) {
    const ext = extOf(r.file);
    if (!ROW_FORMATS.includes(ext)) {
      notes.push({ rev: r.rev, file: r.file, reason: `unsupported plot format ${ext || "(none)"}` });
      continue;
    }
    try {
      tables.push({ ...r, rows: parsePlotRows(r.bytes.toString("utf8"), r.file) });
    } catch (err) {
      notes.push({ rev: r.rev, file: r.file, reason: (err as Error).message });
    }
  }
  if (tables.length === 0) {
    const reasons = [...new Set(notes.map((n) => n.reason))];
    return missing(reasons.length === 1 ? reasons[0]! : "no revision has a readable file for it");
  }
  if (isConfusionTemplate(def.template)) {
    const xField = tables[0]!.source.x ?? "actual";
    const yField = tables[0]!.source.y?.[0] ?? "predicted";
    const normalized = def.template === "confusion_normalized";
    const { labels, matrices } = confusionMatrices(
      tables.map((t) => ({
        rev: t.rev,
        file: t.file,
        pairs: confusionPairs(t.rows, t.source.x ?? xField, t.source.y?.[0] ?? yField),
      })),
      normalized,
    );
    return {
      ...base,
      kind: "confusion",
      notes,
      normalized,
      xLabel: def.xLabel ?? xField,
      yLabel: def.yLabel ?? yField,
      labels,
      matrices,
    };
  }
  const overlay = overlayLines(
    tables.map((t) => ({ rev: t.rev, file: t.file, table: lineTable(t.rows, t.source) })),
    { revs: revisions, files: new Set(def.sources.map((x) => x.file)).size },
  );
  const columns = [...new Set(overlay.series.map((s) => s.column))];
  return {
    ...base,
    kind: "lines",
    notes,
    xLabel: def.xLabel ?? overlay.xLabel,
    yLabel: def.yLabel ?? (columns.length === 1 ? columns[0]! : ""),
    points: def.template === "scatter",
    x: overlay.x,
    series: overlay.series,
  };
}
