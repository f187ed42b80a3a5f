import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { describeSync, syncFlags, syncOptions } from "../cli/sync.js";
import { pushProblems } from "../src/transfer/objects.js";
import { push, type SyncResult } from "../src/transfer/sync.js";

export default class Push extends MtrackCommand {
  static override summary =
    "Upload tracked data (and optionally runs, the model registry and run-cache) to a remote.";
  static override description =
    "Sends only the objects the remote lacks: one batched existence check, small objects packed together, large ones streamed in parallel. Rerunning an interrupted push sends only what is left. Every object is hashed as it is sent: a local object that no longer matches its hash is refused (exit 2, `mtrack fsck` lists the damage).\n\nWith --repair, the remote's copies of the objects pushed are checked too (hashed where they lie for a directory or `mtrack server`, downloaded for S3) and damaged ones replaced with this clone's good copies.\n\nWith --runs (or --models alone) the model registry goes too: the files of every live model version and logged model first, then the registry's events. Deleted versions' files are not sent.";
  static override examples = [
    "<%= config.bin %> push",
    "<%= config.bin %> push data/ -r backup",
    "<%= config.bin %> push --all-branches --runs --run-cache -j 16",
    "<%= config.bin %> push --repair",
    "<%= config.bin %> push --models",
  ];
  static override strict = false;
  static override args = { targets: Args.string({ description: "tracked paths (default: all)" }) };
  static override flags = {
    ...syncFlags,
    repair: Flags.boolean({
      description:
        "also check the remote's copies of the objects pushed and replace damaged ones (from a clone with good copies)",
    }),
  };

  async run(): Promise<SyncResult> {
    const { argv, flags } = await this.parse(Push);
    const repo = this.openRepo();
    const result = await this.withProgress((onProgress) =>
      push(repo, { ...syncOptions(flags, argv), repair: flags.repair, onProgress }),
    );
    for (const line of describeSync("Pushed", result)) this.say(line);
    const problem = pushProblems(result.objects);
    for (const refs of [result.runs, result.registry, result.runCache]) {
      if (!problem && refs) {
        const more = pushProblems(refs.objects);
        if (more) throw more;
      }
    }
    if (problem) throw problem;
    return result;
  }
}
