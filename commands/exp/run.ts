import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { enqueue } from "../../src/experiments/queue.js";
import { expRun, type TrialResult } from "../../src/experiments/run.js";
import { describeOverrides, expandGrid, parseSet } from "../../src/experiments/set.js";

export default class ExpRun extends MtrackCommand {
  static override summary =
    "Run the pipeline as an experiment, or a sweep of experiments, over params overrides.";
  static override description =
    `Each -S overrides a value of a params file (params.yaml, or file.yaml:key; nested keys with dots). A key no params file has is refused unless written +key=value. A value a,b or range(start, stop[, step]) or choice(a, b) sweeps; several -S make a grid.

One experiment runs \`mtrack repro\` in the workspace and leaves its results there. A sweep never changes the workspace: each trial runs in a temporary git worktree sharing the store, runs and run-cache (a stage already seen is restored, not rerun), -j at a time. Every experiment is a git commit on refs/exps/<2 hex>/<rest of baseline>/<name>; runs its stages log carry the tag mtrack.exp=<name>. See them with \`mtrack exp show\`.

With --queue nothing runs: the trials are recorded (checked as above) to run from the current commit with \`mtrack queue start\`; \`exp show\` lists them as queued.

Exit code: 0 when every trial succeeded, 1 when some failed, 2 on bad arguments.`;
  static override examples = [
    "<%= config.bin %> exp run -S lr=0.2",
    "<%= config.bin %> exp run -S lr=0.1,0.2 -S 'epochs=range(1, 4)' -j 2",
    "<%= config.bin %> exp run -S train.yaml:opt.name=choice(adam, sgd) -n opt",
    "<%= config.bin %> exp run -S +seed=7 train",
    "<%= config.bin %> exp run --queue -S lr=0.1,0.2,0.3 && <%= config.bin %> queue start -j 2",
  ];
  static override strict = false;
  static override args = { targets: Args.string({ description: "stages to reproduce (default: all)" }) };
  static override flags = {
    set: Flags.string({
      char: "S",
      description: "[+][file:]key=value override (a,b / range() / choice() sweep); repeat for a grid",
      multiple: true,
    }),
    name: Flags.string({
      char: "n",
      description: "experiment name (a sweep's trials get <name>-1, -2, ...)",
    }),
    jobs: Flags.integer({ char: "j", description: "sweep trials at the same time", default: 1, min: 1 }),
    message: Flags.string({ char: "m", description: "commit message of the experiment" }),
    queue: Flags.boolean({ description: "only queue the trials; run them with `mtrack queue start`" }),
  };

  async run() {
    const { argv, flags } = await this.parse(ExpRun);
    const repo = this.openRepo();
    const points = expandGrid((flags.set ?? []).map(parseSet));
    if (flags.queue) {
      const queued = enqueue({
        repo,
        points,
        targets: argv as string[],
        name: flags.name,
        message: flags.message,
      });
      for (const e of queued) this.say(`Queued experiment ${e.name} ${describeOverrides(e.overrides)}`);
      this.say(`\n${queued.length} experiment(s) queued. Run them: mtrack queue start`);
      return { queued };
    }
    const sweep = points.length > 1;
    const results: TrialResult[] = await expRun({
      repo,
      points,
      targets: argv as string[],
      name: flags.name,
      jobs: flags.jobs,
      message: flags.message,
      cli: [process.execPath, process.argv[1] as string],
      onStart: (name, o) =>
        this.say(`${sweep ? "Started" : "Running"} experiment ${name} ${describeOverrides(o)}`),
      output: sweep
        ? undefined
        : (_n, chunk) => (this.jsonEnabled() ? process.stderr : process.stdout).write(chunk),
      onDone: (r) =>
        this.say(
          `  ${r.name}  ${describeOverrides(r.overrides)}  ${r.exitCode === 0 ? "success" : `failed (exit ${r.exitCode})`}  ${(r.durationMs / 1000).toFixed(1)} s  ${r.commit.slice(0, 7)}`,
        ),
    });
    this.say(`\n${results.length} experiment(s). Compare: mtrack exp show`);
    if (results.some((r) => r.exitCode !== 0)) process.exitCode = 1;
    return { experiments: results };
  }
}
