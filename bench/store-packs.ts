/**
 * Store benchmark: many small packs. Seals N tracked runs (10 metrics x 100 steps each, through the library
 * startRun/end in a temp directory; every seal is one Store flush, so one pack) into one store, twice:
 * with automatic pack consolidation off (packLimit Infinity: one pack per run, the behaviour before
 * consolidation) and on (the default limit). Reports the time per 100 runs at the start and at the end,
 * (and the median of the last ten hundreds, and the slowest hundred: a big merge lands in one of them),
 * the final pack count, the bytes consolidation rewrote, and the time of getRun + getMetricHistory on a
 * random run, with a fresh Store (which reads every pack index) and warm, and the time of has() for an
 * absent object (it probes every pack's index).
 *
 * Run: node --import tsx bench/store-packs.ts [RUNS]   (default 2000)
 */

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Store } from "../src/store/store.js";
import { startRun } from "../src/tracking/api.js";
import { getMetricHistory, getRun } from "../src/tracking/read.js";

const RUNS = Number(process.argv[2] ?? 2000);
const KEYS = 10;
const STEPS = 100;
const WINDOW = 100;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Outcome {
  firstMs: number;
  lastMs: number;
  lastMedianMs: number;
  maxMs: number;
  packs: number;
  rewrittenMb: number;
  storeMb: number;
  coldMs: number;
  warmMs: number;
  missUs: number;
  totalS: number;
}

async function measure(packLimit: number | undefined): Promise<Outcome> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-bench-packs-"));
  try {
    const dir = path.join(tmp, "runs");
    const opts = { dir: path.join(tmp, "cache"), tmpDir: path.join(tmp, "tmp"), packLimit };
    let rewritten = 0;
    const store = new Store({ ...opts, onConsolidate: (e) => (rewritten += e.bytes) });
    store.init();
    const gitInfo = async () => ({ commit: "0".repeat(40), branch: "main", dirty: false });
    const keys = Array.from({ length: KEYS }, (_, k) => `metric_${k}`);
    const ids: string[] = [];
    const windows: number[] = [];
    const t0 = process.hrtime.bigint();
    let tw = process.hrtime.bigint();
    for (let r = 0; r < RUNS; r++) {
      const run = await startRun({ dir, store, gitInfo, installProcessHooks: false, params: { r } });
      for (let step = 0; step < STEPS; step++) {
        for (let k = 0; k < KEYS; k++) run.logMetric(keys[k]!, Math.sin(r + step * 0.01 + k), { step });
      }
      ids.push((await run.end()).runId);
      if ((r + 1) % WINDOW === 0) {
        windows.push(ms(tw));
        tw = process.hrtime.bigint();
      }
    }
    const totalS = ms(t0) / 1000;
    const packDir = path.join(tmp, "cache", "packs");
    const packNames = fs.readdirSync(packDir);
    const packs = packNames.filter((n) => n.endsWith(".idx")).length;
    let packBytes = 0;
    for (const n of packNames) if (n.endsWith(".pack")) packBytes += fs.statSync(path.join(packDir, n)).size;
    const read = (s: Store) => {
      const id = ids[Math.floor(Math.random() * ids.length)]!;
      const t = process.hrtime.bigint();
      getRun(dir, s, id);
      getMetricHistory(dir, s, id, keys[3]!);
      return ms(t);
    };
    const cold: number[] = [];
    for (let i = 0; i < 5; i++) cold.push(read(new Store(opts)));
    const warmStore = new Store(opts);
    read(warmStore);
    const warm: number[] = [];
    for (let i = 0; i < 20; i++) warm.push(read(warmStore));
    // A lookup of an absent object probes every pack's index: what each new small file of an add pays.
    const tl = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) warmStore.has(i.toString(16).padStart(64, "f"));
    const missUs = (ms(tl) * 1000) / 1000;
    return {
      firstMs: windows[0] ?? 0,
      lastMs: windows[windows.length - 1] ?? 0,
      lastMedianMs: median(windows.slice(-10)),
      maxMs: Math.max(...windows),
      packs,
      rewrittenMb: rewritten / 1024 / 1024,
      storeMb: packBytes / 1024 / 1024,
      coldMs: median(cold),
      warmMs: median(warm),
      missUs,
      totalS,
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const before = await measure(Number.POSITIVE_INFINITY);
const after = await measure(undefined);
const line = (name: string, o: Outcome) =>
  `| ${name} | ${o.firstMs.toFixed(0)} ms | ${o.lastMs.toFixed(0)} ms | ${o.lastMedianMs.toFixed(0)} ms | ${o.maxMs.toFixed(0)} ms | ${o.totalS.toFixed(1)} s | ${o.packs} | ${o.rewrittenMb.toFixed(1)} MB of ${o.storeMb.toFixed(1)} MB | ${o.coldMs.toFixed(1)} ms | ${o.warmMs.toFixed(2)} ms | ${o.missUs.toFixed(1)} µs |`;
console.log(`${RUNS} runs x ${KEYS} metrics x ${STEPS} steps, sealed with startRun/end into one store`);
console.log(
  "| consolidation | first 100 runs | last 100 runs | median of last 10 x 100 | slowest 100 | total | packs at end | rewritten of packed | getRun+history, fresh Store | same, warm | lookup of an absent object |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
console.log(line("off (packLimit Infinity)", before));
console.log(line("on (default limit 32)", after));
