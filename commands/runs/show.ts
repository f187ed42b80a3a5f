import { Args } from "@oclif/core";
import { MtrackCommand } from "../../cli/base.js";
import { formatBytes } from "../../cli/progress.js";
import { formatCommand, formatDuration, formatNumber, formatTime, renderTable } from "../../cli/table.js";
import { openTracking } from "../../src/tracking/context.js";
import { getRun } from "../../src/tracking/read.js";

export default class RunsShow extends MtrackCommand {
  static override summary =
    "Show one run: params, metrics (last/min/max), tags, dataset inputs, artifacts, git link, command.";
  static override examples = ["<%= config.bin %> runs show 3f2a"];
  static override args = { id: Args.string({ description: "run id or unique prefix", required: true }) };

  async run() {
    const { args } = await this.parse(RunsShow);
    const { dir, store } = openTracking(this.openRepo());
    const r = getRun(dir, store, args.id);
    const git = r.git.commit
      ? `${r.git.commit}${r.git.branch ? ` (${r.git.branch})` : ""}${r.git.dirty ? ", uncommitted changes" : ""}`
      : "none";
    this.say(`Run ${r.runId}  ${r.name}${r.deleted ? "  [deleted]" : ""}`);
    this.say(`  experiment  ${r.experimentName} (${r.experimentId})`);
    this.say(`  status      ${r.status}${r.unfinished ? " (its process died before ending it)" : ""}`);
    this.say(`  start       ${formatTime(r.startTime)} UTC`);
    if (r.endTime !== null) this.say(`  duration    ${formatDuration(r.endTime - r.startTime)}`);
    this.say(`  git         ${git}`);
    this.say(`  command     ${formatCommand(r.command)}`);
    this.say(`  host        ${r.host} (pid ${r.pid}), mtrack ${r.mtrackVersion}`);
    const stage = r.tags["mtrack.stage"];
    if (stage !== undefined)
      this.say(
        `  stage       ${stage}${r.tags["mtrack.repro_id"] ? ` (repro ${r.tags["mtrack.repro_id"]})` : ""}`,
      );
    if (r.error) this.say(`  error       ${r.error.split("\n")[0]}`);
    const section = (title: string, headers: string[], rows: string[][]) => {
      if (rows.length === 0) return;
      this.say(`\n${title}`);
      for (const line of renderTable({ headers, rows }).split("\n")) this.say(`  ${line}`);
    };
    section(
      "Params",
      ["key", "value"],
      Object.entries(r.params)
        .sort()
        .map(([k, v]) => [k, v]),
    );
    section(
      "Metrics",
      ["key", "last", "min", "max", "step", "points"],
      Object.entries(r.metrics)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, m]) => [
          k,
          formatNumber(m.last),
          formatNumber(m.min),
          formatNumber(m.max),
          String(m.step),
          String(m.count),
        ]),
    );
    section(
      "Tags",
      ["key", "value"],
      Object.entries(r.tags)
        .sort()
        .map(([k, v]) => [k, v]),
    );
    section(
      "Inputs",
      ["dataset", "digest", "source", "context"],
      (r.inputs?.datasets ?? []).map((d) => [
        d.dataset.name,
        d.dataset.digest,
        d.dataset.sourceType,
        d.tags["mlflow.data.context"] ?? "",
      ]),
    );
    section(
      "Models",
      ["model id", "role", "step"],
      [
        ...(r.inputs?.models ?? []).map((m) => [m.modelId, "input", ""]),
        ...(r.outputs?.models ?? []).map((m) => [m.modelId, "output", String(m.step)]),
      ],
    );
    section(
      "Artifacts",
      ["name", "kind", "size"],
      [
        ...r.artifacts.map((a) => [a.name, a.kind, formatBytes(a.size)]),
        ...r.models.map((m) => [m.name, `model (${m.flavor})`, formatBytes(m.size)]),
      ],
    );
    return r;
  }
}
