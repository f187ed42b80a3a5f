/**
 * Plot definitions as a pipeline declares them, read purely from the pipeline text and its parsed stage
 * outputs: each stage's `plots:` outputs with their options, then DVC 3's top-level `plots:` list, whose
 * entries are a file (`- eval/roc.csv`), a file with options (`- eval/roc.csv: {x: fpr, y: tpr}`), or a
 * named plot drawing columns of several files (`- Loss: {x: step, y: {a.csv: loss, b.csv: [loss, acc]}}`).
 */

import { parse as parseYaml } from "yaml";
import { isMapping } from "../pipeline/params.js";

/** The templates mtrack draws: DVC's line templates, points, and the two confusion matrices. */
export const PLOT_TEMPLATES = [
  "linear",
  "simple",
  "smooth",
  "scatter",
  "confusion",
  "confusion_normalized",
] as const;

/** A template name mtrack draws. */
export type PlotTemplate = (typeof PLOT_TEMPLATES)[number];

/** One data file of a plot and the columns it contributes. */
export interface PlotSource {
  file: string;
  /** The x column for this file (DVC 3 lets `x` name one per file). */
  x?: string;
  /** The y columns; absent: every numeric column but x. */
  y?: string[];
}

/** One plot to draw: its id (a file, or a name for a plot over several files) and how to draw it. */
export interface PlotDefinition {
  /** The key in pipeline.yaml: a file path, or the name of a plot over several files. */
  id: string;
  /** As written; an unknown name is kept so the report can say it is not drawn. */
  template: string;
  title?: string;
  xLabel?: string;
  yLabel?: string;
  sources: PlotSource[];
}

/** `y` as DVC writes it for one file: a column or a list of columns. */
function columnList(y: unknown): string[] | undefined {
  if (typeof y === "string") return [y];
  if (Array.isArray(y)) {
    const cols = y.filter((v): v is string => typeof v === "string");
    return cols.length > 0 ? cols : undefined;
  }
  return undefined;
}

/** `x` for one file: a column, or (DVC 3) `{ file: column }`. */
function xFor(x: unknown, file: string): string | undefined {
  if (typeof x === "string") return x;
  if (isMapping(x) && typeof x[file] === "string") return x[file];
  return undefined;
}

/**
 * One definition from its id and options. `y: { file: columns }` makes the plot draw those files (the
 * id is then just a name); otherwise the id is the file.
 *
 * @example
 * definitionFrom("Loss", { y: { "a.csv": "loss", "b.csv": "loss" } }).sources.map((s) => s.file); // ["a.csv", "b.csv"]
 */
export function definitionFrom(id: string, options: Record<string, unknown>): PlotDefinition {
  const def: PlotDefinition = {
    id,
    template: typeof options.template === "string" ? options.template : "linear",
    sources: [],
  };
  if (typeof options.title === "string") def.title = options.title;
  if (typeof options.x_label === "string") def.xLabel = options.x_label;
  if (typeof options.y_label === "string") def.yLabel = options.y_label;
  const source = (file: string, y: unknown): PlotSource => {
    const s: PlotSource = { file };
    const x = xFor(options.x, file);
    if (x !== undefined) s.x = x;
    const cols = columnList(y);
    if (cols !== undefined) s.y = cols;
    return s;
  };
  if (isMapping(options.y)) {
    for (const [file, cols] of Object.entries(options.y)) def.sources.push(source(file, cols));
  }
  // DVC 3 may name the files only through `x: { file: column }`.
  if (def.sources.length === 0 && isMapping(options.x)) {
    for (const file of Object.keys(options.x)) def.sources.push(source(file, options.y));
  }
  if (def.sources.length === 0) def.sources.push(source(id, options.y));
  return def;
}

/**
 * The plots of a pipeline: each stage's `plots:` outputs with their options, then the top-level `plots:`
 * list (strings, or `{ id: options }` entries). An id given twice keeps its first definition.
 *
 * @example
 * plotDefinitions("plots:\n  - eval/roc.csv\n", []); // [{ id: "eval/roc.csv", template: "linear", sources: [{ file: "eval/roc.csv" }] }]
 */
export function plotDefinitions(
  pipelineText: string,
  stageOuts: readonly { path: string; kind: string; options: Record<string, unknown> }[],
): PlotDefinition[] {
  const defs = new Map<string, PlotDefinition>();
  const add = (id: string, options: Record<string, unknown>) => {
    if (!defs.has(id)) defs.set(id, definitionFrom(id, options));
  };
  for (const o of stageOuts) if (o.kind === "plots") add(o.path, o.options);
  let doc: unknown;
  try {
    doc = parseYaml(pipelineText);
  } catch {
    // The pipeline's own parser reports a broken file; here it only means no top-level plots.
    doc = undefined;
  }
  const list = isMapping(doc) ? doc.plots : undefined;
  if (Array.isArray(list)) {
    for (const item of list) {
      if (typeof item === "string") add(item, {});
      else if (isMapping(item)) {
        for (const [id, options] of Object.entries(item)) add(id, isMapping(options) ? options : {});
      }
    }
  }
  return [...defs.values()];
}

/** True for the templates drawn as a confusion matrix. */
export function isConfusionTemplate(template: string): boolean {
  return template === "confusion" || template === "confusion_normalized";
}
