import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { applyExp } from "../../src/experiments/apply.js";

export default class ExpApply extends MtrackCommand {
  static override summary =
    "Bring an experiment's params, lock, pointers, metrics and data into the workspace.";
  static override description =
    "Refuses when tracked files have uncommitted changes (ERR_MTRACK_EXP_DIRTY_WORKSPACE) unless --force. The files the experiment changed are written by one `git checkout <exp> -- <files>`, then `mtrack checkout` restores the data its pointers and lock name.";
  static override examples = ["<%= config.bin %> exp apply swift-otter"];
  static override args = { exp: Args.string({ required: true, description: "experiment name" }) };
  static override flags = {
    force: Flags.boolean({ char: "f", description: "overwrite uncommitted changes" }),
  };

  async run() {
    const { args, flags } = await this.parse(ExpApply);
    const result = await applyExp({
      repo: this.openRepo(),
      name: args.exp,
      force: flags.force,
      cli: [process.execPath, process.argv[1] as string],
    });
    this.say(`Applied experiment ${result.name} (${result.files.length} file(s)).`);
    return result;
  }
}
