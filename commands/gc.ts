import { Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { formatBytes } from "../cli/progress.js";
import { pipelineLockRoots, runCacheRoots } from "../src/pipeline/runcache.js";
import { registryRoots } from "../src/registry/gc.js";
import type { Repo } from "../src/repo.js";
import { activeRunsSince, runRoots } from "../src/tracking/context.js";
import { gcRemote } from "../src/transfer/remote-gc.js";
import { parseDuration } from "../src/util/duration.js";
import {
  type GcResult,
  gcStore,
  gitHistoryRoots,
  type RootSource,
  workspaceRoots,
} from "../src/workspace/gc.js";

/** How long what was just written on a remote is kept by `gc --cloud` (a push may be running). */
const DEFAULT_KEEP_NEWER = "1h";

/** The root sources of both the local and the remote collection. */
function rootSources(repo: Repo, history: boolean): RootSource[] {
  const sources: RootSource[] = [
    workspaceRoots(repo),
    pipelineLockRoots(repo, { history }),
    runRoots(repo),
    registryRoots(repo),
    runCacheRoots(repo),
  ];
  if (history) sources.push(gitHistoryRoots(repo));
  return sources;
}

export default class Gc extends MtrackCommand {
  static override summary =
    "Delete stored content that nothing refers to (locally, and with --cloud on a remote).";
  static override description = `Keeps every object named by:
  - the workspace's pointer files and pipeline.lock,
  - the pointer files and pipeline.lock of every commit of every branch and tag (unless --workspace-only),
  - tracked runs (params, metrics, artifacts, models) and the run-cache,
  - the model registry: the files of every live model version and of every logged model not deleted
    (a deleted version's or model's files become collectable, unless something else names them).
Everything else is deleted. While a run is still being written, objects younger than it are kept too.
Use --dry to see what would go.

With --cloud (like \`dvc gc --cloud\`) the local store is collected first, then the remote (-r, default core.remote). On the remote, runs, run-cache entries and model registry versions pushed by any clone are kept as well, and anything written there less than --keep-newer ago (default 1h) is kept, so what a push is uploading right now is not deleted. Directory manifests missing locally are read from the remote; if one cannot be read anywhere, gc refuses and deletes nothing (locally or remotely).`;
  static override examples = [
    "<%= config.bin %> gc --dry",
    "<%= config.bin %> gc",
    "<%= config.bin %> gc --workspace-only",
    "<%= config.bin %> gc --cloud --dry",
    "<%= config.bin %> gc --cloud -r backup --keep-newer 30m",
  ];
  static override flags = {
    dry: Flags.boolean({ description: "only report what would be deleted" }),
    "workspace-only": Flags.boolean({
      description: "ignore git history: keep only what the current workspace, runs and run-cache refer to",
    }),
    cloud: Flags.boolean({
      char: "c",
      description: "also delete unreferenced objects on the remote (after the local store)",
    }),
    remote: Flags.string({
      char: "r",
      description: "remote to collect with --cloud (default: core.remote)",
      dependsOn: ["cloud"],
    }),
    "keep-newer": Flags.string({
      description:
        "with --cloud: keep what was written on the remote less than this ago (e.g. 30m, 2h, 0; default 1h)",
      dependsOn: ["cloud"],
    }),
  };

  async run() {
    const { flags } = await this.parse(Gc);
    const repo = this.openRepo();
    const sources = rootSources(repo, !flags["workspace-only"]);
    const collectLocal = () =>
      gcStore(repo, sources, { dryRun: flags.dry, keepNewerThanMs: activeRunsSince(repo) });
    if (!flags.cloud) {
      const r = await collectLocal();
      this.describeLocal(r);
      return r;
    }
    const keepNewer = flags["keep-newer"] ?? DEFAULT_KEEP_NEWER;
    const keepNewerMs = parseDuration(keepNewer, "--keep-newer");
    let local: GcResult | undefined;
    const cloud = await gcRemote(repo, sources, {
      remote: flags.remote,
      env: process.env,
      keepNewerMs,
      dryRun: flags.dry,
      beforeCollect: async () => {
        local = await collectLocal();
      },
    });
    if (local) this.describeLocal(local);
    const verb = cloud.dryRun ? "Would delete" : "Deleted";
    this.say(
      `${verb} ${cloud.removed} object(s), ${formatBytes(cloud.removedBytes)} on ${cloud.remote} (${cloud.url}); kept ${cloud.kept}${cloud.young ? ` (${cloud.young} only because they are newer than ${keepNewer})` : ""}.`,
    );
    if (cloud.packsRewritten || cloud.packsDeleted)
      this.say(`  packs: ${cloud.packsRewritten} rewritten without garbage, ${cloud.packsDeleted} deleted`);
    if (cloud.leftovers) this.say(`  ${cloud.leftovers} leftover(s) of interrupted pushes`);
    for (const [name, n] of Object.entries(cloud.roots)) this.say(`  ${n} reference(s) from ${name}`);
    return { local, cloud };
  }

  private describeLocal(r: GcResult): void {
    const verb = r.dryRun ? "Would delete" : "Deleted";
    this.say(`${verb} ${r.removed} object(s), ${formatBytes(r.removedBytes)}; kept ${r.kept}.`);
    for (const [name, n] of Object.entries(r.roots)) this.say(`  ${n} reference(s) from ${name}`);
    if (r.leftovers) this.say(`${verb} ${r.leftovers} leftover(s) of interrupted writes.`);
  }
}
