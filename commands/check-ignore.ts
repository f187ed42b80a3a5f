import * as path from "node:path";
import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { MtrackError } from "../src/errors.js";
import { checkIgnorePaths } from "../src/workspace/ignore.js";

export default class CheckIgnore extends MtrackCommand {
  static override summary = "Tell whether paths are ignored by .mtrackignore files, and by which line.";
  static override description =
    "Prints each ignored path (with --details: the ignore file, line and pattern that decided, also for a path a `!` line re-includes). Exit status 0 when at least one path is ignored, 1 when none is, as `git check-ignore` and `dvc check-ignore`.";
  static override examples = [
    "<%= config.bin %> check-ignore data/tmp/x.log",
    "<%= config.bin %> check-ignore -d data/a.csv data/cache/",
  ];
  static override strict = false;
  static override args = { targets: Args.string({ description: "paths to check", required: true }) };
  static override flags = {
    details: Flags.boolean({ char: "d", description: "show the ignore file, line and pattern" }),
    "non-matching": Flags.boolean({
      char: "n",
      description: "with --details, also list paths no rule matched",
      dependsOn: ["details"],
    }),
  };

  async run() {
    const { argv, flags } = await this.parse(CheckIgnore);
    const repo = this.openRepo();
    const rels = (argv as string[]).map((p) => {
      const rel = path.relative(repo.root, path.resolve(p));
      if (rel.startsWith("..") || path.isAbsolute(rel)) {
        throw new MtrackError(
          "ERR_MTRACK_PATH_OUTSIDE_REPO",
          `${p} is outside the repository ${repo.root}.`,
          {
            hint: "Give paths inside the repository.",
            data: { path: p },
          },
        );
      }
      return rel.split(path.sep).join("/");
    });
    const results = checkIgnorePaths(repo, rels);
    for (const r of results) {
      if (flags.details) {
        if (r.source !== undefined) this.say(`${r.source}:${r.line}:${r.pattern}\t${r.path}`);
        else if (flags["non-matching"]) this.say(`::\t${r.path}`);
      } else if (r.ignored) this.say(r.path);
    }
    if (!results.some((r) => r.ignored)) process.exitCode = 1;
    return { paths: results };
  }
}
