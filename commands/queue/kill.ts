import { Args } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { killTrial } from "../../src/experiments/queue.js";

export default class QueueKill extends MtrackCommand {
  static override summary = "Stop running queue trials (SIGTERM to their repro and its stages).";
  static override description =
    "The worker commits a killed trial as failed and goes on with the queue. A trial that is not running is refused (ERR_MTRACK_EXP_NOT_RUNNING); remove a queued one with `mtrack queue remove`.";
  static override examples = ["<%= config.bin %> queue kill swift-otter"];
  static override strict = false;
  static override args = { exp: Args.string({ required: true, description: "experiment names" }) };

  async run() {
    const { argv } = await this.parse(QueueKill);
    const repo = this.openRepo();
    const killed = (argv as string[]).map((n) => killTrial(repo, n).name);
    this.say(`Sent SIGTERM to ${killed.join(", ")}.`);
    return { killed };
  }
}
