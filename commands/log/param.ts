import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { openLiveRunFor } from "../../src/tracking/context.js";

export default class LogParam extends MtrackCommand {
  static override summary = "Log a param to the current run (params are write-once).";
  static override description =
    "Logging the same value again is fine; a different value fails with ERR_MTRACK_PARAM_IMMUTABLE, whichever process logged the first one.";
  static override examples = ["<%= config.bin %> log param lr 0.001"];
  static override args = {
    key: Args.string({ description: "param name", required: true }),
    value: Args.string({ description: "value", required: true }),
  };
  static override flags = {
    run: Flags.string({ description: "run id or unique prefix (default $MTRACK_RUN_ID)" }),
  };

  async run() {
    const { args, flags } = await this.parse(LogParam);
    const live = openLiveRunFor({ run: flags.run, cwd: process.cwd() });
    live.logParams({ [args.key]: args.value });
    return { runId: live.id, key: args.key, value: args.value };
  }
}
