import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { openModels, parseModelRef } from "../../cli/models.js";
import { MtrackError } from "../../src/errors.js";
import { modelJson, versionJson } from "../../src/registry/models.js";
import { parseTags } from "./register.js";

export default class ModelsTag extends MtrackCommand {
  static override summary = "Set or delete tags on a model or one of its versions.";
  static override examples = [
    "<%= config.bin %> models tag morphogenetic-spirals team=vision",
    "<%= config.bin %> models tag morphogenetic-spirals/2 validated=true",
    "<%= config.bin %> models tag morphogenetic-spirals/2 --delete validated",
  ];
  static override strict = false;
  static override args = {
    model: Args.string({ description: "<name> or <name>/<version>", required: true }),
    tags: Args.string({ description: "key=value pairs (keys with --delete)" }),
  };
  static override flags = {
    delete: Flags.boolean({ description: "delete the named tag keys", default: false }),
  };

  async run() {
    const { args, argv, flags } = await this.parse(ModelsTag);
    const models = openModels(this.openRepo());
    const ref = parseModelRef(args.model);
    if (ref.alias !== undefined) {
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "Tag a version by its number, not by an alias.", {
        hint: "Write <name>/<version>.",
      });
    }
    const items = (argv as string[]).slice(1);
    if (items.length === 0) {
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "Name at least one tag.", {
        hint: "mtrack models tag <name>[/<version>] key=value ... (or --delete key ...)",
      });
    }
    const changes: [string, string | null][] = flags.delete
      ? items.map((k) => [k, null])
      : Object.entries(parseTags(items));
    // Check every key first, so a bad one changes nothing.
    if (ref.version !== undefined) models.getVersion(ref.name, ref.version);
    else models.getModel(ref.name);
    for (const [k, val] of changes) {
      if (ref.version !== undefined) await models.setVersionTag(ref.name, ref.version, k, val);
      else await models.setModelTag(ref.name, k, val);
      this.say(val === null ? `deleted tag ${k}` : `set tag ${k}=${val}`);
    }
    return ref.version !== undefined
      ? versionJson(models.getVersion(ref.name, ref.version))
      : modelJson(models.getModel(ref.name));
  }
}
