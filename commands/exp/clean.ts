import { MtrackCommand } from "../../cli/base.js";
import { cleanExps } from "../../src/experiments/manage.js";

export default class ExpClean extends MtrackCommand {
  static override summary = "Remove temporary sweep worktrees left under .mtrack/exps by a killed exp run.";
  static override description =
    "Also removes their temporary index files and runs `git worktree prune`. The worktrees of a sweep still running are kept. The store, runs and run-cache they share are not touched; experiments (refs) are not removed (that is `exp remove`).";
  static override examples = ["<%= config.bin %> exp clean"];

  async run() {
    await this.parse(ExpClean);
    const result = cleanExps(this.openRepo());
    for (const d of result.removed) this.say(`removed: ${d}`);
    for (const d of result.running) this.say(`kept (its exp run is still running): ${d}`);
    if (result.removed.length === 0) this.say("No leftover sweep worktree.");
    return result;
  }
}
