import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { describeSync, syncFlags, syncOptions } from "../cli/sync.js";
import { fetchProblems } from "../src/transfer/objects.js";
import { type PullResult, pull } from "../src/transfer/sync.js";

export default class Pull extends MtrackCommand {
  static override summary = "Fetch tracked data from a remote and check it out.";
  static override description =
    "`mtrack fetch` followed by `mtrack checkout`: after a fresh `git clone`, brings the data of HEAD into the workspace, and the cached stage outputs pipeline.lock records (so `mtrack repro` has nothing to run).\n\nWith --runs (or --models alone) the model registry comes too: events this clone lacks are imported once the files of the versions they make live are fetched and verified.";
  static override examples = [
    "git clone <repo> && cd <repo> && <%= config.bin %> pull",
    "<%= config.bin %> pull data/ --runs",
    "<%= config.bin %> pull --models",
  ];
  static override strict = false;
  static override args = { targets: Args.string({ description: "tracked paths (default: all)" }) };
  static override flags = {
    ...syncFlags,
    force: Flags.boolean({ char: "f", description: "discard local modifications that are not stored" }),
  };

  async run(): Promise<PullResult> {
    const { argv, flags } = await this.parse(Pull);
    const repo = this.openRepo();
    const result = await this.withProgress((onProgress) =>
      pull(repo, { ...syncOptions(flags, argv), force: flags.force, onProgress }),
    );
    for (const line of describeSync("Fetched", result)) this.say(line);
    for (const r of result.checkout.paths) {
      if (r.action === "failed") {
        this.logToStderr(`Error [${r.error?.code}]: ${r.error?.message}`);
        if (r.error?.hint) this.logToStderr(`Hint: ${r.error.hint}`);
      } else if (r.action !== "unchanged")
        this.say(`${r.action}: ${r.path} (${r.written} written, ${r.deleted} deleted)`);
    }
    // Registry objects count too: a version whose files could not be fetched is not imported.
    const problem =
      fetchProblems(result.objects) ?? (result.registry && fetchProblems(result.registry.objects));
    if (problem) throw problem;
    if (!result.checkout.ok) process.exitCode = 2;
    return result;
  }
}
