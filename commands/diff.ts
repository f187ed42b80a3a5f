import { Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { formatBytes } from "../cli/progress.js";
import { revisionArgs } from "../cli/revisions.js";
import { type DataChange, revisionDiff } from "../src/pipeline/compare.js";
import { formatTable, valueDiffTable } from "../src/pipeline/table.js";
import { sourceVersion } from "../src/sources/import.js";

/** Files listed per changed directory before "... and N more". */
const SHOWN_FILES = 20;

export default class Diff extends MtrackCommand {
  static override summary = "Show what changed between two revisions: tracked data, params, metrics.";
  static override description =
    "Compares revision A with revision B (default HEAD and the workspace): data tracked by pointer files and pipeline outputs (added, modified, deleted, with sizes; files inside directories when both versions are in the store; for imported paths, the source versions), parameter values and metric values.";
  static override examples = [
    "<%= config.bin %> diff",
    "<%= config.bin %> diff HEAD~1 HEAD",
    "<%= config.bin %> diff v1 v2 --md",
  ];
  static override args = revisionArgs;
  static override flags = {
    md: Flags.boolean({ description: "Markdown tables" }),
  };

  async run() {
    const { args, flags } = await this.parse(Diff);
    const result = await revisionDiff(this.openRepo(), args.a, args.b ?? null);
    if (this.jsonEnabled()) return result;
    const md = { markdown: flags.md };
    const { data } = result;
    const size = (n: number | undefined) => (n === undefined ? "-" : formatBytes(n));
    const rows: string[][] = [];
    const add = (status: string, c: DataChange) => {
      rows.push([status, c.type === "directory" ? `${c.path}/` : c.path, size(c.oldSize), size(c.newSize)]);
      if (c.oldSource || c.newSource) {
        rows.push(["  import", `${sourceVersion(c.oldSource)} -> ${sourceVersion(c.newSource)}`, "", ""]);
      }
      if (!c.files) return;
      const inner = [
        ...c.files.added.map((f) => ["  added", f.path, "-", size(f.size)]),
        ...c.files.modified.map((f) => ["  modified", f.path, size(f.oldSize), size(f.size)]),
        ...c.files.deleted.map((f) => ["  deleted", f.path, size(f.size), "-"]),
      ];
      for (const r of inner.slice(0, SHOWN_FILES)) rows.push([r[0]!, `${c.path}/${r[1]}`, r[2]!, r[3]!]);
      if (inner.length > SHOWN_FILES) rows.push(["", `... and ${inner.length - SHOWN_FILES} more`, "", ""]);
    };
    for (const c of data.added) add("added", c);
    for (const c of data.modified) add("modified", c);
    for (const c of data.deleted) add("deleted", c);
    this.say(`Comparing ${result.a.rev} with ${result.b.rev}\n`);
    this.say("Data:");
    if (rows.length === 0) this.say("  no changes");
    else process.stdout.write(formatTable(["Status", "Path", "Old size", "New size"], rows, md));
    this.say("\nParams:");
    if (result.params.length === 0) this.say("  no changes");
    else process.stdout.write(valueDiffTable(result.params, md));
    this.say("\nMetrics:");
    if (result.metrics.length === 0) this.say("  no changes");
    else process.stdout.write(valueDiffTable(result.metrics, md));
    this.say("\nRuns (from pipeline.lock):");
    for (const [label, runs] of [
      [result.a.rev, result.runs.a],
      [result.b.rev, result.runs.b],
    ] as const) {
      const shown = runs.map((r) => `${r.stage}: ${r.runId.slice(0, 8)}`).join(", ");
      this.say(`  ${label}: ${shown || "none recorded"}`);
    }
    if (result.runs.a.length > 0 || result.runs.b.length > 0) {
      this.say("  (`mtrack runs compare <id> <id>` puts two of them side by side)");
    }
    return result;
  }
}
