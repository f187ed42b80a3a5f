import { Flags } from "@oclif/core";
import { pipelineLockRoots, runCacheRoots } from "../../src/pipeline/runcache.js";
import { activeRunsSince, runRoots } from "../../src/tracking/context.js";
import { gcStore, gitHistoryRoots, type RootSource, workspaceRoots } from "../../src/workspace/gc.js";
import { MtrackCommand } from "../base.js";
import { formatBytes } from "../progress.js";

export default class Gc extends MtrackCommand {
  static override summary = "Delete stored content that nothing refers to.";
  static override description = `Keeps every object named by:
  - the workspace's pointer files and pipeline.lock,
  - the pointer files and pipeline.lock of every commit of every branch and tag (unless --workspace-only),
  - tracked runs (params, metrics, artifacts, models) and the run-cache.
Everything else is deleted. While a run is still being written, objects younger than it are kept too.
Use --dry to see what would go.`;
  static override examples = [
    "<%= config.bin %> gc --dry",
    "<%= config.bin %> gc",
    "<%= config.bin %> gc --workspace-only",
  ];
  static override flags = {
    dry: Flags.boolean({ description: "only report what would be deleted" }),
    "workspace-only": Flags.boolean({
      description: "ignore git history: keep only what the current workspace, runs and run-cache refer to",
    }),
  };

  async run() {
    const { flags } = await this.parse(Gc);
    const repo = this.openRepo();
    const history = !flags["workspace-only"];
    const sources: RootSource[] = [
      workspaceRoots(repo),
      pipelineLockRoots(repo, { history }),
      runRoots(repo),
      runCacheRoots(repo),
    ];
    if (history) sources.push(gitHistoryRoots(repo));
    const r = await gcStore(repo, sources, { dryRun: flags.dry, keepNewerThanMs: activeRunsSince(repo) });
    const verb = r.dryRun ? "Would delete" : "Deleted";
    this.say(`${verb} ${r.removed} object(s), ${formatBytes(r.removedBytes)}; kept ${r.kept}.`);
    for (const [name, n] of Object.entries(r.roots)) this.say(`  ${n} reference(s) from ${name}`);
    if (r.leftovers) this.say(`${verb} ${r.leftovers} leftover(s) of interrupted writes.`);
    return r;
  }
}
