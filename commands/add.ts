import * as path from "node:path";
import { Args } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { formatBytes } from "../cli/progress.js";
import { shellJoin } from "../src/util/shell.js";
import { addPaths } from "../src/workspace/add.js";

export default class Add extends MtrackCommand {
  static override summary =
    "Track files or directories: store their content and write <path>.mtrack pointers.";
  static override description =
    "Stores the content in .mtrack/cache (BLAKE3-addressed, small files packed), writes <path>.mtrack (commit it to git) and adds <path> to the .gitignore beside it. Adding unchanged data again does no work.";
  static override examples = [
    "<%= config.bin %> add data/",
    "<%= config.bin %> add data/train.csv models/model.bin",
  ];
  static override strict = false;
  static override args = {
    paths: Args.string({ description: "files or directories to track", required: true }),
  };

  async run() {
    const { argv } = await this.parse(Add);
    const repo = this.openRepo();
    const results = await this.withProgress((onProgress) =>
      addPaths(
        repo,
        (argv as string[]).map((p) => path.resolve(p)),
        { onProgress },
      ),
    );
    for (const r of results) {
      const what = r.type === "directory" ? `${r.files} files, ${formatBytes(r.size)}` : formatBytes(r.size);
      this.say(
        `${r.changed ? (r.created ? "added" : "updated") : "unchanged"}: ${r.path} (${what}) -> ${r.pointer}`,
      );
    }
    if (results.some((r) => r.changed)) {
      this.say(
        `\nTo track the changes with git, run:\n    ${shellJoin(["git", "add", ...results.map((r) => r.pointer), ".gitignore"])}`,
      );
    }
    return { paths: results };
  }
}
