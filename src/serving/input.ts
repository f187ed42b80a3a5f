/**
 * MLflow's scoring protocol, request side: the body of `POST /invocations` turned into a dense float32
 * matrix of `rows × inputDim`, checked against the model's input width. Pure: no I/O, no tensors.
 *
 * Accepted, as `mlflow models serve` accepts them (mlflow/pyfunc/scoring_server):
 * - `application/json` with exactly one of `inputs`, `instances` (a list of rows, a list of
 *   `{column: value}` records, or `{column: [values]}`), `dataframe_split` (`{columns?, data, index?}`)
 *   or `dataframe_records` (a list of records or of rows); other top-level keys (`params`) are ignored.
 * - `text/csv`. MLflow reads it with `pandas.read_csv`, which always takes the first line as the header;
 *   here the first line is a header only when one of its cells is not a number, so a headerless CSV of
 *   numbers loses no row.
 *
 * The model has no column names (its signature is a `[-1, inputDim]` tensor), so named columns are used
 * in the order they are given. Every problem is an ERR_MTRACK_SCORING_INPUT_INVALID whose message names
 * the row and column, and whose `data.problem` says which kind it is (tests and clients read that).
 */
import { MtrackError } from "../errors.js";

/** A request's input: `rows` rows of the model's `cols` features, row-major. */
export interface ScoringInput {
  rows: number;
  cols: number;
  values: Float32Array;
}

/** What was wrong with a request's input (`data.problem` of the error). */
export type InputProblem =
  | "json" // the body is not JSON, or not a JSON object
  | "format" // none or several of the format keys, or a format key with the wrong shape
  | "empty" // no rows
  | "ragged" // rows of different lengths, or records with different columns
  | "feature_count" // consistent rows, but not as many features as the model takes
  | "not_numeric" // a value that is not a finite number
  | "csv"; // a malformed CSV line (an unterminated quote)

/** The JSON keys of MLflow's scoring protocol. */
export const INPUT_FORMATS = ["inputs", "instances", "dataframe_split", "dataframe_records"] as const;

/** The content types `POST /invocations` accepts. */
export const SCORING_CONTENT_TYPES = ["application/json", "text/csv"] as const;

function invalid(
  problem: InputProblem,
  message: string,
  data: { row?: number; column?: string | number } = {},
): MtrackError {
  return new MtrackError("ERR_MTRACK_SCORING_INPUT_INVALID", message, {
    data: { problem, ...data },
    hint: `Send {"inputs": [[x1, ..., xn], ...]} with one row per example.`,
  });
}

/** How a column is named in messages: `column 2` or `column "x"`. */
function columnLabel(column: string | number): string {
  return typeof column === "number" ? `column ${column}` : `column ${JSON.stringify(column)}`;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === "number") return String(v);
  return `a ${typeof v}`;
}

/**
 * Checks that `rows` (each an array) have one length, `inputDim`, and only finite numbers, and packs
 * them. `columns` names the columns in messages when the request named them.
 */
function packRows(rows: readonly unknown[], inputDim: number, columns?: readonly string[]): ScoringInput {
  if (rows.length === 0) throw invalid("empty", "The input has no rows.");
  const first = rows[0];
  if (!Array.isArray(first))
    throw invalid("format", `Row 0 is ${describe(first)}, not a list of values.`, { row: 0 });
  const width = first.length;
  if (columns !== undefined && columns.length !== width) {
    throw invalid("ragged", `Row 0 has ${width} values but there are ${columns.length} columns.`, { row: 0 });
  }
  if (width !== inputDim) throw featureCount(width, inputDim, columns ? undefined : 0);
  const values = new Float32Array(rows.length * width);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    if (!Array.isArray(row))
      throw invalid("format", `Row ${r} is ${describe(row)}, not a list of values.`, { row: r });
    if (row.length !== width) {
      throw invalid("ragged", `Row ${r} has ${row.length} values but row 0 has ${width}.`, { row: r });
    }
    for (let c = 0; c < width; c++) {
      const v: unknown = row[c];
      if (typeof v !== "number" || !Number.isFinite(v)) {
        const column = columns?.[c] ?? c;
        throw invalid(
          "not_numeric",
          `Row ${r}, ${columnLabel(column)} is ${describe(v)}; expected a number.`,
          { row: r, column },
        );
      }
      values[r * width + c] = v;
    }
  }
  return { rows: rows.length, cols: width, values };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** The first row (or the column list, `row` undefined) does not have the model's input width. */
function featureCount(width: number, inputDim: number, row?: number): MtrackError {
  const what =
    row === undefined ? `There are ${plural(width, "column")}` : `Row ${row} has ${plural(width, "value")}`;
  return invalid(
    "feature_count",
    `${what}; the model takes ${plural(inputDim, "input")}.`,
    row === undefined ? {} : { row },
  );
}

/** `[{a: 1, b: 2}, ...]` → rows, with the columns of the first record, which every record must have. */
function recordsToRows(records: readonly unknown[], inputDim: number): ScoringInput {
  if (records.length === 0) throw invalid("empty", "The input has no rows.");
  const first = records[0];
  if (!isPlainObject(first))
    throw invalid("format", `Record 0 is ${describe(first)}, not an object.`, { row: 0 });
  const columns = Object.keys(first);
  const rows: unknown[][] = [];
  for (let r = 0; r < records.length; r++) {
    const rec = records[r];
    if (!isPlainObject(rec))
      throw invalid("format", `Record ${r} is ${describe(rec)}, not an object.`, { row: r });
    const keys = Object.keys(rec);
    for (const k of keys) {
      if (!(k in first)) {
        throw invalid("ragged", `Row ${r} has ${columnLabel(k)}, which row 0 does not have.`, {
          row: r,
          column: k,
        });
      }
    }
    if (keys.length !== columns.length) {
      const missing = columns.find((c) => !(c in rec)) ?? "";
      throw invalid("ragged", `Row ${r} has no ${columnLabel(missing)}.`, { row: r, column: missing });
    }
    rows.push(columns.map((c) => rec[c]));
  }
  return packRows(rows, inputDim, columns);
}

/** `{a: [1, 3], b: [2, 4]}` → rows; every column must have as many values as the first. */
function columnsToRows(obj: Record<string, unknown>, inputDim: number): ScoringInput {
  const columns = Object.keys(obj);
  if (columns.length === 0) throw invalid("empty", "The input has no columns.");
  // One named tensor, `{"x": [[...], ...]}`: the rows are its value.
  const only = obj[columns[0]!];
  if (columns.length === 1 && Array.isArray(only) && only.some((v) => Array.isArray(v))) {
    return listToRows(only, inputDim);
  }
  const lists = columns.map((c) => {
    const v = obj[c];
    return Array.isArray(v) ? v : [v]; // a scalar per column is one row, as pandas reads {"a": 1}
  });
  const n = lists[0]!.length;
  lists.forEach((l, c) => {
    if (l.length !== n) {
      throw invalid(
        "ragged",
        `${capitalise(columnLabel(columns[c]!))} has ${l.length} values but ${columnLabel(columns[0]!)} has ${n}.`,
        { column: columns[c]! },
      );
    }
  });
  const rows = Array.from({ length: n }, (_, r) => lists.map((l) => l[r]));
  return packRows(rows, inputDim, columns);
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A list of rows, of records, or (for a one-input model) of scalars. */
function listToRows(list: readonly unknown[], inputDim: number): ScoringInput {
  if (list.length === 0) throw invalid("empty", "The input has no rows.");
  const first = list[0];
  if (isPlainObject(first)) return recordsToRows(list, inputDim);
  if (!Array.isArray(first)) {
    // A flat list: one value per row (TF serving's list of scalar instances).
    if (inputDim !== 1) {
      throw invalid(
        "feature_count",
        `The input is a flat list of ${list.length} values; the model takes ${inputDim} inputs per row, so send a list of rows: [[x1, ..., x${inputDim}], ...].`,
      );
    }
    return packRows(
      list.map((v) => [v]),
      inputDim,
    );
  }
  return packRows(list, inputDim);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The rows of a decoded JSON request body.
 *
 * @example
 * parseJsonInput({ inputs: [[0.1, 0.2, 0.3]] }, 3); // { rows: 1, cols: 3, values: Float32Array [0.1, 0.2, 0.3] }
 * parseJsonInput({ dataframe_split: { columns: ["a", "b"], data: [[1, 2]] } }, 2).rows; // 1
 */
export function parseJsonInput(body: unknown, inputDim: number): ScoringInput {
  if (!isPlainObject(body)) {
    throw invalid(
      "json",
      `The input must be a JSON object with exactly one of the fields ${INPUT_FORMATS.join(", ")}; got ${describe(body)}.`,
    );
  }
  const present = INPUT_FORMATS.filter((k) => k in body);
  if (present.length !== 1) {
    throw invalid(
      "format",
      `The input must be a JSON object with exactly one of the fields ${INPUT_FORMATS.join(", ")}; got ${present.length === 0 ? `the fields ${JSON.stringify(Object.keys(body))}` : present.join(" and ")}.`,
    );
  }
  const format = present[0]!;
  const value = body[format];
  switch (format) {
    case "inputs":
    case "instances":
      if (Array.isArray(value)) return listToRows(value, inputDim);
      if (isPlainObject(value)) return columnsToRows(value, inputDim);
      throw invalid(
        "format",
        `"${format}" must be a list of rows or an object of columns; got ${describe(value)}.`,
      );
    case "dataframe_records":
      if (!Array.isArray(value)) {
        throw invalid("format", `"dataframe_records" must be a list of records; got ${describe(value)}.`);
      }
      return listToRows(value, inputDim);
    case "dataframe_split": {
      if (!isPlainObject(value)) {
        throw invalid("format", `"dataframe_split" must be an object with "data"; got ${describe(value)}.`);
      }
      const extra = Object.keys(value).filter((k) => k !== "columns" && k !== "data" && k !== "index");
      if (!("data" in value) || extra.length > 0) {
        throw invalid(
          "format",
          `"dataframe_split" must have "data" and optionally "columns" and "index"; got ${JSON.stringify(Object.keys(value))}.`,
        );
      }
      const { columns, data } = value;
      if (!Array.isArray(data))
        throw invalid("format", `"dataframe_split.data" must be a list of rows; got ${describe(data)}.`);
      if (
        columns !== undefined &&
        (!Array.isArray(columns) || !columns.every((c) => typeof c === "string" || typeof c === "number"))
      ) {
        throw invalid("format", `"dataframe_split.columns" must be a list of column names.`);
      }
      if (columns !== undefined && columns.length !== inputDim) throw featureCount(columns.length, inputDim);
      return packRows(data, inputDim, columns?.map(String));
    }
  }
}

/** Splits one CSV line into fields (RFC 4180 quoting; a quote inside a quoted field is doubled). */
function csvFields(line: string, row: number): string[] {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let field = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw invalid("csv", `CSV line ${row + 1} has an unterminated quote.`, { row });
        field += line.slice(i, q);
        if (line[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      const comma = line.indexOf(",", i);
      out.push(field + (comma < 0 ? line.slice(i) : line.slice(i, comma)));
      if (comma < 0) return out;
      i = comma + 1;
    } else {
      const comma = line.indexOf(",", i);
      if (comma < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}

const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/**
 * The rows of a CSV body (comma-separated, one row per line, an optional header line).
 *
 * @example
 * parseCsvInput("x1,x2\n0.5,1\n", 2); // { rows: 1, cols: 2, values: Float32Array [0.5, 1] }
 * parseCsvInput("0.5,1\n2,3\n", 2).rows; // 2: a first line of numbers is data, not a header
 */
export function parseCsvInput(text: string, inputDim: number): ScoringInput {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === "") lines.pop();
  if (lines.length === 0) throw invalid("empty", "The CSV input is empty.");
  const firstFields = csvFields(lines[0]!, 0);
  const hasHeader = firstFields.some((f) => !DECIMAL.test(f));
  const columns = hasHeader ? firstFields.map((f) => f.trim()) : undefined;
  const start = hasHeader ? 1 : 0;
  if (lines.length === start) throw invalid("empty", "The CSV input has a header but no rows.");
  const width = columns?.length ?? firstFields.length;
  if (width !== inputDim) throw featureCount(width, inputDim, columns ? undefined : 0);
  const rows = lines.length - start;
  const values = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const line = lines[start + r]!;
    const fields = csvFields(line, r);
    if (fields.length !== width) {
      const than = columns ? "the header has" : "row 0 has";
      throw invalid("ragged", `Row ${r} has ${fields.length} values but ${than} ${width}.`, { row: r });
    }
    for (let c = 0; c < width; c++) {
      const f = fields[c]!;
      if (!DECIMAL.test(f)) {
        const column = columns?.[c] ?? c;
        const what =
          f.trim() === "" ? "empty" : `the text ${JSON.stringify(f.length > 40 ? `${f.slice(0, 40)}…` : f)}`;
        throw invalid("not_numeric", `Row ${r}, ${columnLabel(column)} is ${what}; expected a number.`, {
          row: r,
          column,
        });
      }
      const v = Number(f);
      if (!Number.isFinite(v)) {
        const column = columns?.[c] ?? c;
        throw invalid(
          "not_numeric",
          `Row ${r}, ${columnLabel(column)} is ${f.trim()}; expected a finite number.`,
          {
            row: r,
            column,
          },
        );
      }
      values[r * width + c] = v;
    }
  }
  return { rows, cols: width, values };
}

/** A parsed `Content-Type` header: the media type and its parameters, lower-cased. */
export interface MediaType {
  type: string;
  params: Record<string, string>;
}

/** Parses a `Content-Type` header (`application/json; charset=utf-8`). */
export function parseMediaType(header: string | undefined): MediaType {
  const [type = "", ...rest] = (header ?? "").split(";").map((s) => s.trim());
  const params: Record<string, string> = {};
  for (const p of rest) {
    if (p === "") continue;
    const eq = p.indexOf("=");
    const key = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    params[key] = (eq < 0 ? "" : p.slice(eq + 1)).trim().replace(/^"|"$/g, "").toLowerCase();
  }
  return { type: type.toLowerCase(), params };
}

/**
 * The input of a `POST /invocations` body with its Content-Type header. Throws
 * ERR_MTRACK_SCORING_CONTENT_TYPE (HTTP 415) for a type other than JSON or CSV, or a charset other than
 * UTF-8 (as MLflow does), and ERR_MTRACK_SCORING_INPUT_INVALID (HTTP 400) for bad input.
 *
 * @example
 * parseScoringRequest(Buffer.from('{"inputs": [[1, 2, 3]]}'), "application/json", 3).rows; // 1
 */
export function parseScoringRequest(
  body: Uint8Array,
  contentType: string | undefined,
  inputDim: number,
): ScoringInput {
  const media = parseMediaType(contentType);
  const charset = media.params.charset ?? "utf-8";
  const unknownParams = Object.keys(media.params).filter((k) => k !== "charset");
  if (
    !(SCORING_CONTENT_TYPES as readonly string[]).includes(media.type) ||
    (charset !== "utf-8" && charset !== "utf8") ||
    unknownParams.length > 0
  ) {
    throw new MtrackError(
      "ERR_MTRACK_SCORING_CONTENT_TYPE",
      `Unsupported content type ${JSON.stringify(contentType ?? "")}; send application/json or text/csv (UTF-8).`,
      {
        data: { contentType: contentType ?? null },
        hint: "Add -H 'Content-Type: application/json' to curl.",
      },
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    throw invalid("json", "The body is not valid UTF-8.");
  }
  if (media.type === "text/csv") return parseCsvInput(text, inputDim);
  let decoded: unknown;
  try {
    decoded = JSON.parse(text);
  } catch (err) {
    throw invalid("json", `The body is not valid JSON: ${(err as Error).message}`);
  }
  return parseJsonInput(decoded, inputDim);
}
