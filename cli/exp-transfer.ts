/**
 * What `exp push` and `exp pull` share: their flags and arguments, and one run that parses them, moves
 * the experiments one way or the other and reports it. Only the direction differs.
 */
import { Args, Flags } from "@oclif/core";
import {
  type ExpTransferOptions,
  type ExpTransferResult,
  expPull,
  expPush,
} from "../src/experiments/remote.js";
import { MtrackCommand } from "./base.js";
import { describeSync } from "./sync.js";

const DIRECTIONS = {
  push: { move: expPush, did: "Pushed", preposition: "to" },
  pull: { move: expPull, did: "Fetched", preposition: "from" },
} as const;

/**
 * The base of `exp push` / `exp pull`: subclasses set `direction` and their texts, and repeat
 * `strict`, `args` and `flags` as their own (oclif's parse reads a command's own statics).
 */
export abstract class ExpTransferCommand extends MtrackCommand {
  static override strict = false;
  static override args = {
    "git-remote": Args.string({ required: true, description: "git remote name, URL or path" }),
    exp: Args.string({ description: "experiment names" }),
  };
  static override flags = {
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

  protected abstract readonly direction: keyof typeof DIRECTIONS;

  async run(): Promise<ExpTransferResult> {
    const { args, argv, flags } = await this.parse();
    const { move, did, preposition } = DIRECTIONS[this.direction];
    const repo = this.openRepo();
    const result = await this.withProgress((onProgress) => {
      const options: ExpTransferOptions = {
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
      };
      return move(options);
    });
    if (result.data) for (const line of describeSync(did, result.data)) this.say(line);
    else if (flags.data)
      this.say(
        `No mtrack remote is configured: only the git refs were ${this.direction === "push" ? "pushed" : "fetched"}.`,
      );
    this.say(
      `${this.direction === "push" ? "Pushed" : "Pulled"} ${result.experiments.length} experiment(s) ${preposition} ${result.gitRemote}: ${result.experiments.map((e) => e.name).join(", ")}`,
    );
    return result;
  }
}
