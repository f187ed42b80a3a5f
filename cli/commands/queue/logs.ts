import { Args } from "@oclif/core";
import { queueLogs } from "../../../src/experiments/queue.js";
import { MtrackCommand } from "../../base.js";

export default class QueueLogs extends MtrackCommand {
  static override summary = "Print the output of a queued trial (so far, while it runs).";
  static override examples = ["<%= config.bin %> queue logs swift-otter"];
  static override args = { exp: Args.string({ required: true, description: "experiment name" }) };

  async run() {
    const { args } = await this.parse(QueueLogs);
    const log = queueLogs(this.openRepo(), args.exp);
    if (!this.jsonEnabled()) process.stdout.write(log);
    return { name: args.exp, log };
  }
}
