import path from "node:path";
import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { gitLines, isModelUri, openModels } from "../../cli/models.js";
import { formatBytes } from "../../cli/progress.js";
import { MtrackError } from "../../src/errors.js";
import { versionJson } from "../../src/registry/models.js";

/** `k=v` pairs → a record; a clear error for anything else. */
export function parseTags(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf("=");
    if (eq <= 0) {
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `Tag ${JSON.stringify(p)} is not key=value.`, {
        hint: "Write tags as --tag key=value (repeatable).",
        data: { tag: p },
      });
    }
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

export default class ModelsRegister extends MtrackCommand {
  static override summary = "Register a new version of a model from a run, another model, or a path.";
  static override description =
    `SOURCE is runs:/<run-id>/<path> (a run's model or artifacts), models:/<name>/<version>, models:/<name>@<alias>, models:/m-<id> (an MLflow logged model), or a file or directory in the workspace. The model is created on its first version. The content is stored once: a version made from a run's model is the run's own manifest.
In a git repository the version is also tagged as GTO does (<name>@v<N>.0.0 on the run's commit, else HEAD), so \`gto show\` lists it.`;
  static override examples = [
    "<%= config.bin %> models register morphogenetic-spirals runs:/3f2a/model",
    "<%= config.bin %> models register clf results/model --description 'first baseline' --tag team=vision",
  ];
  static override args = {
    name: Args.string({ description: "registered model name", required: true }),
    source: Args.string({ description: "runs:/<run>/<path>, models:/..., or a path", required: true }),
  };
  static override flags = {
    description: Flags.string({ char: "d", description: "the version's description" }),
    tag: Flags.string({ char: "t", description: "version tag key=value (repeatable)", multiple: true }),
  };

  async run() {
    const { args, flags } = await this.parse(ModelsRegister);
    const repo = this.openRepo();
    const models = openModels(repo);
    const source = isModelUri(args.source) ? args.source : path.resolve(process.cwd(), args.source);
    const { value: v, git } = await models.register(args.name, source, {
      description: flags.description,
      tags: parseTags(flags.tag ?? []),
    });
    this.say(`Registered ${v.name} version ${v.version} (models:/${v.name}/${v.version})`);
    this.say(
      `  from ${v.source}${v.runId ? ` (run ${v.runId.slice(0, 8)})` : ""}: ${v.content.files} files, ${formatBytes(v.content.size)}, flavor ${v.flavor}`,
    );
    for (const l of gitLines(git)) this.say(l);
    return { ...versionJson(v), git };
  }
}
