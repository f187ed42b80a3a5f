import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { formatBytes } from "../cli/progress.js";
import { lsSource, sourceContextAt } from "../src/sources/ops.js";

export default class Ls extends MtrackCommand {
  static override summary = "List the files and tracked data of another repository (a data registry).";
  static override description =
    "Reads the repository's git tree at --rev (a local work tree is read in place; https://, ssh:// and git@host:path are fetched shallowly into .mtrack/sources/). Lists git files and mtrack-tracked paths with size, file count and hash; -R also lists the files inside tracked directories from their manifests (downloaded from the repository's default remote; no data is downloaded).";
  static override examples = [
    "<%= config.bin %> ls ../dataset-registry",
    "<%= config.bin %> ls git@github.com:org/registry.git data --rev v2 -R",
  ];
  static override args = {
    repo: Args.string({
      description: "the repository: a path, file://, https://, ssh:// or git@host:path",
      required: true,
    }),
    path: Args.string({ description: "only this path (a directory or file) of the repository" }),
  };
  static override flags = {
    rev: Flags.string({ char: "r", description: "git revision of that repository (default: its HEAD)" }),
    recursive: Flags.boolean({ char: "R", description: "also list the files inside tracked directories" }),
  };

  async run() {
    const { args, flags } = await this.parse(Ls);
    const { ctx, cleanup } = sourceContextAt(process.cwd(), process.env);
    try {
      const r = await lsSource(
        args.repo,
        { path: args.path, rev: flags.rev, recursive: flags.recursive },
        ctx,
      );
      // One write for the whole listing: `ls -R` of a 100k-file directory is 100k lines, and a log
      // call per line (oclif's formatting, a write each) cost more than everything else together.
      const lines = r.entries.map((e) =>
        e.kind === "git"
          ? e.path
          : e.kind === "entry"
            ? `${e.path}  ${formatBytes(e.size ?? 0)}`
            : `${e.path}  [mtrack ${e.kind}: ${formatBytes(e.size ?? 0)}${e.kind === "directory" ? `, ${e.files} files` : ""}, ${e.hash?.slice(0, 12)}]`,
      );
      if (lines.length > 0) this.say(lines.join("\n"));
      return r;
    } finally {
      cleanup();
    }
  }
}
