/**
 * Tables for the comparison commands: aligned plain text for terminals, or Markdown (`--md`) for pull
 * requests and reports. Pure string building; the commands print the result.
 */

import type { ValueDiff } from "./compare.js";

/**
 * Renders rows under headers. Cells are strings already; columns are padded to their widest cell.
 *
 * @example
 * formatTable(["key", "old", "new"], [["lr", "0.1", "0.2"]], { markdown: true })
 * // → "| key | old | new |\n|---|---|---|\n| lr | 0.1 | 0.2 |\n"
 */
export function formatTable(
  headers: readonly string[],
  rows: readonly string[][],
  options: { markdown?: boolean } = {},
): string {
  if (options.markdown) {
    const esc = (c: string) => c.replace(/\|/g, "\\|");
    const line = (cells: readonly string[]) => `| ${cells.map(esc).join(" | ")} |\n`;
    return line(headers) + `|${headers.map(() => "---").join("|")}|\n` + rows.map(line).join("");
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    `${cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd()}\n`;
  return line(headers) + rows.map(line).join("");
}

/** A value as shown in a table cell: strings bare, absent as "-", everything else as JSON. */
export function cell(value: unknown): string {
  if (value === undefined) return "-";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** A signed change (`+0.1`, `-2`) or "-" when there is none. */
export function signed(n: number | undefined): string {
  if (n === undefined) return "-";
  return n > 0 ? `+${n}` : String(n);
}

/** A percentage change (`+12.5%`), "-" when absent, "n/a" when the old value was 0. */
export function percent(p: number | null | undefined): string {
  if (p === undefined) return "-";
  if (p === null) return "n/a";
  const r = Number.parseFloat(p.toFixed(2));
  return `${r > 0 ? "+" : ""}${r}%`;
}

/** The rows of a params/metrics comparison: path, key, old, new, change, % change. */
export function valueDiffTable(diffs: readonly ValueDiff[], options: { markdown?: boolean } = {}): string {
  const rows = diffs.map((d) => [d.file, d.key, cell(d.old), cell(d.new), signed(d.change), percent(d.pct)]);
  return formatTable(["Path", "Key", "Old", "New", "Change", "%"], rows, options);
}
