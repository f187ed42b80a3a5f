import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { openLiveRunFor } from "../../src/tracking/context.js";

export default class LogTag extends MtrackCommand {
  static override summary = "Set a tag on the current run (tags are mutable).";
  static override examples = ["<%= config.bin %> log tag phase finetune"];
  static override args = {
    key: Args.string({ description: "tag name", required: true }),
    value: Args.string({ description: "value", required: true }),
  };
  static override flags = {
    run: Flags.string({ description: "run id or unique prefix (default $MTRACK_RUN_ID)" }),
  };

  async run() {
    const { args, flags } = await this.parse(LogTag);
    const live = openLiveRunFor({ run: flags.run, cwd: process.cwd() });
    live.setTags({ [args.key]: args.value });
    return { runId: live.id, key: args.key, value: args.value };
  }
}
