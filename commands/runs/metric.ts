import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { formatTime, renderTable, type Table, toCsv } from "../../cli/table.js";
import { openTracking } from "../../src/tracking/context.js";
import { getMetricHistory, resolveRunId } from "../../src/tracking/read.js";

export default class RunsMetric extends MtrackCommand {
  static override summary = "Print a metric's full history (step, value, timestamp).";
  static override examples = [
    "<%= config.bin %> runs metric 3f2a loss",
    "<%= config.bin %> runs metric 3f2a loss --csv > loss.csv",
  ];
  static override args = {
    id: Args.string({ description: "run id or unique prefix", required: true }),
    key: Args.string({ description: "metric name", required: true }),
  };
  static override flags = { csv: Flags.boolean({ description: "print CSV (timestamps in Unix ms)" }) };

  async run() {
    const { args, flags } = await this.parse(RunsMetric);
    const { dir, store } = openTracking(this.openRepo());
    const runId = resolveRunId(dir, args.id);
    const h = getMetricHistory(dir, store, runId, args.key);
    const points = Array.from(h.steps, (step, i) => ({
      step,
      value: h.values[i]!,
      timestamp: h.timestamps[i]!,
    }));
    if (flags.csv) {
      const table: Table = {
        headers: ["step", "value", "timestamp"],
        rows: points.map((p) => [String(p.step), String(p.value), String(p.timestamp)]),
      };
      if (!this.jsonEnabled()) process.stdout.write(toCsv(table));
    } else {
      this.say(
        renderTable({
          headers: ["step", "value", "time (UTC)"],
          rows: points.map((p) => [String(p.step), String(p.value), formatTime(p.timestamp)]),
        }),
      );
    }
    return { runId, key: args.key, points };
  }
}
