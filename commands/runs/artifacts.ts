import { Args } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { formatBytes } from "../../cli/progress.js";
import { renderTable } from "../../cli/table.js";
import { openTracking } from "../../src/tracking/context.js";
import { getRun, listArtifactFiles } from "../../src/tracking/read.js";

export default class RunsArtifacts extends MtrackCommand {
  static override summary = "List a run's artifact files (directories expanded) and models.";
  static override examples = ["<%= config.bin %> runs artifacts 3f2a"];
  static override args = { id: Args.string({ description: "run id or unique prefix", required: true }) };

  async run() {
    const { args } = await this.parse(RunsArtifacts);
    const { dir, store } = openTracking(this.openRepo());
    const run = getRun(dir, store, args.id);
    const files = listArtifactFiles(dir, store, run.runId);
    const rows = [
      ...files.map((f) => [f.name, formatBytes(f.size), f.hash.slice(0, 12)]),
      ...run.models.map((m) => [`${m.name}/ (model, ${m.flavor})`, formatBytes(m.size), m.hash.slice(0, 12)]),
    ];
    this.say(
      rows.length === 0
        ? `Run ${run.runId} has no artifacts.`
        : renderTable({ headers: ["name", "size", "hash"], rows }),
    );
    return { runId: run.runId, artifacts: files, models: run.models };
  }
}
