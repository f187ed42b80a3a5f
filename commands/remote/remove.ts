import { Args } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { removeRemote } from "../../src/remotes/config.js";

export default class RemoteRemove extends MtrackCommand {
  static override summary = "Remove a remote from the configuration (the remote's data is not touched).";
  static override examples = ["<%= config.bin %> remote remove backup"];
  static override args = { name: Args.string({ required: true, description: "remote name" }) };

  async run(): Promise<{ name: string }> {
    const { args } = await this.parse(RemoteRemove);
    const repo = this.openRepo();
    removeRemote(repo.paths.mtrackDir, repo.config, args.name);
    this.say(`Removed remote ${args.name}.`);
    return { name: args.name };
  }
}
