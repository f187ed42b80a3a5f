import { MtrackCommand } from "../../cli/base.js";
import { renderValueDiff, revisionArgs, valueDiffFlags } from "../../cli/revisions.js";
import { metricsDiff } from "../../src/pipeline/compare.js";

export default class MetricsDiff extends MtrackCommand {
  static override summary = "Compare metric values between two revisions.";
  static override description =
    "Reads the metrics files the pipeline declares (JSON or YAML) at revision A and at revision B (default HEAD and the workspace) and lists old, new, change and % change for each value that differs.";
  static override examples = [
    "<%= config.bin %> metrics diff",
    "<%= config.bin %> metrics diff HEAD~1 HEAD",
    "<%= config.bin %> metrics diff main HEAD --md",
  ];
  static override args = revisionArgs;
  static override flags = valueDiffFlags;

  async run() {
    const { args, flags } = await this.parse(MetricsDiff);
    const result = await metricsDiff(this.openRepo(), args.a, args.b ?? null, { all: flags.all });
    if (!this.jsonEnabled()) process.stdout.write(renderValueDiff(result, "metrics", flags.md));
    return result;
  }
}
