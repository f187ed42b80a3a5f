import { Args } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { renameExp } from "../../src/experiments/manage.js";

export default class ExpRename extends MtrackCommand {
  static override summary = "Rename an experiment.";
  static override description =
    "Moves the experiment's commit to refs/exps/<baseline>/<new> and removes the old ref in one git transaction. A name already taken is refused (ERR_MTRACK_EXP_EXISTS). Runs logged under the old name keep their mtrack.exp tag.";
  static override examples = ["<%= config.bin %> exp rename swift-otter lr-0.3"];
  static override args = {
    exp: Args.string({ required: true, description: "experiment name" }),
    new: Args.string({ required: true, description: "new name" }),
  };

  async run() {
    const { args } = await this.parse(ExpRename);
    const result = renameExp(this.openRepo().root, args.exp, args.new);
    this.say(`Renamed experiment ${result.from} to ${result.to} (${result.commit.slice(0, 7)}).`);
    return result;
  }
}
