import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { expPush } from "../../src/experiments/remote.js";
import { describeSync } from "../push.js";

/** Flags of exp push and exp pull. */
export const expTransferFlags = {
  "all-commits": Flags.boolean({ char: "A", description: "every experiment" }),
  remote: Flags.string({ char: "r", description: "mtrack remote for the data (default: core.remote)" }),
  data: Flags.boolean({
    allowNo: true,
    default: true,
    description: "also the data (objects) the experiments name; --no-data moves only the git refs",
  }),
  runs: Flags.boolean({ allowNo: true, default: true, description: "also sealed runs (with the data)" }),
  "run-cache": Flags.boolean({
    allowNo: true,
    default: true,
    description: "also run-cache entries (with the data)",
  }),
  force: Flags.boolean({
    char: "f",
    description: "overwrite an experiment ref of the same name on another commit",
  }),
  jobs: Flags.integer({ char: "j", min: 1, max: 256, description: "parallel transfers (default 8)" }),
};

export default class ExpPush extends MtrackCommand {
  static override summary =
    "Send experiments to a git remote (their refs) and their data to the mtrack remote.";
  static override description =
    "First the data: the objects the experiments' pointer files and pipeline.lock name, and (unless --no-runs / --no-run-cache) the sealed runs logged in those experiments (tag mtrack.exp) and the run-cache entries, go to the mtrack remote (-r, default core.remote; skipped when the repository has none). Then `git push <git-remote> refs/exps/...` sends each experiment's ref, so a ref on the git remote never names data the mtrack remote lacks. Another clone gets them with `mtrack exp pull`.";
  static override examples = [
    "<%= config.bin %> exp push origin swift-otter",
    "<%= config.bin %> exp push origin -A -r storage",
    "<%= config.bin %> exp push origin swift-otter --no-data",
  ];
  static override strict = false;
  static override args = {
    "git-remote": Args.string({ required: true, description: "git remote name, URL or path" }),
    exp: Args.string({ description: "experiment names" }),
  };
  static override flags = expTransferFlags;

  async run() {
    const { args, argv, flags } = await this.parse(ExpPush);
    const repo = this.openRepo();
    const result = await this.withProgress((onProgress) =>
      expPush({
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
    if (result.data) for (const line of describeSync("Pushed", result.data)) this.say(line);
    else if (flags.data) this.say("No mtrack remote is configured: only the git refs were pushed.");
    this.say(
      `Pushed ${result.experiments.length} experiment(s) to ${result.gitRemote}: ${result.experiments.map((e) => e.name).join(", ")}`,
    );
    return result;
  }
}
