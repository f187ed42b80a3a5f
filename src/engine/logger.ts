/**
 * The training loop's window to run tracking (MLflow-like) and TensorBoard. Training code receives one
 * injected TrainingLogger and calls it at the points EXPERIMENT.md §4 names; the default does nothing.
 */

/** A run's final status, as tracking records it. */
export type RunStatus = "FINISHED" | "FAILED" | "KILLED";

/**
 * Sink for everything a training run reports. The first group mirrors MLflow (params, metrics with a
 * step, tags, text artifacts); `scalar`/`text` go to TensorBoard; `end` closes the run.
 */
export interface TrainingLogger {
  /** The run's parameters (the 18 config keys), once at start. */
  logParams(params: Record<string, string | number | boolean>): void;
  /** One metric value; step = global epoch (final metrics use step 0, MLflow's default). */
  logMetric(key: string, value: number, step: number): void;
  /** A run tag (`phase`, `seeds_activated`). */
  setTag(key: string, value: string): void;
  /** A text artifact; with `append` the text is added to the end of an existing artifact of that name. */
  logText(name: string, text: string, append: boolean): void;
  /** A TensorBoard scalar. */
  scalar(tag: string, value: number, step: number): void;
  /** A TensorBoard text summary. */
  text(tag: string, text: string, step: number): void;
  /** Closes the run. */
  end(status: RunStatus): void;
}

/**
 * A logger that ignores everything; the default when no tracking is wired in.
 *
 * @example
 * await trainExperiment({ config, data, logger: noopLogger() });
 */
export function noopLogger(): TrainingLogger {
  return {
    logParams() {},
    logMetric() {},
    setTag() {},
    logText() {},
    scalar() {},
    text() {},
    end() {},
  };
}

/** One call recorded by {@link recordingLogger}. */
export type LoggerCall =
  | { kind: "logParams"; params: Record<string, string | number | boolean> }
  | { kind: "logMetric"; key: string; value: number; step: number }
  | { kind: "setTag"; key: string; value: string }
  | { kind: "logText"; name: string; text: string; append: boolean }
  | { kind: "scalar"; tag: string; value: number; step: number }
  | { kind: "text"; tag: string; text: string; step: number }
  | { kind: "end"; status: RunStatus };

/**
 * A logger that keeps every call in `calls`, in order — for tests and for replaying into a real sink.
 *
 * @example
 * const log = recordingLogger();
 * await trainExperiment({ config, data, logger: log });
 * log.calls.filter((c) => c.kind === "logMetric" && c.key === "val_acc");
 */
export function recordingLogger(): TrainingLogger & { calls: LoggerCall[] } {
  const calls: LoggerCall[] = [];
  return {
    calls,
    logParams: (params) => calls.push({ kind: "logParams", params: { ...params } }),
    logMetric: (key, value, step) => calls.push({ kind: "logMetric", key, value, step }),
    setTag: (key, value) => calls.push({ kind: "setTag", key, value }),
    logText: (name, text, append) => calls.push({ kind: "logText", name, text, append }),
    scalar: (tag, value, step) => calls.push({ kind: "scalar", tag, value, step }),
    text: (tag, text, step) => calls.push({ kind: "text", tag, text, step }),
    end: (status) => calls.push({ kind: "end", status }),
  };
}
