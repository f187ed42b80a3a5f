import { Args } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { findExp, git, listExpRefs } from "../../src/experiments/refs.js";

export default class ExpBranch extends MtrackCommand {
  static override summary = "Make a git branch from an experiment.";
  static override examples = ["<%= config.bin %> exp branch swift-otter try-lr"];
  static override args = {
    exp: Args.string({ required: true, description: "experiment name" }),
    branch: Args.string({ required: true, description: "new branch name" }),
  };

  async run() {
    const { args } = await this.parse(ExpBranch);
    const root = this.openRepo().root;
    const e = findExp(listExpRefs(root), args.exp);
    git(root, ["branch", args.branch, e.commit]);
    this.say(`Branch '${args.branch}' points at experiment ${e.name} (${e.commit.slice(0, 7)}).`);
    return { branch: args.branch, commit: e.commit };
  }
}
