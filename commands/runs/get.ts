import * as path from "node:path";
import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { openTracking } from "../../src/tracking/context.js";
import { materializeArtifact, resolveRunId } from "../../src/tracking/read.js";

export default class RunsGet extends MtrackCommand {
  static override summary = "Write an artifact (file, directory or model) of a run to disk.";
  static override examples = [
    "<%= config.bin %> runs get 3f2a logs/output.txt -o output.txt",
    "<%= config.bin %> runs get 3f2a model -o models/best",
  ];
  static override args = {
    id: Args.string({ description: "run id or unique prefix", required: true }),
    artifact: Args.string({
      description: "artifact name (or a path inside a directory artifact)",
      required: true,
    }),
  };
  static override flags = {
    output: Flags.string({ char: "o", description: "destination (default: the artifact's base name here)" }),
  };

  async run() {
    const { args, flags } = await this.parse(RunsGet);
    const { dir, store } = openTracking(this.openRepo());
    const runId = resolveRunId(dir, args.id);
    const dest = path.resolve(flags.output ?? path.posix.basename(args.artifact));
    materializeArtifact(dir, store, runId, args.artifact, dest);
    this.say(`${args.artifact} -> ${dest}`);
    return { runId, artifact: args.artifact, path: dest };
  }
}
