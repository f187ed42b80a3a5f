import { Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { metricsShow } from "../../src/pipeline/compare.js";
import { cell, formatTable } from "../../src/pipeline/table.js";

export default class MetricsShow extends MtrackCommand {
  static override summary = "Show metric values in the workspace or at revisions.";
  static override description =
    "Reads the metrics files the pipeline declares (JSON or YAML; nested keys flattened with dots). Default: the workspace. --rev (repeatable) reads revisions instead; --all-commits adds every commit reachable from HEAD.";
  static override examples = [
    "<%= config.bin %> metrics show",
    "<%= config.bin %> metrics show --rev HEAD --rev HEAD~1",
    "<%= config.bin %> metrics show --all-commits --md",
  ];
  static override flags = {
    rev: Flags.string({ char: "r", description: "a git revision (repeatable)", multiple: true }),
    "all-commits": Flags.boolean({ char: "A", description: "every commit reachable from HEAD" }),
    md: Flags.boolean({ description: "Markdown table" }),
  };

  async run() {
    const { flags } = await this.parse(MetricsShow);
    const revs = flags.rev ?? (flags["all-commits"] ? [] : [null]);
    const result = await metricsShow(this.openRepo(), revs, { allCommits: flags["all-commits"] });
    const rows: string[][] = [];
    for (const r of result) {
      const rev = r.commit && r.rev === r.commit ? r.commit.slice(0, 7) : r.rev;
      if (r.error) rows.push([rev, "-", "-", `error: ${r.error.code}`]);
      for (const [file, values] of Object.entries(r.metrics)) {
        for (const [key, value] of Object.entries(values)) rows.push([rev, file, key, cell(value)]);
      }
    }
    if (rows.length === 0) this.say("No metrics found (declare them under `metrics:` in pipeline.yaml).");
    else if (!this.jsonEnabled())
      process.stdout.write(formatTable(["Revision", "Path", "Key", "Value"], rows, { markdown: flags.md }));
    return { revisions: result };
  }
}
