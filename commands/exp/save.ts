import { Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { saveExp } from "../../src/experiments/manage.js";

export default class ExpSave extends MtrackCommand {
  static override summary = "Record the current workspace as an experiment, without running anything.";
  static override description =
    "Commits the workspace as git sees it (params files, pipeline.lock, pointer files, cache: false metrics: every file git does not ignore) as an experiment of HEAD, through a temporary index: your index and branch are untouched. The data the pointers and the lock name must already be stored (mtrack repro, add or commit do that).";
  static override examples = [
    "<%= config.bin %> exp save",
    "<%= config.bin %> exp save -n tuned-by-hand -m 'lr found by hand'",
  ];
  static override flags = {
    name: Flags.string({ char: "n", description: "experiment name (default: generated)" }),
    message: Flags.string({ char: "m", description: "commit message of the experiment" }),
  };

  async run() {
    const { flags } = await this.parse(ExpSave);
    const e = saveExp({ repo: this.openRepo(), name: flags.name, message: flags.message });
    this.say(`Saved the workspace as experiment ${e.name} (${e.commit.slice(0, 7)}).`);
    return { name: e.name, commit: e.commit, ref: e.ref, baseline: e.baseline };
  }
}
