import { Args } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { expPull } from "../../src/experiments/remote.js";
import { describeSync } from "../push.js";
import { expTransferFlags } from "./push.js";

export default class ExpPull extends MtrackCommand {
  static override summary =
    "Bring experiments from a git remote (their refs) and their data from the mtrack remote.";
  static override description =
    "Finds the experiments on the git remote by name (one `git ls-remote`), fetches their git objects, then their data from the mtrack remote (-r, default core.remote; skipped when the repository has none) into the store, with sealed runs and run-cache entries unless --no-runs / --no-run-cache, and only then writes their refs under refs/exps/. Missing or corrupt data writes no ref. `mtrack exp apply <exp>` then brings one into the workspace.";
  static override examples = [
    "<%= config.bin %> exp pull origin swift-otter",
    "<%= config.bin %> exp pull origin -A",
  ];
  static override strict = false;
  static override args = {
    "git-remote": Args.string({ required: true, description: "git remote name, URL or path" }),
    exp: Args.string({ description: "experiment names" }),
  };
  static override flags = expTransferFlags;

  async run() {
    const { args, argv, flags } = await this.parse(ExpPull);
    const repo = this.openRepo();
    const result = await this.withProgress((onProgress) =>
      expPull({
        repo,
        gitRemote: args["git-remote"],
        names: (argv as string[]).slice(1),
        all: flags["all-commits"],
        force: flags.force,
        data: flags.data,
        sync: {
          remote: flags.remote,
          runs: flags.runs,
          runCache: flags["run-cache"],
          jobs: flags.jobs,
          onProgress,
          env: process.env,
        },
      }),
    );
    if (result.data) for (const line of describeSync("Fetched", result.data)) this.say(line);
    else if (flags.data) this.say("No mtrack remote is configured: only the git refs were fetched.");
    this.say(
      `Pulled ${result.experiments.length} experiment(s) from ${result.gitRemote}: ${result.experiments.map((e) => e.name).join(", ")}`,
    );
    return result;
  }
}
