import { Args } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { openModels, parseModelRef, versionOf } from "../../cli/models.js";
import { formatBytes } from "../../cli/progress.js";
import { formatTime, renderTable, shortId } from "../../cli/table.js";
import { modelJson, versionJson } from "../../src/registry/models.js";
import { stageOf } from "../../src/registry/names.js";

export default class ModelsShow extends MtrackCommand {
  static override summary = "Show a registered model and its versions, or one version in detail.";
  static override examples = [
    "<%= config.bin %> models show morphogenetic-spirals",
    "<%= config.bin %> models show morphogenetic-spirals/2",
    "<%= config.bin %> models show morphogenetic-spirals@champion --json",
  ];
  static override args = {
    model: Args.string({ description: "<name>, <name>/<version> or <name>@<alias>", required: true }),
  };

  async run() {
    const { args } = await this.parse(ModelsShow);
    const models = openModels(this.openRepo());
    const ref = parseModelRef(args.model);
    const v = versionOf(models, ref);
    if (v === undefined) {
      const m = models.getModel(ref.name);
      this.say(`${m.name}${m.description ? ` — ${m.description}` : ""}`);
      this.say(
        `  created ${formatTime(m.createdAt)} by ${m.user || "?"}, updated ${formatTime(m.updatedAt)}`,
      );
      for (const [k, val] of Object.entries(m.tags)) this.say(`  tag ${k}=${val}`);
      const versions = [...m.versions.values()].sort((a, b) => b.version - a.version);
      this.say("");
      this.say(
        versions.length === 0
          ? "No versions."
          : renderTable({
              headers: [
                "version",
                "aliases",
                "stage",
                "source",
                "run",
                "commit",
                "size",
                "flavor",
                "created",
              ],
              rows: versions.map((x) => [
                String(x.version),
                x.aliases.join(","),
                stageOf(x.aliases),
                x.source,
                shortId(x.runId),
                shortId(x.commit),
                formatBytes(x.content.size),
                x.flavor,
                formatTime(x.createdAt),
              ]),
            }),
      );
      return modelJson(m);
    }
    const files = models.files(v.content);
    this.say(`${v.name} version ${v.version} (models:/${v.name}/${v.version})`);
    if (v.aliases.length > 0) this.say(`  aliases:   ${v.aliases.join(", ")} (stage ${stageOf(v.aliases)})`);
    this.say(`  source:    ${v.source}`);
    if (v.runId) this.say(`  run:       ${v.runId}`);
    if (v.modelId) this.say(`  logged:    models:/${v.modelId}`);
    this.say(`  commit:    ${v.commit ?? "(none)"}`);
    this.say(`  flavor:    ${v.flavor}`);
    this.say(`  content:   ${v.content.hash} (${v.content.files} files, ${formatBytes(v.content.size)})`);
    this.say(`  created:   ${formatTime(v.createdAt)} by ${v.user || "?"}`);
    if (v.description) this.say(`  description: ${v.description}`);
    for (const [k, val] of Object.entries(v.tags)) this.say(`  tag ${k}=${val}`);
    if (v.signature) this.say(`  signature: inputs ${JSON.stringify(v.signature.inputs)}`);
    if (v.signature) this.say(`             outputs ${JSON.stringify(v.signature.outputs)}`);
    this.say("");
    this.say(
      renderTable({ headers: ["file", "size"], rows: files.map((f) => [f.name, formatBytes(f.size)]) }),
    );
    return { ...versionJson(v), files };
  }
}
