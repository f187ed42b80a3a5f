import * as path from "node:path";
import { Args, Flags } from "@oclif/core";
import { getAtRev } from "../../src/workspace/get.js";
import { resolveTarget } from "../../src/workspace/tracked.js";
import { MtrackCommand } from "../base.js";
import { formatBytes } from "../progress.js";

export default class Get extends MtrackCommand {
  static override summary =
    "Write a tracked path as it was at any git revision, without moving the worktree.";
  static override description =
    "Reads <path>.mtrack from git history (any revision: a commit, a branch, a tag, HEAD~2, ...) and writes that version of the data to -o. The objects must be in the local store (fetch them from a remote otherwise).";
  static override examples = [
    "<%= config.bin %> get data --rev v1 -o old-data",
    "<%= config.bin %> get models/model.bin --rev HEAD~3 -o /tmp/model-3-commits-ago.bin",
  ];
  static override args = {
    path: Args.string({ description: "tracked path (as named in the repository)", required: true }),
  };
  static override flags = {
    rev: Flags.string({ char: "r", description: "git revision", default: "HEAD" }),
    out: Flags.string({ char: "o", description: "where to write it", required: true }),
    force: Flags.boolean({ char: "f", description: "replace the output path if it exists" }),
  };

  async run() {
    const { args, flags } = await this.parse(Get);
    const repo = this.openRepo();
    const rel = resolveTarget(repo, path.resolve(args.path));
    const r = await this.withProgress((onProgress) =>
      getAtRev(repo, rel, flags.rev, path.resolve(flags.out), { onProgress, force: flags.force }),
    );
    this.say(
      `${r.path}@${r.rev} (${r.commit.slice(0, 10)}): ${r.files} file(s), ${formatBytes(r.size)} -> ${r.out}`,
    );
    return r;
  }
}
