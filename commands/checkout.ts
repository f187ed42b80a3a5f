import * as path from "node:path";
import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { selectCheckout } from "../src/pipeline/outputs.js";
import { checkoutPaths } from "../src/workspace/checkout.js";

export default class Checkout extends MtrackCommand {
  static override summary = "Make the workspace match the pointer files and pipeline.lock.";
  static override description =
    "After `git checkout <rev>`, brings the data of that revision back from the store: the paths of the pointer files, and the cached stage outputs recorded in pipeline.lock (so `mtrack repro` finds them up to date). Untracked files are never touched. Refuses to overwrite or delete modified data whose content is not stored, unless --force. A pointer file that cannot be parsed is reported (exit 1) and the other paths are still checked out.";
  static override examples = [
    "git checkout v1 && <%= config.bin %> checkout",
    "<%= config.bin %> checkout data/",
    "<%= config.bin %> checkout --force data/",
  ];
  static override strict = false;
  static override args = { targets: Args.string({ description: "tracked paths (default: all)" }) };
  static override flags = {
    force: Flags.boolean({ char: "f", description: "discard local modifications that are not stored" }),
  };

  async run() {
    const { argv, flags } = await this.parse(Checkout);
    const repo = this.openRepo();
    const selection = selectCheckout(
      repo,
      (argv as string[]).map((p) => path.resolve(p)),
    );
    const result = await this.withProgress((onProgress) =>
      checkoutPaths(repo, selection.paths, { force: flags.force, onProgress, outputs: selection.outputs }),
    );
    for (const r of result.paths) {
      if (r.action === "failed") {
        this.logToStderr(`Error [${r.error?.code}]: ${r.error?.message}`);
        if (r.error?.hint) this.logToStderr(`Hint: ${r.error.hint}`);
      } else if (r.action !== "unchanged") {
        this.say(`${r.action}: ${r.path} (${r.written} written, ${r.deleted} deleted)`);
      }
    }
    if (result.paths.every((r) => r.action === "unchanged"))
      this.say("Workspace already matches the pointers.");
    // Only unreadable pointers failed: the rest was checked out, so this is a partial result (1), not an error (2).
    const failed = result.paths.filter((r) => r.action === "failed");
    if (failed.length > 0)
      process.exitCode = failed.every((r) => r.error?.code === "ERR_MTRACK_POINTER_INVALID") ? 1 : 2;
    return result;
  }
}
