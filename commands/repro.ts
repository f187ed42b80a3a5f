import { Args, Flags } from "@oclif/core";
import { MtrackCommand } from "../cli/base.js";
import { filesForGit } from "../src/pipeline/git-files.js";
import { loadPipeline, resolvePipelineFile } from "../src/pipeline/load.js";
import type { PlannedStage } from "../src/pipeline/plan.js";
import { reproduce, type StageEvent, type StageResult } from "../src/pipeline/run.js";
import { WorkspaceIO } from "../src/pipeline/workspace-io.js";
import { captureOff, type MlflowCapture, startMlflowCapture } from "../src/server/mlflow/capture.js";
import { mtrackVersion, REPRO_ID_TAG, STAGE_TAG } from "../src/tracking/context.js";
import { shellJoin } from "../src/util/shell.js";

const PIPELINE_FILE = /\.ya?ml$/i;

export default class Repro extends MtrackCommand {
  static override summary = "Run the pipeline stages whose command, dependencies, params or outputs changed.";
  static override description =
    `Reads pipeline.yaml (DVC's dvc.yaml schema), runs stale stages in dependency order and records what they ran with in pipeline.lock. An input state seen before is restored from the run-cache instead of running. Stage output streams live (prefixed with the stage name when -j > 1).

Zero-config MLflow capture: unless MLFLOW_TRACKING_URI is already set (or --no-capture / MTRACK_MLFLOW_CAPTURE=0), a stage command that uses the \`mlflow\` client logs into this repository's runs, linked to the stage and its pipeline.lock entry: mtrack serves its MLflow-compatible API on a loopback port while stages run (see docs/mlflow-api.md).

Exit code: 0 on success, the failing command's exit code when a stage fails, 130 on Ctrl-C (143 on SIGTERM), 2 on other errors.`;
  static override examples = [
    "<%= config.bin %> repro",
    "<%= config.bin %> repro train",
    "<%= config.bin %> repro --dry",
    "<%= config.bin %> repro -j 2 --keep-going",
    "<%= config.bin %> repro models/pipeline.yaml",
  ];
  static override strict = false;
  static override args = {
    targets: Args.string({
      description: "stage names (a foreach/matrix name selects all its stages) or a pipeline file",
    }),
  };
  static override flags = {
    force: Flags.boolean({ char: "f", description: "run the selected stages even if nothing changed" }),
    "single-item": Flags.boolean({
      char: "s",
      description: "only the targets, not the stages they depend on",
    }),
    downstream: Flags.boolean({ description: "the targets and every stage that depends on them" }),
    dry: Flags.boolean({ description: "print what would run and why; run nothing" }),
    "keep-going": Flags.boolean({
      char: "k",
      description: "after a failure, keep running stages that do not depend on it",
    }),
    jobs: Flags.integer({ char: "j", description: "stages to run at the same time", default: 1, min: 1 }),
    "no-run-cache": Flags.boolean({
      description: "neither restore outputs from nor save them to the run-cache",
    }),
    "no-capture": Flags.boolean({
      description: "do not serve the MLflow API to stage commands (zero-config MLflow capture)",
    }),
    pipeline: Flags.string({
      char: "p",
      description: "pipeline file (default: pipeline.yaml at the repository root)",
    }),
  };

  async run() {
    const { argv, flags } = await this.parse(Repro);
    const repo = this.openRepo();
    const cwd = process.cwd();
    let pipelineArg = flags.pipeline;
    const targets: string[] = [];
    for (const t of argv as string[]) {
      if (pipelineArg === undefined && PIPELINE_FILE.test(t)) pipelineArg = t;
      else targets.push(t);
    }
    const loaded = loadPipeline(repo, resolvePipelineFile(repo, cwd, pipelineArg));
    const io = new WorkspaceIO({ repo, ...loaded, runCache: !flags["no-run-cache"] });
    const json = this.jsonEnabled();
    // With --json, stdout carries only the result: the commands' own output goes to stderr.
    const out = (text: string) => (json ? process.stderr : process.stdout).write(text);
    const abort = new AbortController();
    // The abort's reason is the signal, so SIGTERM exits 143 and Ctrl-C 130, as the other commands do.
    const onSignal = (signal: NodeJS.Signals) => abort.abort(signal);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    // Started by the first stage that runs a command, so a no-op repro serves nothing.
    let capture: Promise<MlflowCapture> | undefined;
    const captureOn = !flags["no-capture"] && captureOff(process.env) === undefined;
    try {
      io.checkOutputsNotInGit(loaded.dag.order);
      const result = await reproduce({
        dag: loaded.dag,
        lock: loaded.lock,
        io,
        dir: loaded.dirAbs,
        env: process.env,
        ...(captureOn
          ? {
              stageEnv: async (stage: string, reproId: string) => {
                capture ??= startMlflowCapture(repo, { mtrackVersion: mtrackVersion() });
                return (await capture).env({ [STAGE_TAG]: stage, [REPRO_ID_TAG]: reproId });
              },
            }
          : {}),
        targets,
        force: flags.force,
        singleItem: flags["single-item"],
        downstream: flags.downstream,
        dry: flags.dry,
        keepGoing: flags["keep-going"],
        jobs: flags.jobs,
        noRunCache: flags["no-run-cache"],
        signal: abort.signal,
        output: { stdout: out, stderr: (t) => process.stderr.write(t) },
        onEvent: (e) => this.showEvent(e),
      });
      if (result.plan) {
        this.showPlan(result.plan.stages);
        return { pipeline: loaded.file, dry: true, stages: result.plan.stages };
      }
      const changed = result.stages.some((s) => s.status === "ran" || s.status === "restored");
      // What `git add` should take: only files whose content git's index does not hold yet.
      const gitAdd = changed ? filesForGit(repo, loaded) : [];
      this.showSummary(result.stages, gitAdd);
      return { pipeline: loaded.file, dry: false, stages: result.stages, gitAdd };
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      // Runs a stage's client left open (it crashed or was killed) end FAILED, or KILLED after Ctrl-C
      // (a failing stage makes `reproduce` throw, so the outcome is not known here: the signal is).
      if (capture)
        await (await capture.catch(() => undefined))?.close(abort.signal.aborted ? "KILLED" : "FAILED");
      io.close();
    }
  }

  private showEvent(e: StageEvent): void {
    if (e.type === "start") {
      this.say(`Running stage '${e.stage}': ${e.reasons.join(", ")}`);
      return;
    }
    const r = e.result;
    if (r.status === "skipped") {
      const frozen = r.reasons.some((x) => x.startsWith("frozen"));
      this.say(
        frozen ? `Stage '${r.name}' is frozen, skipping` : `Stage '${r.name}' didn't change, skipping`,
      );
    } else if (r.status === "restored") this.say(`Restored stage '${r.name}' from run-cache`);
    else if (r.status === "failed" && r.errorCode)
      this.say(`Stage '${r.name}' failed: ${r.reasons.join(", ")}`);
  }

  private showPlan(stages: PlannedStage[]): void {
    for (const s of stages) {
      if (s.action === "run") this.say(`Would run stage '${s.name}': ${s.reasons.join(", ")}`);
      else if (s.action === "maybe") this.say(`Stage '${s.name}' may run: ${s.reasons.join(", ")}`);
      else this.say(`Stage '${s.name}' didn't change (${s.reasons.join(", ")})`);
    }
    if (stages.length === 0) this.say("The pipeline has no stages.");
  }

  private showSummary(stages: StageResult[], gitAdd: string[]): void {
    const count = (status: StageResult["status"]) => stages.filter((s) => s.status === status).length;
    const ran = count("ran");
    const restored = count("restored");
    if (ran + restored === 0) {
      this.say(stages.length === 0 ? "The pipeline has no stages." : "Data and pipelines are up to date.");
      return;
    }
    const secs = stages.reduce((t, s) => t + s.durationMs, 0) / 1000;
    this.say(
      `\n${ran} stage(s) ran, ${restored} restored from run-cache, ${count("skipped")} unchanged (${secs.toFixed(1)} s).`,
    );
    if (gitAdd.length > 0)
      this.say(`To track the changes with git, run:\n    ${shellJoin(["git", "add", ...gitAdd])}`);
  }
}
