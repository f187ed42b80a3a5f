/**
 * The shapes of a plots report, shared by the library (src/plots/), the static report, `--json` and
 * the UI's API (/api/v1/plots) and page. This file imports nothing, so the browser build can type-check
 * against it without Node's types.
 */

/** Why a plot (or one file of it at one revision) is not drawn. */
export interface PlotNote {
  rev: string;
  file: string;
  reason: string;
}

/** What every plot of a report has. */
export interface PlotBase {
  /** The definition's id: a file path, or a plot name. */
  id: string;
  title: string;
  template: string;
  /** Files that could not be read or drawn at some revision (the plot is drawn from the rest). */
  notes: PlotNote[];
}

/** One line of an overlay: a column of one file at one revision. */
export interface LineSeries {
  /** The legend text: what tells this line apart from the others (revision, file, column). */
  label: string;
  rev: string;
  file: string;
  column: string;
  /** Aligned with the plot's `x`; null where this line has no point. */
  values: (number | null)[];
}

/** A line chart (or, for `scatter`, points): one shared x column and the lines over it. */
export interface LinePlot extends PlotBase {
  kind: "lines";
  xLabel: string;
  yLabel: string;
  /** Draw points only (the `scatter` template). */
  points: boolean;
  x: number[];
  series: LineSeries[];
}

/** One confusion matrix: `counts[i][j]` rows whose x (actual) is `labels[i]` and y (predicted) `labels[j]`. */
export interface ConfusionMatrix {
  rev: string;
  file: string;
  counts: number[][];
  /** What a cell shows: the counts, or for `confusion_normalized` each count over its actual class's total. */
  values: number[][];
}

/** Confusion matrices, one per revision and file, over one shared list of class labels. */
export interface ConfusionPlot extends PlotBase {
  kind: "confusion";
  normalized: boolean;
  /** The x field (actual class) and y field (predicted class), or the definition's axis labels. */
  xLabel: string;
  yLabel: string;
  labels: string[];
  matrices: ConfusionMatrix[];
}

/** Image plots (PNG, JPEG, GIF, WebP), one per revision, embedded as data: URLs. */
export interface ImagesPlot extends PlotBase {
  kind: "images";
  images: { rev: string; file: string; dataUrl: string }[];
}

/** A declared plot with nothing to draw at any revision; the notes say why. */
export interface MissingPlot extends PlotBase {
  kind: "missing";
  reason: string;
}

/** One entry of a report's plots section. */
export type ReportPlot = LinePlot | ConfusionPlot | ImagesPlot | MissingPlot;

/** One revision of a report. */
export interface ReportRevision {
  /** The name as given (`workspace`, `HEAD`, `main`, a commit id...). */
  name: string;
  /** Its commit; null for the workspace (or a repository without commits). */
  commit: string | null;
  /** Its metrics files, flattened. */
  metrics: Record<string, Record<string, unknown>>;
  /** Set when that commit's pipeline or metrics could not be read; its plots are then the top-level ones. */
  error?: { code: string; message: string };
}

/** Everything a plots report shows: the revisions, in the order given, and the plots over them. */
export interface PlotsReport {
  revisions: ReportRevision[];
  generatedAt: number;
  plots: ReportPlot[];
}

/** A revision the UI offers to overlay (GET /api/v1/plots/revisions). */
export interface RevisionChoice {
  /** What to pass back in `revs`: `workspace`, `HEAD`, a branch, tag or experiment name, or a short commit id. */
  name: string;
  kind: "workspace" | "head" | "branch" | "tag" | "experiment" | "commit";
  commit: string | null;
}
