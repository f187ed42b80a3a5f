import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { followQueueLogs, queueLogs } from "../../src/experiments/queue.js";

export default class QueueLogs extends MtrackCommand {
  static override summary =
    "Print the output of a queued trial (so far, while it runs; with -f, until it ends).";
  static override description =
    "With --follow (-f), waits for a queued trial to start, prints its output as it comes, and returns when the trial has ended: exit 0 when it succeeded, 1 when it failed (or its worker died). A trial removed from the queue meanwhile ends the command with exit 1.";
  static override examples = [
    "<%= config.bin %> queue logs swift-otter",
    "<%= config.bin %> queue start && <%= config.bin %> queue logs swift-otter -f",
  ];
  static override args = { exp: Args.string({ required: true, description: "experiment name" }) };
  static override flags = {
    follow: Flags.boolean({ char: "f", description: "follow the output until the trial ends" }),
  };

  async run() {
    const { args, flags } = await this.parse(QueueLogs);
    const repo = this.openRepo();
    if (!flags.follow) {
      const log = queueLogs(repo, args.exp);
      if (!this.jsonEnabled()) process.stdout.write(log);
      return { name: args.exp, log };
    }
    let log = "";
    const end = await followQueueLogs(repo, args.exp, {
      onChunk: (chunk) => {
        log += chunk;
        if (!this.jsonEnabled()) process.stdout.write(chunk);
      },
    });
    const state = end?.state ?? "removed";
    if (state !== "success") {
      process.exitCode = 1;
      if (!this.jsonEnabled())
        process.stderr.write(
          end === null
            ? `Experiment '${args.exp}' was removed from the queue.\n`
            : `Experiment '${args.exp}' failed${end.exitCode !== undefined ? ` (exit ${end.exitCode})` : ""}${end.reason ? `: ${end.reason}` : ""}.\n`,
        );
    }
    return { name: args.exp, log, state, exitCode: end?.exitCode ?? null };
  }
}
