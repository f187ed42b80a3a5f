/**
 * What `plots show` and `plots diff` share: where the report goes (`-o report.html`, or `-o dir` for
 * `dir/index.html`, as DVC writes `dvc_plots/index.html`) and the lines they print about it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { PlotsReport } from "../src/plots/collect.js";
import { loadReportAssets, renderReportHtml } from "../src/ui/report.js";
import { writeFileAtomic } from "../src/util/fs.js";

/**
 * The HTML file for `-o`: the path itself when it ends in .html/.htm, else `index.html` inside it.
 *
 * @example
 * reportFile("plots"); // "<cwd>/plots/index.html"
 */
export function reportFile(out: string): string {
  const abs = path.resolve(out);
  return /\.html?$/i.test(abs) ? abs : path.join(abs, "index.html");
}

/** Renders the report and writes it (atomically) to the file `-o` names; returns that file. */
export function writeReport(data: PlotsReport, out: string): string {
  const file = reportFile(out);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, renderReportHtml(data, loadReportAssets()));
  return file;
}

/** The warnings a report deserves: plots not drawn, files missing at some revision, unreadable revisions. */
export function reportWarnings(data: PlotsReport): string[] {
  const out: string[] = [];
  for (const r of data.revisions) if (r.error) out.push(`${r.name}: ${r.error.message}`);
  for (const p of data.plots) {
    if (p.kind === "missing") out.push(`${p.id}: not drawn: ${p.reason}`);
    else for (const n of p.notes) out.push(`${p.id}: ${n.rev}: ${n.file}: ${n.reason}`);
  }
  return out;
}
