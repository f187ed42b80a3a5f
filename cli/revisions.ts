/**
 * What the commands comparing two revisions share: the `A B` arguments (default HEAD and the workspace)
 * and, for `params diff` / `metrics diff`, their flags and output.
 */
import { Args, Flags } from "@oclif/core";
import type { ValuesComparison } from "../src/pipeline/compare.js";
import { valueDiffTable } from "../src/pipeline/table.js";

export const revisionArgs = {
  a: Args.string({ description: "old revision", default: "HEAD" }),
  b: Args.string({ description: "new revision (default: the workspace)" }),
};

export const valueDiffFlags = {
  all: Flags.boolean({ description: "also list unchanged values" }),
  md: Flags.boolean({ description: "Markdown table" }),
};

/** The human output of `params diff` / `metrics diff`: the table, or a line saying nothing changed. */
export function renderValueDiff(result: ValuesComparison, what: string, markdown: boolean): string {
  if (result.diffs.length === 0) return `No ${what} changed between ${result.a.rev} and ${result.b.rev}.\n`;
  return valueDiffTable(result.diffs, { markdown });
}
