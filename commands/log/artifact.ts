import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { openLiveRunFor } from "../../src/tracking/context.js";

export default class LogArtifact extends MtrackCommand {
  static override summary = "Store a file or directory as an artifact of the current run.";
  static override description =
    "The content goes into the store (deduplicated with your data); the run records it under --as (default: the base name).";
  static override examples = [
    "<%= config.bin %> log artifact out/confusion.png --as plots/confusion.png",
    "<%= config.bin %> log artifact out/model",
  ];
  static override args = { path: Args.string({ description: "file or directory", required: true }) };
  static override flags = {
    as: Flags.string({ description: "artifact name (a relative path)" }),
    run: Flags.string({ description: "run id or unique prefix (default $MTRACK_RUN_ID)" }),
  };

  async run() {
    const { args, flags } = await this.parse(LogArtifact);
    const live = openLiveRunFor({ run: flags.run, cwd: process.cwd() });
    const ref = await live.logArtifact(args.path, { as: flags.as });
    this.say(`${ref.name} (${ref.kind}, ${ref.size} bytes) -> run ${live.id}`);
    return { runId: live.id, artifact: ref };
  }
}
