import * as path from "node:path";
import { Args } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { removePaths } from "../src/workspace/remove.js";
import { selectTracked } from "../src/workspace/tracked.js";

export default class Remove extends MtrackCommand {
  static override summary = "Stop tracking paths (the data stays in the workspace).";
  static override description =
    "Deletes the pointer files and the .gitignore entries. The data itself and its stored objects are kept (`mtrack gc` frees objects nothing refers to).";
  static override examples = ["<%= config.bin %> remove data/", "<%= config.bin %> remove model.bin.mtrack"];
  static override strict = false;
  static override args = {
    targets: Args.string({ description: "tracked paths or pointer files", required: true }),
  };

  async run() {
    const { argv } = await this.parse(Remove);
    const repo = this.openRepo();
    const rels = selectTracked(
      repo,
      (argv as string[]).map((p) => path.resolve(p)),
    );
    const results = await removePaths(repo, rels);
    for (const r of results) this.say(`no longer tracked: ${r.path} (deleted ${r.pointer})`);
    return { paths: results };
  }
}
