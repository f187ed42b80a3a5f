import { MtrackCommand } from "../../cli/base.js";
import { openModels } from "../../cli/models.js";
import { formatTime, renderTable } from "../../cli/table.js";
import { modelJson } from "../../src/registry/models.js";

export default class ModelsList extends MtrackCommand {
  static override summary = "List registered models with their latest version and aliases.";
  static override examples = ["<%= config.bin %> models list", "<%= config.bin %> models list --json"];

  async run() {
    await this.parse(ModelsList);
    const models = openModels(this.openRepo());
    const list = models.listModels();
    const conflicts = models.state().conflicts;
    if (list.length === 0)
      this.say("No registered models. Register one: mtrack models register <name> <source>");
    else
      this.say(
        renderTable({
          headers: ["name", "versions", "latest", "aliases", "updated", "description"],
          rows: list.map((m) => [
            m.name,
            String(m.versions.size),
            String(Math.max(0, ...m.versions.keys()) || ""),
            Object.entries(m.aliases)
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([a, n]) => `${a}→${n}`)
              .join(" "),
            formatTime(m.updatedAt),
            m.description.split("\n")[0] ?? "",
          ]),
        }),
      );
    if (conflicts.length > 0)
      this.say(
        `\n${conflicts.length} registry change(s) from other clones did not apply (see \`mtrack fsck\`).`,
      );
    return { models: list.map(modelJson), conflicts };
  }
}
