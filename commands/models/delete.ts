import { Args } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { gitLines, openModels, parseModelRef } from "../../cli/models.js";
import { MtrackError } from "../../src/errors.js";

export default class ModelsDelete extends MtrackCommand {
  static override summary = "Delete a registered model, or one version of it.";
  static override description =
    `Deleting a version frees its number for nothing (numbers are never reused) and removes its aliases; deleting a model removes all its versions. Runs and their artifacts are not touched. The data becomes collectable by \`mtrack gc\` once nothing else references it. In git: GTO's deregistration (<name>@v<N>.0.0!#<n>) or deprecation (<name>@deprecated#<n>) tag.`;
  static override examples = [
    "<%= config.bin %> models delete morphogenetic-spirals/1",
    "<%= config.bin %> models delete morphogenetic-spirals",
  ];
  static override args = {
    model: Args.string({ description: "<name> or <name>/<version>", required: true }),
  };

  async run() {
    const { args } = await this.parse(ModelsDelete);
    const models = openModels(this.openRepo());
    const ref = parseModelRef(args.model);
    if (ref.alias !== undefined) {
      throw new MtrackError(
        "ERR_MTRACK_INVALID_ARGUMENT",
        "Delete a version by its number, not by an alias.",
        {
          hint: "Write <name>/<version>; to remove only the alias: mtrack models alias <name> <alias> --delete",
        },
      );
    }
    if (ref.version !== undefined) {
      const { git } = await models.deleteVersion(ref.name, ref.version);
      this.say(`Deleted ${ref.name} version ${ref.version}`);
      for (const l of gitLines(git)) this.say(l);
      return { name: ref.name, version: ref.version, deleted: true, git };
    }
    const { value, git } = await models.deleteModel(ref.name);
    this.say(`Deleted model ${ref.name} (${value.versions.size} versions)`);
    for (const l of gitLines(git)) this.say(l);
    return { name: ref.name, deleted: true, versions: [...value.versions.keys()], git };
  }
}
