import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { gitLines, openModels } from "../../cli/models.js";
import { MtrackError } from "../../src/errors.js";
import { versionJson } from "../../src/registry/models.js";
import { parseVersion } from "../../src/registry/names.js";

export default class ModelsAlias extends MtrackCommand {
  static override summary = "Point an alias (champion, staging, ...) at a version, or delete it.";
  static override description =
    `An alias names one version of a model and moves when set again; load it as models:/<name>@<alias>. MLflow's stages are the aliases 'staging' and 'production'. In git the change is GTO's stage assignment (<name>#<alias>#<n>, and <name>#<alias>!#<n> when it leaves a version).`;
  static override examples = [
    "<%= config.bin %> models alias morphogenetic-spirals champion 2",
    "<%= config.bin %> models alias morphogenetic-spirals champion --delete",
  ];
  static override args = {
    name: Args.string({ description: "registered model name", required: true }),
    alias: Args.string({ description: "alias", required: true }),
    version: Args.string({ description: "version number (omit with --delete)" }),
  };
  static override flags = {
    delete: Flags.boolean({ description: "delete the alias", default: false }),
  };

  async run() {
    const { args, flags } = await this.parse(ModelsAlias);
    const models = openModels(this.openRepo());
    if (flags.delete) {
      if (args.version !== undefined) throw usage("Give no version with --delete.");
      const before = models.getVersionByAlias(args.name, args.alias).version;
      const { git } = await models.deleteAlias(args.name, args.alias);
      this.say(`Deleted alias ${args.alias} of ${args.name} (was version ${before})`);
      for (const l of gitLines(git)) this.say(l);
      return { name: args.name, alias: args.alias, deleted: true, version: before, git };
    }
    if (args.version === undefined) throw usage("Name the version the alias points at.");
    const { value: v, git } = await models.setAlias(args.name, args.alias, parseVersion(args.version));
    this.say(`${v.name}@${args.alias} → version ${v.version}`);
    for (const l of gitLines(git)) this.say(l);
    return { ...versionJson(v), alias: args.alias, git };
  }
}

function usage(message: string): MtrackError {
  return new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", message, {
    hint: "mtrack models alias <name> <alias> <version>, or mtrack models alias <name> <alias> --delete",
  });
}
