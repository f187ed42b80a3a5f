/**
 * Tracking benchmark: logging 1,000,000 metric points (10 keys x 100k steps) from one process, sealing
 * them, reading one 100k-point history, and listing + filtering 10,000 runs.
 *
 * Targets (issue 4): logging <= 1.5 s and <= 100 MB RSS growth; list+filter 10k runs <= 0.3 s;
 * one 100k-point history <= 0.1 s.
 *
 * Run: node --import tsx bench/tracking-log.ts [--json FILE]
 * --json also writes the measured numbers to FILE (read by bench/tracking-compare.ts).
 */

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Store } from "../src/store/store.js";
import { startRun } from "../src/tracking/api.js";
import { refPath } from "../src/tracking/layout.js";
import { getMetricHistory, listRuns } from "../src/tracking/read.js";
import { appendIndex, compactIndex, type IndexEntry } from "../src/tracking/seal.js";
import { searchRuns } from "../src/tracking/search.js";
import type { RunSummary } from "../src/tracking/types.js";

const KEYS = 10;
const STEPS = 100_000;
const RUNS = 10_000;
const FILTER = "metrics.val_acc > 0.9 and params.lr = '0.001'";

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const rows: [string, string, string, string][] = [];
const jsonIndex = process.argv.indexOf("--json");
const jsonFile = jsonIndex >= 0 ? process.argv[jsonIndex + 1] : undefined;
const numbers: Record<string, number> = {};
function row(what: string, value: string, target: string, ok: boolean | undefined) {
  rows.push([what, value, target, ok === undefined ? "" : ok ? "ok" : "MISSED"]);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-bench-"));
try {
  const dir = path.join(tmp, "runs");
  const store = new Store({ dir: path.join(tmp, "cache"), tmpDir: path.join(tmp, "tmp") });
  fs.mkdirSync(path.join(tmp, "tmp"), { recursive: true });
  const gitInfo = async () => ({ commit: "0".repeat(40), branch: "main", dirty: false });

  // 1. Logging.
  const keys = Array.from({ length: KEYS }, (_, k) => `metric_${k}`);
  const run = await startRun({ dir, store, gitInfo, installProcessHooks: false, name: "bench" });
  globalThis.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  for (let step = 0; step < STEPS; step++) {
    for (let k = 0; k < KEYS; k++) run.logMetric(keys[k]!, step * 0.001 + k, { step });
  }
  const logMs = ms(t0);
  const rssLogged = process.memoryUsage().rss;
  const t1 = process.hrtime.bigint();
  await run.end();
  const sealMs = ms(t1);
  const rssSealed = process.memoryUsage().rss;
  const growth = Math.max(rssLogged, rssSealed) - rss0;
  Object.assign(numbers, {
    logPoints: KEYS * STEPS,
    logMs,
    sealMs,
    logTotalMs: logMs + sealMs,
    rssGrowthBytes: growth,
  });
  row(`log ${KEYS * STEPS} points (logMetric)`, `${logMs.toFixed(0)} ms`, "<= 1500 ms", logMs <= 1500);
  row("end(): flush + seal into store", `${sealMs.toFixed(0)} ms`, "", undefined);
  row("log + seal total", `${(logMs + sealMs).toFixed(0)} ms`, "<= 1500 ms", logMs + sealMs <= 1500);
  row("RSS growth (log + seal)", `${mb(growth)} MB`, "<= 100 MB", growth <= 100 * 1024 * 1024);

  // 2. One history.
  const historyTimes: number[] = [];
  let points = 0;
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    points = getMetricHistory(dir, store, run.id, keys[0]!).steps.length;
    historyTimes.push(ms(t));
  }
  const hMs = median(historyTimes);
  Object.assign(numbers, { historyPoints: points, historyMs: hMs });
  row(`metric history (${points} points), median of 5`, `${hMs.toFixed(1)} ms`, "<= 100 ms", hMs <= 100);

  // 3. 10k runs: index entries and refs written directly (sealing 10k real runs would time the store).
  const entries: IndexEntry[] = [];
  for (let i = 0; i < RUNS; i++) {
    const runId = i.toString(16).padStart(32, "0");
    const s: RunSummary = {
      runId,
      experimentId: String(i % 5),
      experimentName: `exp-${i % 5}`,
      name: `run-${i}`,
      status: i % 10 === 0 ? "FAILED" : "FINISHED",
      startTime: 1_764_000_000_000 + i * 1000,
      endTime: 1_764_000_000_000 + i * 1000 + 500,
      params: {
        lr: ["0.001", "0.01", "0.1"][i % 3]!,
        epochs: String(i % 20),
        batch: "64",
        opt: "adam",
        seed: String(i),
      },
      tags: { phase: `phase_${i % 3}`, owner: "bench", note: "synthetic" },
      metrics: Object.fromEntries(
        ["val_acc", "val_loss", "acc", "loss", "lr"].map((k, j) => [
          k,
          {
            last: ((i * 7919 + j) % 1000) / 1000,
            min: 0,
            max: 1,
            step: 99,
            timestamp: 1_764_000_000_000 + i,
          },
        ]),
      ),
      commit: "0".repeat(40),
      dirty: false,
      branch: "main",
      deleted: false,
    };
    entries.push({ h: "f".repeat(64), s });
    fs.writeFileSync(refPath(dir, runId), `${"f".repeat(64)}\n`);
  }
  appendIndex(dir, entries);
  // Steady state: the first listing after many seals folds the index log into the snapshot.
  const tc = process.hrtime.bigint();
  compactIndex(dir);
  row(`fold ${RUNS} index entries into the snapshot (once)`, `${ms(tc).toFixed(0)} ms`, "", undefined);
  const listTimes: number[] = [];
  const filterTimes: number[] = [];
  let listed = 0;
  let matched = 0;
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    const runs = listRuns(dir, store);
    listTimes.push(ms(t));
    matched = searchRuns(runs, { filter: FILTER, orderBy: "metrics.val_acc DESC" }).length;
    filterTimes.push(ms(t));
    listed = runs.length;
  }
  const lMs = median(listTimes);
  const fMs = median(filterTimes);
  Object.assign(numbers, {
    runs: listed,
    listMs: lMs,
    searchMatched: matched,
    searchMs: fMs,
    searchFirstMs: filterTimes[0]!,
  });
  row(`list ${listed} runs, median of 5`, `${lMs.toFixed(0)} ms`, "", undefined);
  row(
    `list + filter + sort (${matched} match), median of 5`,
    `${fMs.toFixed(0)} ms`,
    "<= 300 ms",
    fMs <= 300,
  );
  row(
    "list + filter + sort, first call in the process",
    `${filterTimes[0]!.toFixed(0)} ms`,
    "<= 300 ms",
    filterTimes[0]! <= 300,
  );
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

const widths = [0, 1, 2, 3].map((c) =>
  Math.max(...rows.map((r) => r[c]!.length), ["what", "result", "target", ""][c]!.length),
);
const line = (r: string[]) => r.map((x, i) => x.padEnd(widths[i]!)).join(" | ");
const out = [
  line(["what", "result", "target", ""]),
  widths.map((w) => "-".repeat(w)).join("-|-"),
  ...rows.map(line),
];
process.stdout.write(
  `${out.join("\n")}\n(load average ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")} on ${os.cpus().length} CPUs)\n`,
);
if (jsonFile)
  fs.writeFileSync(jsonFile, `${JSON.stringify({ node: process.version, ...numbers }, null, 2)}\n`);
