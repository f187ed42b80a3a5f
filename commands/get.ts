import * as path from "node:path";
import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { formatBytes } from "../cli/progress.js";
import { getFromSource, sourceContextAt } from "../src/sources/ops.js";
import { getAtRev } from "../src/workspace/get.js";
import { resolveTarget } from "../src/workspace/tracked.js";

export default class Get extends MtrackCommand {
  static override summary =
    "Write a tracked path as it was at any git revision, of this repository or of another one.";
  static override description =
    "With one argument: reads <path>.mtrack from this repository's git history (any revision: a commit, a branch, a tag, HEAD~2, ...) and writes that version of the data to -o; the objects must be in the local store.\n\nWith two arguments, the first is another repository (a path, file://, https://, ssh:// or git@host:path): its pointer comes from git (a shallow fetch cached in .mtrack/sources/), the objects from that repository's default remote through the local store (data already here is not downloaded again; outside an mtrack repository a temporary store is used). A plain git file of that repository is written too.";
  static override examples = [
    "<%= config.bin %> get data --rev v1 -o old-data",
    "<%= config.bin %> get models/model.bin --rev HEAD~3 -o /tmp/model-3-commits-ago.bin",
    "<%= config.bin %> get ../dataset-registry data/images --rev v2 -o images",
    "<%= config.bin %> get https://github.com/org/registry.git models/model.bin",
  ];
  static override args = {
    first: Args.string({
      description: "tracked path of this repository; or, with a second argument, another repository",
      required: true,
    }),
    second: Args.string({ description: "path in that other repository" }),
  };
  static override flags = {
    rev: Flags.string({ char: "r", description: "git revision (default: HEAD of the repository read)" }),
    out: Flags.string({
      char: "o",
      description:
        "where to write it (required for this repository; default for another: the path's basename)",
    }),
    force: Flags.boolean({ char: "f", description: "replace the output path if it exists" }),
    jobs: Flags.integer({
      char: "j",
      description: "parallel downloads (another repository)",
      min: 1,
      max: 256,
    }),
  };

  async run() {
    const { args, flags } = await this.parse(Get);
    if (args.second !== undefined) return this.fromSource(args.first, args.second, flags);
    if (!flags.out) this.error("Missing required flag out (-o) when reading this repository.", { exit: 2 });
    const repo = this.openRepo();
    const rel = resolveTarget(repo, path.resolve(args.first));
    const rev = flags.rev ?? "HEAD";
    const r = await this.withProgress((onProgress) =>
      getAtRev(repo, rel, rev, path.resolve(flags.out!), { onProgress, force: flags.force }),
    );
    this.say(
      `${r.path}@${r.rev} (${r.commit.slice(0, 10)}): ${r.files} file(s), ${formatBytes(r.size)} -> ${r.out}`,
    );
    return r;
  }

  private async fromSource(
    url: string,
    rel: string,
    flags: { rev?: string; out?: string; force: boolean; jobs?: number },
  ) {
    const outAbs = path.resolve(flags.out ?? path.posix.basename(rel.replace(/\/+$/, "")));
    const { ctx, repo, cleanup } = sourceContextAt(process.cwd(), process.env);
    try {
      const go = () =>
        this.withProgress((onProgress) =>
          getFromSource(
            url,
            rel,
            { rev: flags.rev, outAbs, force: flags.force, jobs: flags.jobs, onProgress },
            ctx,
          ),
        );
      const r = repo ? await repo.withLock("get", go) : await go();
      this.say(
        `${url} ${r.path}@${r.rev} (${r.commit.slice(0, 10)}): ${r.files} file(s), ${formatBytes(r.size)} -> ${r.out} (${r.downloaded} object(s) downloaded, ${formatBytes(r.downloadedBytes)})`,
      );
      return r;
    } finally {
      cleanup();
    }
  }
}
