import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { removeFromQueue } from "../../src/experiments/queue.js";
import { findExp, git, listExpRefs } from "../../src/experiments/refs.js";

export default class ExpRemove extends MtrackCommand {
  static override summary = "Remove experiments (their refs under refs/exps/).";
  static override examples = [
    "<%= config.bin %> exp remove swift-otter",
    "<%= config.bin %> exp remove --all-commits",
    "<%= config.bin %> exp remove --queue",
  ];
  static override strict = false;
  static override args = { exp: Args.string({ description: "experiment names" }) };
  static override flags = {
    "all-commits": Flags.boolean({ char: "A", description: "every experiment" }),
    queue: Flags.boolean({
      description: "every queued trial that has not started (see `mtrack queue remove`)",
    }),
  };

  async run() {
    const { argv, flags } = await this.parse(ExpRemove);
    const repo = this.openRepo();
    const root = repo.root;
    if (flags.queue && !flags["all-commits"] && argv.length === 0) {
      const removed = removeFromQueue(repo, { queued: true });
      this.say(`Removed ${removed.length} queued trial(s).`);
      return { removed };
    }
    const refs = listExpRefs(root);
    // Resolve every name first: an unknown one removes nothing.
    const gone = flags["all-commits"] ? refs : (argv as string[]).map((n) => findExp(refs, n));
    for (const r of gone) git(root, ["update-ref", "-d", r.ref]);
    this.say(`Removed ${gone.length} experiment(s).`);
    return { removed: gone.map((r) => r.name) };
  }
}
