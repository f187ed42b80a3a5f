import { MtrackCommand } from "../../cli/base.js";
import { renderValueDiff, revisionArgs, valueDiffFlags } from "../../cli/revisions.js";
import { paramsDiff } from "../../src/pipeline/compare.js";

export default class ParamsDiff extends MtrackCommand {
  static override summary = "Compare parameter values between two revisions.";
  static override description =
    "Reads params.yaml and every params file the pipeline names, at revision A and at revision B (default HEAD and the workspace), and lists the values that differ, nested keys flattened with dots.";
  static override examples = [
    "<%= config.bin %> params diff",
    "<%= config.bin %> params diff HEAD~1 HEAD",
    "<%= config.bin %> params diff main experiment --md",
  ];
  static override args = revisionArgs;
  static override flags = valueDiffFlags;

  async run() {
    const { args, flags } = await this.parse(ParamsDiff);
    const result = await paramsDiff(this.openRepo(), args.a, args.b ?? null, { all: flags.all });
    if (!this.jsonEnabled()) process.stdout.write(renderValueDiff(result, "params", flags.md));
    return result;
  }
}
