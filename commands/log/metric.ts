import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { MtrackError } from "../../src/errors.js";
import { openLiveRunFor } from "../../src/tracking/context.js";

function number(what: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === "" || (Number.isNaN(n) && !/^nan$/i.test(text.trim()))) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `${what} ${JSON.stringify(text)} is not a number.`, {
      data: { [what]: text },
      hint: "Give a number, e.g. 0.25, 1e-3 or NaN.",
    });
  }
  return n;
}

export default class LogMetric extends MtrackCommand {
  static override summary = "Log a metric point to the current run.";
  static override description =
    "Appends one point (value, step, timestamp) to a metric of the run named by --run or by MTRACK_RUN_ID (set by `mtrack run`).";
  static override examples = ["<%= config.bin %> log metric val_acc 0.91 --step 3"];
  static override args = {
    key: Args.string({ description: "metric name", required: true }),
    value: Args.string({ description: "numeric value", required: true }),
  };
  static override flags = {
    step: Flags.string({ description: "step (default 0)" }),
    timestamp: Flags.string({ description: "Unix time in ms (default now)" }),
    run: Flags.string({ description: "run id or unique prefix (default $MTRACK_RUN_ID)" }),
  };

  async run() {
    const { args, flags } = await this.parse(LogMetric);
    const value = number("value", args.value)!;
    const step = number("step", flags.step) ?? 0;
    const timestamp = number("timestamp", flags.timestamp) ?? Date.now();
    const live = openLiveRunFor({ run: flags.run, cwd: process.cwd() });
    live.logMetric(args.key, value, { step, timestamp });
    return { runId: live.id, key: args.key, value, step, timestamp };
  }
}
