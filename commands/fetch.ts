import { Args } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { describeSync, syncFlags, syncOptions } from "../cli/sync.js";
import { fetchProblems } from "../src/transfer/objects.js";
import { fetch, type SyncResult } from "../src/transfer/sync.js";

export default class Fetch extends MtrackCommand {
  static override summary = "Download tracked data from a remote into the local store (no checkout).";
  static override description =
    "Downloads only what the local store lacks. Every object is checked against its hash before it is stored: a corrupt remote object is named and never stored. Rerunning an interrupted fetch downloads only what is left.\n\nWith --runs (or --models alone) the model registry comes too: events this clone lacks are imported once the files of the versions they make live are fetched and verified.";
  static override examples = [
    "<%= config.bin %> fetch",
    "<%= config.bin %> fetch --runs -r origin",
    "<%= config.bin %> fetch --models",
  ];
  static override strict = false;
  static override args = { targets: Args.string({ description: "tracked paths (default: all)" }) };
  static override flags = syncFlags;

  async run(): Promise<SyncResult> {
    const { argv, flags } = await this.parse(Fetch);
    const repo = this.openRepo();
    const result = await this.withProgress((onProgress) =>
      fetch(repo, { ...syncOptions(flags, argv), onProgress }),
    );
    for (const line of describeSync("Fetched", result)) this.say(line);
    // Registry objects count too: a version whose files could not be fetched is not imported.
    const problem =
      fetchProblems(result.objects) ?? (result.registry && fetchProblems(result.registry.objects));
    if (problem) throw problem;
    return result;
  }
}
