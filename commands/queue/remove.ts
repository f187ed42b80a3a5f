import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { removeFromQueue } from "../../src/experiments/queue.js";

export default class QueueRemove extends MtrackCommand {
  static override summary =
    "Remove trials from the queue (queued ones never run; finished ones stay experiments).";
  static override description =
    "Every name is checked first: an unknown one (ERR_MTRACK_EXP_NOT_FOUND) or a running one (ERR_MTRACK_EXP_RUNNING: kill it first) removes nothing. --all removes every entry that is not running, --queued every one still waiting.";
  static override examples = [
    "<%= config.bin %> queue remove swift-otter",
    "<%= config.bin %> queue remove --queued",
    "<%= config.bin %> queue remove --all",
  ];
  static override strict = false;
  static override args = { exp: Args.string({ description: "experiment names" }) };
  static override flags = {
    all: Flags.boolean({ description: "every entry that is not running" }),
    queued: Flags.boolean({ description: "every trial still waiting" }),
  };

  async run() {
    const { argv, flags } = await this.parse(QueueRemove);
    const removed = removeFromQueue(this.openRepo(), {
      names: argv as string[],
      all: flags.all,
      queued: flags.queued,
    });
    this.say(`Removed ${removed.length} queue entr${removed.length === 1 ? "y" : "ies"}.`);
    return { removed };
  }
}
