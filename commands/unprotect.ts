import * as path from "node:path";
import { Args } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { unprotectPaths } from "../src/workspace/remove.js";
import { selectTracked } from "../src/workspace/tracked.js";

export default class Unprotect extends MtrackCommand {
  static override summary = "Make tracked files editable when cache.type is hardlink or symlink.";
  static override description =
    "Replaces the read-only links into the store with ordinary writable copies, so editing them cannot corrupt the store. Run `mtrack commit` afterwards to record your edits.";
  static override examples = ["<%= config.bin %> unprotect data/labels.csv"];
  static override strict = false;
  static override args = { targets: Args.string({ description: "tracked paths", required: true }) };

  async run() {
    const { argv } = await this.parse(Unprotect);
    const repo = this.openRepo();
    const rels = selectTracked(
      repo,
      (argv as string[]).map((p) => path.resolve(p)),
    );
    const results = await unprotectPaths(repo, rels);
    for (const r of results) this.say(`${r.path}: ${r.unprotected} file(s) made editable`);
    return { paths: results };
  }
}
