import * as path from "node:path";
import { Args } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { shellJoin } from "../src/util/shell.js";
import { commitPaths } from "../src/workspace/add.js";
import { selectTracked } from "../src/workspace/tracked.js";

export default class Commit extends MtrackCommand {
  static override summary = "Record the current content of modified tracked paths (updates their pointers).";
  static override description =
    "Stores what changed and rewrites the pointer files; then commit the pointers with git. Without targets, every tracked path in the work tree.";
  static override examples = ["<%= config.bin %> commit", "<%= config.bin %> commit data/"];
  static override strict = false;
  static override args = { targets: Args.string({ description: "tracked paths (default: all)" }) };

  async run() {
    const { argv } = await this.parse(Commit);
    const repo = this.openRepo();
    const rels = selectTracked(
      repo,
      (argv as string[]).map((p) => path.resolve(p)),
    );
    const results = await this.withProgress((onProgress) => commitPaths(repo, rels, { onProgress }));
    const changed = results.filter((r) => r.changed);
    for (const r of changed) this.say(`committed: ${r.path} -> ${r.pointer}`);
    if (changed.length === 0) this.say("Nothing to commit: every tracked path matches its pointer.");
    else
      this.say(
        `\nNow commit the pointers with git:\n    ${shellJoin(["git", "add", ...changed.map((r) => r.pointer)])}`,
      );
    return { paths: results };
  }
}
