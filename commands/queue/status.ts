import { MtrackCommand } from "../../cli/base.js";
import { formatTime, renderTable } from "../../cli/table.js";
import { queueWorker } from "../../src/experiments/queue.js";
import { effectiveState, readQueue } from "../../src/experiments/queue-store.js";
import { describeOverrides } from "../../src/experiments/set.js";

export default class QueueStatus extends MtrackCommand {
  static override summary = "List the queued, running and finished queue trials, and the worker.";
  static override examples = ["<%= config.bin %> queue status"];

  async run() {
    await this.parse(QueueStatus);
    const repo = this.openRepo();
    const worker = queueWorker(repo);
    const entries = readQueue(repo).map((e) => ({ ...e, state: effectiveState(e) }));
    if (entries.length === 0) this.say("The queue is empty.");
    else
      this.say(
        renderTable({
          headers: ["Experiment", "Queued", "State", "Set", "Commit"],
          rows: entries.map((e) => [
            e.name,
            formatTime(e.queuedAt),
            e.state +
              (e.exitCode
                ? ` (exit ${e.exitCode})`
                : e.reason && e.state === "failed"
                  ? ` (${e.reason})`
                  : ""),
            describeOverrides(e.overrides),
            e.commit?.slice(0, 7) ?? "",
          ]),
        }),
      );
    this.say(worker === null ? "No worker is running." : `Worker: process ${worker}.`);
    return { worker, entries };
  }
}
