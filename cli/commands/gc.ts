import { Flags } from "@oclif/core";
import { gcStore, gitHistoryRoots, type RootSource, workspaceRoots } from "../../src/workspace/gc.js";
import { MtrackCommand } from "../base.js";
import { formatBytes } from "../progress.js";

export default class Gc extends MtrackCommand {
  static override summary = "Delete stored content that nothing refers to.";
  static override description =
    "Keeps every object named by the workspace's pointers and by the pointers in every commit of every branch and tag (and by runs and the run-cache once they exist). Everything else is deleted. Use --dry to see what would go.";
  static override examples = ["<%= config.bin %> gc --dry", "<%= config.bin %> gc", "<%= config.bin %> gc --workspace-only"];
  static override flags = {
    dry: Flags.boolean({ description: "only report what would be deleted" }),
    "workspace-only": Flags.boolean({ description: "keep only what the current workspace refers to (not git history)" }),
  };

  async run() {
    const { flags } = await this.parse(Gc);
    const repo = this.openRepo();
    const sources: RootSource[] = [workspaceRoots(repo)];
    if (!flags["workspace-only"]) sources.push(gitHistoryRoots(repo));
    const r = await gcStore(repo, sources, { dryRun: flags.dry });
    const verb = r.dryRun ? "Would delete" : "Deleted";
    this.say(`${verb} ${r.removed} object(s), ${formatBytes(r.removedBytes)}; kept ${r.kept}.`);
    for (const [name, n] of Object.entries(r.roots)) this.say(`  ${n} reference(s) from ${name}`);
    if (r.leftovers) this.say(`${verb} ${r.leftovers} leftover(s) of interrupted writes.`);
    return r;
  }
}
