import { Args, Flags } from "@oclif/core";
import { metricsDiff } from "../../../src/pipeline/compare.js";
import { valueDiffTable } from "../../../src/pipeline/table.js";
import { MtrackCommand } from "../../base.js";

export default class MetricsDiff extends MtrackCommand {
  static override summary = "Compare metric values between two revisions.";
  static override description =
    "Reads the metrics files the pipeline declares (JSON or YAML) at revision A and at revision B (default HEAD and the workspace) and lists old, new, change and % change for each value that differs.";
  static override examples = [
    "<%= config.bin %> metrics diff",
    "<%= config.bin %> metrics diff HEAD~1 HEAD",
    "<%= config.bin %> metrics diff main HEAD --md",
  ];
  static override args = {
    a: Args.string({ description: "old revision", default: "HEAD" }),
    b: Args.string({ description: "new revision (default: the workspace)" }),
  };
  static override flags = {
    all: Flags.boolean({ description: "also list unchanged values" }),
    md: Flags.boolean({ description: "Markdown table" }),
  };

  async run() {
    const { args, flags } = await this.parse(MetricsDiff);
    const result = await metricsDiff(this.openRepo(), args.a, args.b ?? null, { all: flags.all });
    if (result.diffs.length === 0)
      this.say(`No metrics changed between ${result.a.rev} and ${result.b.rev}.`);
    else if (!this.jsonEnabled()) process.stdout.write(valueDiffTable(result.diffs, { markdown: flags.md }));
    return result;
  }
}
