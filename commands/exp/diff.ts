import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { expDiff } from "../../src/experiments/diff.js";
import { valueDiffTable } from "../../src/pipeline/table.js";

export default class ExpDiff extends MtrackCommand {
  static override summary =
    "Compare the params and metrics of two experiments, or of an experiment and its baseline.";
  static override description =
    "A and B are experiment names (or commit prefixes), git revisions, or `workspace`. With only A: an experiment is compared with its baseline commit (what it changed), any other revision with the workspace. Lists old, new, change and % change of every value that differs, as `params diff` and `metrics diff` do.";
  static override examples = [
    "<%= config.bin %> exp diff swift-otter",
    "<%= config.bin %> exp diff swift-otter calm-heron --md",
    "<%= config.bin %> exp diff HEAD swift-otter --all",
    "<%= config.bin %> exp diff swift-otter workspace --json",
  ];
  static override args = {
    a: Args.string({ required: true, description: "old experiment or revision" }),
    b: Args.string({
      description: "new experiment or revision (default: A's baseline → A, or A → workspace)",
    }),
  };
  static override flags = {
    all: Flags.boolean({ description: "also list unchanged values" }),
    md: Flags.boolean({ description: "Markdown tables" }),
  };

  async run() {
    const { args, flags } = await this.parse(ExpDiff);
    const result = await expDiff({ repo: this.openRepo(), a: args.a, b: args.b, all: flags.all });
    if (!this.jsonEnabled()) {
      const between = `${result.a.name} → ${result.b.name}`;
      const parts: string[] = [];
      for (const [what, diffs] of [
        ["Params", result.params],
        ["Metrics", result.metrics],
      ] as const) {
        if (diffs.length === 0) parts.push(`No ${what.toLowerCase()} changed (${between}).\n`);
        else parts.push(`${what} (${between}):\n${valueDiffTable(diffs, { markdown: flags.md })}`);
      }
      process.stdout.write(parts.join("\n"));
    }
    return result;
  }
}
