/**
 * What a finished run leaves in `results/`: the metrics JSON the pipeline declares under `metrics:` and
 * the human-readable results log. Pure formatting; the stage program writes the files.
 */
import { EXPERIMENT_KEYS } from "./config.js";
import type { TrainResult } from "./train.js";

/**
 * `results/metrics.json`: best_acc, seeds_activated (boolean), total_seeds, active_seeds, and — only when
 * a germination produced them — accuracy_dip and recovery_time (absent rather than null).
 *
 * @example
 * fs.writeFileSync("results/metrics.json", JSON.stringify(metricsJson(result), null, 2));
 */
export function metricsJson(result: TrainResult): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = { best_acc: result.bestAcc };
  if (result.accuracyDip !== null) out["accuracy_dip"] = result.accuracyDip;
  if (result.recoveryTime !== null) out["recovery_time"] = result.recoveryTime;
  out["seeds_activated"] = result.seedsActivated;
  out["total_seeds"] = result.totalSeeds;
  out["active_seeds"] = result.activeSeeds;
  return out;
}

function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/**
 * The results log `results/results_<slug>.log`, as the original's two writers left it: a `#` header with
 * the configuration, then in order the ExperimentLogger's JSON event lines (sorted keys) and the
 * `epoch,seed,state,alpha` rows, then a `#` footer.
 *
 * @example
 * fs.writeFileSync(`results/results_${result.slug}.log`, formatResultsLog(result, { dataPath: "data/spirals.npz" }));
 */
export function formatResultsLog(result: TrainResult, options: { dataPath?: string } = {}): string {
  const lines = [
    "# Morphogenetic Architecture Experiment Log",
    `# Started: ${new Date(result.startedAt).toISOString()}`,
    "# Configuration:",
    ...EXPERIMENT_KEYS.map((k) => `# ${k}: ${result.config[k]}`),
  ];
  if (options.dataPath) lines.push(`# data: ${options.dataPath}`);
  lines.push(`# backend: ${result.backend}`, "# " + "=".repeat(50), "epoch,seed,state,alpha");
  for (const entry of result.log) {
    if (entry.kind === "seed_row")
      lines.push(`${entry.epoch},${entry.seed},${entry.state},${entry.alpha.toFixed(3)}`);
    else {
      lines.push(
        sortedJson({
          data: entry.data,
          epoch: entry.epoch,
          event_type: entry.eventType,
          message: entry.message,
          timestamp: new Date(entry.timestamp).toISOString(),
        }),
      );
    }
  }
  lines.push(
    "# " + "=".repeat(50),
    "# Experiment completed",
    `# Final best accuracy: ${result.bestAcc.toFixed(4)}`,
    `# Seeds activated: ${result.activeSeeds}/${result.totalSeeds}`,
    "# ===== LOG COMPLETE =====",
  );
  return `${lines.join("\n")}\n`;
}
