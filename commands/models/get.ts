import path from "node:path";
import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { openModels } from "../../cli/models.js";
import { formatBytes } from "../../cli/progress.js";

export default class ModelsGet extends MtrackCommand {
  static override summary = "Write a model's files to a directory.";
  static override examples = [
    "<%= config.bin %> models get models:/morphogenetic-spirals@champion -o deploy/model",
    "<%= config.bin %> models get runs:/3f2a/model -o /tmp/model",
  ];
  static override args = {
    uri: Args.string({
      description:
        "models:/<name>/<version>, models:/<name>@<alias>, models:/<name>/latest, models:/m-<id> or runs:/<run>/<path>",
      required: true,
    }),
  };
  static override flags = {
    out: Flags.string({ char: "o", description: "directory to write into (created)", required: true }),
  };

  async run() {
    const { args, flags } = await this.parse(ModelsGet);
    const models = openModels(this.openRepo());
    const dest = path.resolve(process.cwd(), flags.out);
    const r = models.materialize(args.uri, dest);
    const what = r.version ? `${r.version.name} version ${r.version.version}` : args.uri;
    this.say(
      `Wrote ${what} to ${flags.out} (${r.content.files} files, ${formatBytes(r.content.size)}, flavor ${r.flavor})`,
    );
    return {
      uri: args.uri,
      out: dest,
      name: r.version?.name ?? null,
      version: r.version?.version ?? null,
      modelId: r.logged?.modelId ?? null,
      runId: r.runId,
      content: r.content,
      flavor: r.flavor,
    };
  }
}
