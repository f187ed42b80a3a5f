/**
 * The real sinks behind {@link TrainingLogger}: an mtrack run (the MLflow side of EXPERIMENT.md §4) and a
 * TensorBoard event file under `runs/<slug>/`. Training calls are synchronous and buffered; the artifacts
 * (results log, event file, model) exist only after training, so the run is closed by the async
 * {@link MtrackLogger.finish}, not by `end`.
 */
import fs from "node:fs";
import path from "node:path";
import { MtrackError } from "../errors.js";
import { EventFileWriter, type EventFileWriterOptions } from "../formats/tfevents.js";
import type { RunStatus, TrainingLogger } from "./logger.js";

/**
 * The slice of a tracking run (src/tracking/api.ts `Run`) the logger uses; a fake of it is enough in tests.
 */
export interface TrackingRun {
  readonly id: string;
  logParams(params: Record<string, unknown>): void;
  logMetric(key: string, value: number, options?: { step?: number }): void;
  setTag(key: string, value: unknown): void;
  logText(text: string, name: string, options?: { append?: boolean }): void;
  logArtifact(file: string, options?: { as?: string }): Promise<unknown>;
  logArtifacts(dir: string, options?: { as?: string }): Promise<unknown>;
  logModel(
    dir: string,
    options: { name?: string; flavor: string; signature?: unknown; metadata?: Record<string, unknown> },
  ): Promise<unknown>;
  end(status: RunStatus): Promise<unknown>;
}

/** The artifact name the TensorBoard files get in the run (MLflow's `artifact_path="tensorboard"`). */
export const TENSORBOARD_ARTIFACT = "tensorboard";
/** The model's name in the run, and the flavor that says how to load it (`loadModel` from mtrack). */
export const MODEL_NAME = "model";
export const MODEL_FLAVOR = "mtrack-morphogenetic";

/** What {@link MtrackLogger.finish} stores with the run; each part is skipped when absent. */
export interface FinishArtifacts {
  /** `results/results_<slug>.log`. */
  resultsLog?: string;
  /** The saved model directory (`results/model`). */
  modelDir?: string;
  /** Stored with the model (input_dim, classes, params). */
  modelMetadata?: Record<string, unknown>;
}

/** Options of {@link MtrackLogger}. */
export interface MtrackLoggerOptions {
  /**
   * The run to log to. Without one only TensorBoard is written: the event files are a stage output, so
   * they must exist whether or not the run is tracked.
   */
  run?: TrackingRun;
  /** Where this run's event file goes: `runs/<slug>`. */
  tensorboardDir: string;
  /** Passed to EventFileWriter.open (clock, fs, hostname in tests). */
  eventFile?: EventFileWriterOptions;
}

/**
 * A TrainingLogger that writes to an mtrack run and a TensorBoard event file.
 *
 * @example
 * const run = await startRun({ repo, experiment: config.problem_type, name: slug });
 * const logger = new MtrackLogger({ run, tensorboardDir: `runs/${slug}` });
 * try {
 *   await trainExperiment({ config, data, logger }); // ends with logger.end("FINISHED" | "FAILED" | "KILLED")
 *   // ... write results/results_<slug>.log and results/model/ ...
 * } finally {
 *   await logger.finish({ resultsLog: `results/results_${slug}.log`, modelDir: "results/model" });
 * }
 */
export class MtrackLogger implements TrainingLogger {
  readonly run: TrackingRun | undefined;
  readonly tensorboardDir: string;
  private readonly tb: EventFileWriter;
  /** Set by `end`; `finish` ends the run with it (FAILED if training never reported an end). */
  private status: RunStatus | undefined;
  private finished: Promise<RunStatus> | undefined;

  constructor(options: MtrackLoggerOptions) {
    this.run = options.run;
    this.tensorboardDir = options.tensorboardDir;
    this.tb = EventFileWriter.open(options.tensorboardDir, options.eventFile);
  }

  /** The event file being written. */
  get eventFile(): string {
    return this.tb.path;
  }

  logParams(params: Record<string, string | number | boolean>): void {
    this.run?.logParams(params);
  }

  logMetric(key: string, value: number, step: number): void {
    this.run?.logMetric(key, value, { step });
  }

  setTag(key: string, value: string): void {
    this.run?.setTag(key, value);
  }

  logText(name: string, text: string, append: boolean): void {
    this.run?.logText(text, name, { append });
  }

  scalar(tag: string, value: number, step: number): void {
    this.tb.addScalar(tag, value, step);
  }

  text(tag: string, text: string, step: number): void {
    this.tb.addText(tag, text, step);
  }

  /** Records how training ended and closes the event file; the run stays open for {@link finish}. */
  end(status: RunStatus): void {
    this.status ??= status;
    this.tb.close();
  }

  /**
   * Stores the artifacts and ends the run: with `outcome` when given (the caller failed after training,
   * e.g. writing results), else with the status training reported (FAILED when it reported none). For a
   * run that did not finish, artifacts are stored best effort: whatever exists helps to see what went
   * wrong, and a failure to store it must not hide the original error. For a finished run a failed upload
   * ends the run FAILED and is thrown. Calling it again returns the first outcome.
   */
  finish(artifacts: FinishArtifacts = {}, outcome?: RunStatus): Promise<RunStatus> {
    this.finished ??= this.finishOnce(artifacts, outcome ?? this.status ?? "FAILED");
    return this.finished;
  }

  private async finishOnce(artifacts: FinishArtifacts, status: RunStatus): Promise<RunStatus> {
    this.tb.close();
    const run = this.run;
    if (run === undefined) return status;
    try {
      await this.storeArtifacts(run, artifacts, status);
    } catch (err) {
      if (status === "FINISHED") {
        await run.end("FAILED");
        throw err;
      }
    }
    await run.end(status);
    return status;
  }

  private async storeArtifacts(
    run: TrackingRun,
    artifacts: FinishArtifacts,
    status: RunStatus,
  ): Promise<void> {
    const exists = (p: string | undefined): p is string => p !== undefined && fs.existsSync(p);
    if (exists(artifacts.resultsLog)) await run.logArtifact(artifacts.resultsLog);
    // Only this run's file: earlier runs with the same slug leave theirs in the same folder.
    await run.logArtifact(this.tb.path, {
      as: `${TENSORBOARD_ARTIFACT}/${path.basename(this.tb.path)}`,
    });
    if (exists(artifacts.modelDir)) {
      await run.logModel(artifacts.modelDir, {
        name: MODEL_NAME,
        flavor: MODEL_FLAVOR,
        metadata: artifacts.modelMetadata ?? {},
      });
    } else if (artifacts.modelDir !== undefined && status === "FINISHED") {
      throw new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", `model directory ${artifacts.modelDir} is missing`, {
        data: { path: artifacts.modelDir },
        hint: "The train stage writes the model before logging it; check that results/ is writable.",
      });
    }
  }
}
