import { MtrackCommand } from "../../cli/base.js";
import { formatTime, renderTable } from "../../cli/table.js";
import { openTracking } from "../../src/tracking/context.js";
import { listExperiments } from "../../src/tracking/read.js";

export default class ExperimentsList extends MtrackCommand {
  static override summary =
    "List experiments with their number of runs, lifecycle stage (active or deleted) and tags.";
  static override examples = ["<%= config.bin %> experiments list"];

  async run() {
    await this.parse(ExperimentsList);
    const { dir } = openTracking(this.openRepo());
    const experiments = listExperiments(dir);
    this.say(
      renderTable({
        headers: ["id", "name", "runs", "created (UTC)", "lifecycle", "tags"],
        rows: experiments.map((e) => [
          e.id,
          e.name,
          String(e.runCount),
          e.creationTime ? formatTime(e.creationTime) : "",
          e.lifecycleStage,
          Object.entries(e.tags)
            .map(([k, v]) => `${k}=${v.length > 40 ? `${v.slice(0, 39)}…` : v}`)
            .join(", "),
        ]),
      }),
    );
    return { experiments };
  }
}
