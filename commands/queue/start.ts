import { Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { HANDOVER_ENV, runQueue, startQueueWorker } from "../../src/experiments/queue.js";
import { describeOverrides } from "../../src/experiments/set.js";

export default class QueueStart extends MtrackCommand {
  static override summary = "Run the queued experiments (from `exp run --queue`) in a background worker.";
  static override description =
    "Starts one worker for the repository and returns; the worker runs every queued trial, -j at a time, each in a temporary worktree of the commit it was queued from (as a sweep trial: shared store and run-cache, the workspace untouched), and commits it on its experiment ref. Trials queued while it runs are picked up too. With --wait it runs in the foreground until the queue is empty. A second start while a worker runs is refused (ERR_MTRACK_EXP_QUEUE_BUSY). Trials whose worker died (killed, machine restarted) are marked failed. Follow with `mtrack queue status` and `mtrack exp show`.";
  static override examples = ["<%= config.bin %> queue start -j 2", "<%= config.bin %> queue start --wait"];
  static override flags = {
    jobs: Flags.integer({ char: "j", description: "trials at the same time", default: 1, min: 1 }),
    wait: Flags.boolean({ description: "run in the foreground until the queue is empty" }),
  };

  async run() {
    const { flags } = await this.parse(QueueStart);
    const repo = this.openRepo();
    const cli = [process.execPath, process.argv[1] as string];
    if (!flags.wait) {
      const r = startQueueWorker({ repo, jobs: flags.jobs, cli });
      for (const e of r.failed) this.say(`failed: ${e.name} (${e.reason})`);
      this.say(
        r.pid === null
          ? "Nothing is queued."
          : `Started the queue worker (process ${r.pid}) for ${r.queued} trial(s). Follow: mtrack queue status`,
      );
      return r;
    }
    const ran = await runQueue({
      repo,
      jobs: flags.jobs,
      cli,
      handOver: Number(process.env[HANDOVER_ENV]) || undefined,
      onStart: (e) => this.say(`Started experiment ${e.name} ${describeOverrides(e.overrides)}`),
      onDone: (e) =>
        this.say(
          `  ${e.name}  ${e.state}${e.exitCode ? ` (exit ${e.exitCode})` : ""}  ${(((e.endedAt ?? 0) - (e.startedAt ?? 0)) / 1000).toFixed(1)} s  ${e.commit?.slice(0, 7) ?? ""}`,
        ),
    });
    this.say(`\n${ran.length} experiment(s) ran. Compare: mtrack exp show`);
    if (ran.some((e) => e.state !== "success")) process.exitCode = 1;
    return { experiments: ran };
  }
}
