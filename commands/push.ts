import * as path from "node:path";
import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { formatBytes } from "../cli/progress.js";
import { pushProblems } from "../src/transfer/objects.js";
import type { SyncOptions, SyncResult } from "../src/transfer/sync.js";
import { push } from "../src/transfer/sync.js";

/** Flags shared by push, fetch and pull. */
export const syncFlags = {
  remote: Flags.string({ char: "r", description: "remote name (default: core.remote)" }),
  "all-branches": Flags.boolean({ char: "a", description: "also the data at the tip of every branch" }),
  "all-tags": Flags.boolean({ char: "T", description: "also the data of every tag" }),
  "all-commits": Flags.boolean({ char: "A", description: "also the data of every commit" }),
  runs: Flags.boolean({
    description: "also sealed runs (records, metrics, artifacts) and the model registry (like --models)",
  }),
  models: Flags.boolean({
    description: "also the model registry: its events and the files of live model versions and logged models",
  }),
  "run-cache": Flags.boolean({ description: "also run-cache entries and the outputs they name" }),
  jobs: Flags.integer({ char: "j", min: 1, max: 256, description: "parallel transfers (default 8)" }),
};

/** The library options from parsed sync flags. */
export function syncOptions(flags: Record<string, unknown>, argv: readonly unknown[]): SyncOptions {
  return {
    targets: (argv as string[]).map((p) => path.resolve(p)),
    remote: flags.remote as string | undefined,
    allBranches: flags["all-branches"] === true,
    allTags: flags["all-tags"] === true,
    allCommits: flags["all-commits"] === true,
    runs: flags.runs === true,
    models: flags.models === true,
    runCache: flags["run-cache"] === true,
    jobs: flags.jobs as number | undefined,
    env: process.env,
  };
}

/** Human summary lines of a push or fetch. */
export function describeSync(verb: string, r: SyncResult): string[] {
  const o = r.objects;
  const lines = [
    `${verb} ${o.objects} object(s), ${formatBytes(o.bytes)} (${o.present} already there) — ${r.remote} ${r.url}, ${o.seconds.toFixed(1)} s`,
  ];
  const what = { runs: "run(s)", registry: "registry event(s)", runcache: "run-cache entr(ies)" };
  for (const refs of [r.runs, r.registry, r.runCache]) {
    if (refs)
      lines.push(
        `${verb} ${refs.transferred} ${what[refs.kind]}, ${refs.objects.objects} object(s)${refs.annotations ? `, ${refs.annotations} annotation(s)` : ""}`,
      );
  }
  if (o.repaired.length) {
    lines.push(
      `Replaced ${o.repaired.length} damaged object(s) on the remote, e.g. ${o.repaired[0]?.label} (${o.repaired[0]?.hash.slice(0, 12)})`,
    );
  }
  const held = r.registry?.held ?? [];
  if (held.length > 0) {
    lines.push(
      `${held.length} registry event(s) held back: an object they need is missing, e.g. ${held[0]?.event} (${held[0]?.missing[0]?.slice(0, 12)})`,
    );
  }
  const damaged = r.registry?.damaged ?? [];
  if (damaged.length > 0)
    lines.push(`${damaged.length} damaged registry ref(s) on the remote were skipped, e.g. ${damaged[0]}`);
  if (o.missingLocal.length) {
    lines.push(
      `${o.missingLocal.length} object(s) are not in the local store and were not sent, e.g. ${o.missingLocal[0]?.label}`,
    );
  }
  return lines;
}

export default class Push extends MtrackCommand {
  static override summary =
    "Upload tracked data (and optionally runs, the model registry and run-cache) to a remote.";
  static override description =
    "Sends only the objects the remote lacks: one batched existence check, small objects packed together, large ones streamed in parallel. Rerunning an interrupted push sends only what is left. Every object is hashed as it is sent: a local object that no longer matches its hash is refused (exit 2, `mtrack fsck` lists the damage).\n\nWith --repair, the remote's copies of the objects pushed are checked too (hashed where they lie for a directory or `mtrack server`, downloaded for S3) and damaged ones replaced with this clone's good copies.\n\nWith --runs (or --models alone) the model registry goes too: the files of every live model version and logged model first, then the registry's events. Deleted versions' files are not sent.";
  static override examples = [
    "<%= config.bin %> push",
    "<%= config.bin %> push data/ -r backup",
    "<%= config.bin %> push --all-branches --runs --run-cache -j 16",
    "<%= config.bin %> push --repair",
    "<%= config.bin %> push --models",
  ];
  static override strict = false;
  static override args = { targets: Args.string({ description: "tracked paths (default: all)" }) };
  static override flags = {
    ...syncFlags,
    repair: Flags.boolean({
      description:
        "also check the remote's copies of the objects pushed and replace damaged ones (from a clone with good copies)",
    }),
  };

  async run(): Promise<SyncResult> {
    const { argv, flags } = await this.parse(Push);
    const repo = this.openRepo();
    const result = await this.withProgress((onProgress) =>
      push(repo, { ...syncOptions(flags, argv), repair: flags.repair, onProgress }),
    );
    for (const line of describeSync("Pushed", result)) this.say(line);
    const problem = pushProblems(result.objects);
    for (const refs of [result.runs, result.registry, result.runCache]) {
      if (!problem && refs) {
        const more = pushProblems(refs.objects);
        if (more) throw more;
      }
    }
    if (problem) throw problem;
    return result;
  }
}
