import { Args } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { openTracking } from "../../src/tracking/context.js";
import { deleteRun, resolveRunId } from "../../src/tracking/read.js";

export default class RunsDelete extends MtrackCommand {
  static override summary = "Soft-delete runs: hidden from listings, data kept (undo with `runs restore`).";
  static override examples = ["<%= config.bin %> runs delete 3f2a 9c1d"];
  static override strict = false;
  static override args = { ids: Args.string({ description: "run ids or unique prefixes", required: true }) };

  async run() {
    const { argv } = await this.parse(RunsDelete);
    const { dir } = openTracking(this.openRepo());
    // Resolve all first, so one bad id deletes nothing.
    const ids = (argv as string[]).map((id) => resolveRunId(dir, id));
    for (const id of ids) {
      deleteRun(dir, id);
      this.say(`deleted ${id}`);
    }
    return { deleted: ids };
  }
}
