import * as fs from "node:fs";
import * as path from "node:path";
import { Flags } from "@oclif/core";
import { parse as parseYaml } from "yaml";
import {
  parseSetFlag,
  parseSort,
  planSweep,
  runSweep,
  SWEEP_TAG,
  sortOutcomes,
  stageTrialRunner,
  sweepId,
  TRIAL_TAG,
  type TrialOutcome,
} from "../../../src/engine/sweep.js";
import { errnoCode, ioError, MtrackError } from "../../../src/errors.js";
import { openTracking } from "../../../src/tracking/context.js";
import { findRunsByTag } from "../../../src/tracking/read.js";
import { MtrackCommand } from "../../base.js";
import { renderTable } from "../../table.js";

/** A table cell; metrics get 4 decimals, params are shown as given. */
function cell(value: unknown, metric = false): string {
  if (metric && typeof value === "number" && !Number.isInteger(value)) return value.toFixed(4);
  if (Array.isArray(value)) return value.join(" ");
  return value === undefined ? "" : String(value);
}

export default class ExpRun extends MtrackCommand {
  static override summary = "Run a grid of the train stage over params overrides, each as a tracked run.";
  static override description =
    `Every combination of the --set values runs the repository's generate_data and train stage programs on params.yaml with those overrides, outside the pipeline: nothing is committed and pipeline.lock is not touched. Trials write under results/sweeps/<sweep id>/<trial>/ and their runs share the tag sweep=<sweep id>. Build first (npm run build).

Exit code: 0 when every trial succeeded, 1 when some failed, 2 on bad arguments.`;
  static override examples = [
    "<%= config.bin %> exp run --set lr=0.001,0.003 --set hidden_dim=64,128",
    "<%= config.bin %> exp run --set lr=0.001,0.003 --set hidden_dim=64,128 -j 2 --sort metrics.best_acc",
    "<%= config.bin %> exp run --set problem_type=moons,spirals --set 'data.sphere_radii=1 2;1 3'",
  ];
  static override flags = {
    set: Flags.string({
      char: "S",
      description:
        "params key and the values to try: key=v1,v2 (repeat for more axes; data.<flag> for dataset flags)",
      multiple: true,
      required: true,
    }),
    jobs: Flags.integer({ char: "j", description: "trials at the same time", default: 1, min: 1 }),
    sort: Flags.string({
      description: "order of the summary: metrics.<key> or params.<key>, optionally asc|desc",
      default: "metrics.best_acc",
    }),
  };

  async run() {
    const { flags } = await this.parse(ExpRun);
    const repo = this.openRepo();
    const sort = parseSort(flags.sort);
    const trials = planSweep(flags.set.map(parseSetFlag));
    const paramsFile = path.join(repo.root, "params.yaml");
    let baseParams: Record<string, unknown>;
    try {
      baseParams = (parseYaml(fs.readFileSync(paramsFile, "utf8")) ?? {}) as Record<string, unknown>;
    } catch (err) {
      if (errnoCode(err) === "ENOENT") {
        throw new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", `${paramsFile} does not exist.`, {
          data: { path: paramsFile },
          hint: "A sweep overrides the values of params.yaml at the repository root; create it first.",
        });
      }
      throw ioError(err, `reading ${paramsFile}`);
    }
    const id = sweepId(Date.now());
    const sweepDir = path.join(repo.root, "results", "sweeps", id);
    const { dir, store } = openTracking(repo);
    const findRun = (sweep: string, trial: string) =>
      findRunsByTag(dir, store, SWEEP_TAG, sweep).find((r) => r.tags[TRIAL_TAG] === trial)?.runId;
    const abort = new AbortController();
    const onSignal = () => abort.abort();
    process.on("SIGINT", onSignal);
    let outcomes: TrialOutcome[];
    try {
      this.say(
        `Sweep ${id}: ${trials.length} trial(s), ${flags.jobs} at a time, in ${path.relative(process.cwd(), sweepDir) || "."}`,
      );
      outcomes = await runSweep({
        trials,
        jobs: flags.jobs,
        signal: abort.signal,
        runTrial: stageTrialRunner({ root: repo.root, baseParams, sweepId: id, sweepDir, findRun }),
        onDone: (o) => {
          const what = Object.entries(o.trial.overrides)
            .map(([k, v]) => `${k}=${cell(v)}`)
            .join(" ");
          const result =
            o.exitCode === 0
              ? `best_acc ${cell(o.metrics?.["best_acc"], true)}`
              : `failed (exit ${o.exitCode})`;
          this.say(`  ${o.trial.name}  ${what}  ${result}${o.runId ? `  run ${o.runId.slice(0, 8)}` : ""}`);
        },
      });
    } finally {
      process.off("SIGINT", onSignal);
    }
    const keys = Object.keys(trials[0]?.overrides ?? {});
    const sorted = sortOutcomes(outcomes, sort);
    const metricKeys = ["best_acc", "seeds_activated", "active_seeds", "accuracy_dip", "recovery_time"];
    this.say();
    this.say(
      renderTable({
        headers: ["trial", ...keys, ...metricKeys, "exit", "run"],
        rows: sorted.map((o) => [
          o.trial.name,
          ...keys.map((k) => cell(o.trial.overrides[k])),
          ...metricKeys.map((k) => cell(o.metrics?.[k], true)),
          String(o.exitCode),
          o.runId?.slice(0, 8) ?? "",
        ]),
      }),
    );
    this.say();
    this.say(
      `Compare: mtrack runs list --filter "tags.${SWEEP_TAG} = '${id}'" --sort ${sort.source}.${sort.key}`,
    );
    const failed = outcomes.filter((o) => o.exitCode !== 0).length;
    if (failed > 0 || abort.signal.aborted) process.exitCode = abort.signal.aborted ? 130 : 1;
    return { sweepId: id, dir: sweepDir, sort: flags.sort, trials: sorted };
  }
}
