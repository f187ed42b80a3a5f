/**
 * Tracking side by side (issue 4): runs bench/tracking-log.ts (mtrack) and bench/tracking-mlflow.py
 * (MLflow's file and SQLite stores) one after the other, then prints a markdown table of both with the
 * ratios mtrack / MLflow (below 1 means mtrack is faster or smaller).
 *
 * Run: node --import tsx bench/tracking-compare.ts [--mlflow-json FILE] [--stores file,sqlite] [--budget S]
 * --mlflow-json reuses the numbers of an earlier `tracking-mlflow.py --json FILE` run instead of running
 * MLflow again (it takes about ten minutes here).
 */

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const python = path.join(benchDir, ".venv", "bin", "python");

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface MtrackNumbers {
  node: string;
  logPoints: number;
  logTotalMs: number;
  rssGrowthBytes: number;
  historyPoints: number;
  historyMs: number;
  runs: number;
  searchMatched: number;
  searchMs: number;
  searchFirstMs: number;
}

interface MlflowStore {
  store: string;
  log_points: number;
  log_total_ms: number;
  log_complete: boolean;
  log_total_ms_extrapolated?: number;
  rss_growth_bytes: number;
  history_points: number;
  history_ms: number;
  runs_created: number;
  search_matched: number;
  search_ms: number;
  search_first_ms: number;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-compare-"));
try {
  const mtrackJson = path.join(tmp, "mtrack.json");
  const m = spawnSync(
    process.execPath,
    ["--import", "tsx", path.join(benchDir, "tracking-log.ts"), "--json", mtrackJson],
    { stdio: "inherit" },
  );
  if (m.status !== 0) throw new Error(`tracking-log.ts exited with ${m.status}`);
  const mt = JSON.parse(fs.readFileSync(mtrackJson, "utf8")) as MtrackNumbers;

  let mlflowJson = option("--mlflow-json");
  if (!mlflowJson && fs.existsSync(python)) {
    mlflowJson = path.join(tmp, "mlflow.json");
    const args = [path.join(benchDir, "tracking-mlflow.py"), "--json", mlflowJson];
    for (const o of ["--stores", "--budget"]) {
      const v = option(o);
      if (v) args.push(o, v);
    }
    const r = spawnSync(python, args, { stdio: "inherit" });
    if (r.status !== 0) mlflowJson = undefined;
  }
  const ml =
    mlflowJson && fs.existsSync(mlflowJson)
      ? (JSON.parse(fs.readFileSync(mlflowJson, "utf8")) as { mlflow: string; results: MlflowStore[] })
      : undefined;

  const fmt = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(x < 10 ? 1 : 0)} ms`);
  const mb = (x: number) => `${(x / 1024 / 1024).toFixed(1)} MB`;
  const ratio = (a: number, b: number) =>
    a / b < 0.01 ? (a / b).toPrecision(1) : a / b >= 10 ? (a / b).toFixed(0) : (a / b).toFixed(2);
  const stores = ml?.results ?? [];
  const header = ["workload", `mtrack (node ${mt.node})`];
  for (const s of stores) header.push(`MLflow ${ml?.mlflow} ${s.store} store`, `mtrack / ${s.store}`);
  if (!ml) header.push("MLflow", "ratio");

  const lines: string[][] = [];
  const add = (
    what: string,
    mine: number,
    show: (x: number) => string,
    theirs: (s: MlflowStore) => number,
    note?: (s: MlflowStore) => string,
  ) => {
    const cells = [what, show(mine)];
    for (const s of stores) cells.push(`${show(theirs(s))}${note?.(s) ?? ""}`, ratio(mine, theirs(s)));
    if (!ml) cells.push("not installed", "");
    lines.push(cells);
  };
  const logged = (s: MlflowStore) => s.log_total_ms_extrapolated ?? s.log_total_ms;
  add(`log ${mt.logPoints} points + end/seal`, mt.logTotalMs, fmt, logged, (s) =>
    s.log_complete ? "" : ` (extrapolated from ${s.log_points} points)`,
  );
  add("RSS growth while logging", mt.rssGrowthBytes, mb, (s) => s.rss_growth_bytes);
  add(
    `one ${mt.historyPoints}-point metric history`,
    mt.historyMs,
    fmt,
    (s) => s.history_ms,
    (s) => (s.history_points === mt.historyPoints ? "" : ` (${s.history_points} points)`),
  );
  add(
    `filter + order ${mt.runs - 1} runs + the logging run (${mt.searchMatched} match), median`,
    mt.searchMs,
    fmt,
    (s) => s.search_ms,
    (s) =>
      // mtrack also lists the run that logged the 1M points, hence RUNS + 1.
      s.runs_created + 1 === mt.runs && s.search_matched === mt.searchMatched
        ? ""
        : ` (${s.runs_created} runs, ${s.search_matched} match)`,
  );
  add("filter + order, first call", mt.searchFirstMs, fmt, (s) => s.search_first_ms);

  const table = [header, header.map(() => "---"), ...lines].map((r) => `| ${r.join(" | ")} |`);
  process.stdout.write(
    `\n${table.join("\n")}\n\n(load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")} on ${os.cpus().length} CPUs)\n`,
  );
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
