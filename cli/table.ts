/**
 * Plain-text tables and CSV for command output, plus the small formatters the run listings share
 * (short ids, times, durations, numbers). Pure: callers print the returned strings.
 */

/** A table: a header row and rows of cells, all strings. */
export interface Table {
  headers: string[];
  rows: string[][];
}

/**
 * Renders a table with columns padded to their widest cell, separated by two spaces; numeric-looking
 * columns are right-aligned so digits line up.
 *
 * @example
 * renderTable({ headers: ["id", "acc"], rows: [["3f2a", "0.91"]] });
 * // "id    acc\n3f2a  0.91"
 */
export function renderTable(table: Table): string {
  const widths = table.headers.map((h, i) =>
    Math.max(h.length, ...table.rows.map((r) => (r[i] ?? "").length)),
  );
  const numeric = table.headers.map(
    (_, i) => table.rows.length > 0 && table.rows.every((r) => NUMERIC.test(r[i] ?? "")),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(table.headers), ...table.rows.map(line)].join("\n");
}

/** Cells that read as numbers (or are empty); such columns are right-aligned. */
const NUMERIC = /^$|^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$|^-?Infinity$|^NaN$/i;

/** One CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * Renders a table as CSV (RFC 4180, "\n" line ends, trailing newline).
 *
 * @example
 * toCsv({ headers: ["step", "value"], rows: [["0", "1.5"]] }); // "step,value\n0,1.5\n"
 */
export function toCsv(table: Table): string {
  return `${[table.headers, ...table.rows].map((r) => r.map(csvField).join(",")).join("\n")}\n`;
}

/** The first 8 characters of a run id or commit, like git's short hashes. */
export function shortId(id: string | null | undefined): string {
  return id ? id.slice(0, 8) : "";
}

/** A Unix-ms time as `YYYY-MM-DD HH:MM:SS` in UTC (stable output whatever the machine's zone). */
export function formatTime(ms: number | null | undefined): string {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/**
 * A duration in ms as `1h02m`, `3m05s`, `12.3s` or `450ms`.
 *
 * @example
 * formatDuration(185_000); // "3m05s"
 */
export function formatDuration(ms: number | null | undefined): string {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** A metric value: up to 6 significant digits, without trailing noise. */
export function formatNumber(v: number | null | undefined): string {
  if (typeof v !== "number") return "";
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

/**
 * A command line as a user would type it into a POSIX shell (arguments quoted where needed).
 *
 * @example
 * formatCommand(["sh", "-c", "echo hi"]); // "sh -c 'echo hi'"
 */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(" ");
}
