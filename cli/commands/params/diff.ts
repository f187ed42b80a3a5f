import { Args, Flags } from "@oclif/core";
import { paramsDiff } from "../../../src/pipeline/compare.js";
import { valueDiffTable } from "../../../src/pipeline/table.js";
import { MtrackCommand } from "../../base.js";

export default class ParamsDiff extends MtrackCommand {
  static override summary = "Compare parameter values between two revisions.";
  static override description =
    "Reads params.yaml and every params file the pipeline names, at revision A and at revision B (default HEAD and the workspace), and lists the values that differ, nested keys flattened with dots.";
  static override examples = [
    "<%= config.bin %> params diff",
    "<%= config.bin %> params diff HEAD~1 HEAD",
    "<%= config.bin %> params diff main experiment --md",
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
    const { args, flags } = await this.parse(ParamsDiff);
    const result = await paramsDiff(this.openRepo(), args.a, args.b ?? null, { all: flags.all });
    if (result.diffs.length === 0) this.say(`No params changed between ${result.a.rev} and ${result.b.rev}.`);
    else if (!this.jsonEnabled()) process.stdout.write(valueDiffTable(result.diffs, { markdown: flags.md }));
    return result;
  }
}
