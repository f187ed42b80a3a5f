import { Args } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { openTracking } from "../../src/tracking/context.js";
import { resolveRunId, restoreRun } from "../../src/tracking/read.js";

export default class RunsRestore extends MtrackCommand {
  static override summary = "Restore soft-deleted runs.";
  static override examples = ["<%= config.bin %> runs restore 3f2a"];
  static override strict = false;
  static override args = { ids: Args.string({ description: "run ids or unique prefixes", required: true }) };

  async run() {
    const { argv } = await this.parse(RunsRestore);
    const { dir } = openTracking(this.openRepo());
    const ids = (argv as string[]).map((id) => resolveRunId(dir, id));
    for (const id of ids) {
      restoreRun(dir, id);
      this.say(`restored ${id}`);
    }
    return { restored: ids };
  }
}
