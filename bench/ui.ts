/**
 * Web UI benchmark (issue 7): a store with 10,000 runs × 10 metrics × 1,000 steps (logged through the
 * library, timed) plus 10 runs × 100k points, served by the built `mtrack ui`, measured in headless
 * Chromium: first paint of the runs table (navigation start → rows visible), filter round trip (Enter in
 * the filter box → table updated), compare-chart render for the 10 × 100k runs (click Compare → charts
 * drawn), and a scroll jump to row 5,000. Medians of --repeat runs (fresh browser context each time for
 * first paint). Targets: ≤ 1 s, ≤ 0.2 s, ≤ 1 s. MLflow's side is bench/ui-mlflow.ts.
 *
 * Run (after `npm run build`): node --import tsx bench/ui.ts [--runs 10000] [--steps 1000] [--metrics 10]
 *   [--big-runs 10] [--big-steps 100000] [--repeat 5] [--store DIR] [--fresh] [--json FILE]
 * The full size needs about 3.5 GB of disk (≈ 0.35 MB per 10 × 1,000-point run). Without --store the
 * repository is seeded in a temp dir and removed at the end; with --store DIR it is kept there and reused
 * by the next run with the same sizes (--fresh seeds again).
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { Repo } from "../src/repo.js";
import { startRun } from "../src/tracking/api.js";
import { openTracking } from "../src/tracking/context.js";
import { launchBrowser, startUi } from "../test/helpers/browser.js";
import { cliEntry } from "../test/helpers/cli.js";

// Page-side callbacks run in Chromium; this file is type-checked without the DOM library.
// biome-ignore lint/suspicious/noExplicitAny: page globals, typed loosely on purpose
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: page globals, typed loosely on purpose
declare const requestAnimationFrame: any;
// biome-ignore lint/suspicious/noExplicitAny: page globals, typed loosely on purpose
declare const KeyboardEvent: any;

/**
 * tsx compiles this file with esbuild's keepNames, which wraps inner functions in `__name(...)`; the
 * callbacks below are serialised into the page, where that helper does not exist.
 */
const NAME_SHIM = "globalThis.__name = (f) => f;";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const num = (name: string, fallback: number) => Number(option(name, String(fallback)));

const sizes = {
  runs: num("--runs", 10_000),
  steps: num("--steps", 1000),
  metrics: num("--metrics", 10),
  bigRuns: num("--big-runs", 10),
  bigSteps: num("--big-steps", 100_000),
};
const repeat = num("--repeat", 5);
const keepStore = process.argv.includes("--store");
const storeDir = keepStore
  ? path.resolve(option("--store", ""))
  : fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-bench-ui-"));
const jsonFile = process.argv.includes("--json") ? option("--json", "") : undefined;
const withMlflow = process.argv.includes("--mlflow");
const mlflowBin = path.resolve(
  option("--mlflow-bin", path.join(import.meta.dirname, ".venv", "bin", "mlflow")),
);

const METRICS = ["loss", "acc", "val_loss", "val_acc", "lr", "grad_norm", "f1", "precision", "recall", "auc"];
const LRS = ["0.0001", "0.0003", "0.001", "0.003", "0.01"];
/** Filters of the round-trip measurement (valid in both grammars, MLflow's and mtrack's). */
const FILTERS = LRS.map((lr) => `params.lr = '${lr}' and metrics.loss >= 0`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Seeds the repository through the library; returns the seconds it took (0 when reused). */
async function seed(): Promise<{ seconds: number; points: number }> {
  const marker = path.join(storeDir, "seeded.json");
  const points = sizes.runs * sizes.metrics * sizes.steps + sizes.bigRuns * sizes.bigSteps;
  if (!process.argv.includes("--fresh") && fs.existsSync(marker)) {
    const was = JSON.parse(fs.readFileSync(marker, "utf8"));
    if (JSON.stringify(was.sizes) === JSON.stringify(sizes)) return { seconds: was.seconds, points };
  }
  fs.rmSync(storeDir, { recursive: true, force: true });
  fs.mkdirSync(storeDir, { recursive: true });
  execFileSync("git", ["init", "-q", "-b", "main"], { cwd: storeDir });
  execFileSync(process.execPath, [cliEntry(), "init"], { cwd: storeDir, stdio: "ignore" });
  const { dir, store } = openTracking(Repo.open({ cwd: storeDir }));
  // A fixed commit: asking git 10,000 times would time git, not tracking.
  const gitInfo = async () => ({
    commit: "0123456789abcdef0123456789abcdef01234567",
    branch: "main",
    dirty: false,
  });
  const t0 = performance.now();
  let now = Date.UTC(2026, 10, 1);
  const clock = () => now;
  const keys = METRICS.slice(0, sizes.metrics);
  for (let i = 0; i < sizes.runs; i++) {
    const lr = LRS[i % LRS.length]!;
    const run = await startRun({
      dir,
      store,
      gitInfo,
      clock,
      installProcessHooks: false,
      flushIntervalMs: 1e9,
      experiment: `sweep-${i % 4}`,
      name: `run-${i}`,
      params: { lr, batch_size: String(32 << (i % 3)), seed: String(i), optimizer: i % 2 ? "adam" : "sgd" },
      tags: { phase: `phase_${i % 3}` },
    });
    const rate = Number(lr) * 300 + (i % 7) * 0.01;
    for (let s = 0; s < sizes.steps; s++) {
      const p = 1 - Math.exp(-rate * s * 0.05);
      for (let k = 0; k < keys.length; k++) {
        run.logMetric(keys[k]!, k % 2 ? p * (0.9 + k * 0.01) : (1 - p) * (1 + k * 0.1), { step: s });
      }
      now += 10;
    }
    await run.end();
    if ((i + 1) % 1000 === 0) process.stderr.write(`seeded ${i + 1}/${sizes.runs} runs\n`);
  }
  for (let i = 0; i < sizes.bigRuns; i++) {
    const run = await startRun({
      dir,
      store,
      gitInfo,
      clock,
      installProcessHooks: false,
      flushIntervalMs: 1e9,
      experiment: "big",
      name: `big-${i}`,
      params: { lr: LRS[i % LRS.length]! },
    });
    for (let s = 0; s < sizes.bigSteps; s++) {
      run.logMetric("loss", Math.exp(-s / (20_000 + i * 3000)) + 0.05 * Math.sin(s / 500 + i), { step: s });
      now += 1;
    }
    await run.end();
  }
  const seconds = (performance.now() - t0) / 1000;
  fs.writeFileSync(marker, JSON.stringify({ sizes, seconds }));
  return { seconds, points };
}

/** Navigation start → the runs table shows rows (a fresh context: nothing cached). */
async function firstPaint(page: Page, url: string): Promise<number> {
  await page.goto(url);
  const h = await page.waitForFunction(
    () =>
      document.querySelector(".scroller:not([data-loading]) .rows .row[data-run-id]") !== null &&
      performance.now(),
    undefined,
    { polling: "raf", timeout: 30_000 },
  );
  return (await h.jsonValue()) as number;
}

/** In the page: press Enter in the filter box with `expr`, wait for the new rows; ms. */
function filterRoundTrip(page: Page, expr: string): Promise<number> {
  return page.evaluate(
    (e) =>
      new Promise<number>((resolve, reject) => {
        const input = document.querySelector("input.filter");
        const scroller = document.querySelector(".scroller");
        input.value = e;
        const t0 = performance.now();
        input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
        const tick = () => {
          if (performance.now() - t0 > 30_000)
            return reject(new Error(`filter ${e} not applied within 30 s`));
          if (!scroller.dataset.loading && scroller.dataset.filter === e) {
            resolve(performance.now() - t0);
            return;
          }
          requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      }),
    expr,
  );
}

/** In the page: tick every row's checkbox, click Compare, wait until the charts are drawn; ms. */
function compareRender(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        for (const c of document.querySelectorAll(".rows .row[data-run-id] input[type=checkbox]")) {
          c.checked = true;
          c.dispatchEvent(new Event("change"));
        }
        const t0 = performance.now();
        document.querySelector("button.compare").click();
        const tick = () => {
          if (performance.now() - t0 > 30_000)
            return reject(new Error("compare charts not drawn within 30 s"));
          const view = document.querySelector(".compare-view");
          if (view && Number(view.dataset.drawn) > 0 && view.querySelector(".metric-charts canvas")) {
            // The frame after: the canvas has been painted.
            requestAnimationFrame(() => resolve(performance.now() - t0));
            return;
          }
          requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      }),
  );
}

/** In the page: jump the table to `row`, wait until that row is rendered with data; ms. */
function scrollJump(page: Page, row: number): Promise<number> {
  return page.evaluate(
    (r) =>
      new Promise<number>((resolve, reject) => {
        const scroller = document.querySelector(".scroller");
        const t0 = performance.now();
        scroller.scrollTop = r * 28;
        const tick = () => {
          if (performance.now() - t0 > 30_000) return reject(new Error(`row ${r} not rendered within 30 s`));
          if (document.querySelector(`.rows .row[data-run-id][data-index="${r}"]`)) {
            resolve(performance.now() - t0);
            return;
          }
          requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      }),
    row,
  );
}

async function timeApi(url: string, times: number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    const r = await fetch(url);
    await r.arrayBuffer();
    xs.push(performance.now() - t0);
  }
  return median(xs);
}

/** Fresh context → the compare view of `runIds` by its link; navigation start → charts drawn. */
async function compareLink(browser: Browser, url: string, runIds: string[]): Promise<number> {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await ctx.addInitScript({ content: NAME_SHIM });
  const page = await ctx.newPage();
  await page.goto(`${url}#/compare?runs=${runIds.join(",")}`);
  const h = await page.waitForFunction(
    () => {
      const view = document.querySelector(".compare-view");
      return (
        view &&
        Number(view.dataset.drawn) > 0 &&
        view.querySelector(".metric-charts canvas") &&
        performance.now()
      );
    },
    undefined,
    { polling: "raf", timeout: 60_000 },
  );
  const ms = (await h.jsonValue()) as number;
  await ctx.close();
  return ms;
}

type Results = Record<string, number>;

async function measureMtrack(browser: Browser, url: string): Promise<Results> {
  const results: Results = {};
  const experiments = (await (await fetch(`${url}api/v1/experiments`)).json()) as {
    experiments: { id: string; name: string }[];
  };
  const bigId = experiments.experiments.find((e) => e.name === "big")?.id ?? "";
  const bigRuns = (await (await fetch(`${url}api/v1/runs?experiment=${bigId}&limit=50`)).json()) as {
    runs: { runId: string }[];
  };
  const bigIds = bigRuns.runs.map((r) => r.runId);
  const cols = "params.lr,params.batch_size,metrics.val_acc,metrics.loss:min";

  // Warm the server once (its first listing reads the run index from disk), as a user's second visit would.
  await timeApi(`${url}api/v1/runs?limit=200`, 1);
  const paint: number[] = [];
  const paintDefault: number[] = [];
  const links: number[] = [];
  for (let i = 0; i < repeat; i++) {
    for (const [hash, into] of [
      [`#/runs?cols=${cols}`, paint],
      ["", paintDefault],
    ] as const) {
      const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      await ctx.addInitScript({ content: NAME_SHIM });
      const page = await ctx.newPage();
      into.push(await firstPaint(page, url + hash));
      await ctx.close();
    }
    links.push(await compareLink(browser, url, bigIds));
  }
  results.firstPaintMs = median(paint);
  results.firstPaintDefaultColumnsMs = median(paintDefault);
  results.compareLinkMs = median(links);

  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await ctx.addInitScript({ content: NAME_SHIM });
  const page = await ctx.newPage();
  await firstPaint(page, `${url}#/runs?cols=${cols}`);
  const filters: number[] = [];
  for (let i = 0; i < repeat; i++) {
    await filterRoundTrip(page, "");
    filters.push(await filterRoundTrip(page, FILTERS[i % FILTERS.length]!));
  }
  results.filterMs = median(filters);
  await filterRoundTrip(page, "");
  const jumps: number[] = [];
  const total = sizes.runs + sizes.bigRuns;
  for (let i = 0; i < repeat; i++)
    jumps.push(await scrollJump(page, Math.floor(total * (0.3 + 0.1 * (i % 5)))));
  results.scrollJumpMs = median(jumps);

  const compares: number[] = [];
  for (let i = 0; i < repeat; i++) {
    await page.goto(`${url}#/runs?experiment=${bigId}&cols=params.lr`);
    await page.waitForFunction(
      () => document.querySelectorAll(".scroller:not([data-loading]) .rows .row[data-run-id]").length > 0,
      undefined,
      { polling: "raf" },
    );
    compares.push(await compareRender(page));
  }
  results.compareMs = median(compares);
  await ctx.close();

  results.apiRunsMs = await timeApi(
    `${url}api/v1/runs?limit=200&columns=${cols.replace(":min", "")}`,
    repeat,
  );
  results.apiFilterMs = await timeApi(
    `${url}api/v1/runs?limit=200&filter=${encodeURIComponent(FILTERS[0]!)}`,
    repeat,
  );
  results.apiSeriesMs = await timeApi(
    `${url}api/v1/series?runs=${bigIds.join(",")}&keys=loss&points=1000`,
    repeat,
  );
  return results;
}

// ---- MLflow: the same data in a SQLite tracking store, served by `mlflow ui` ----

const MLFLOW_SEED = `
import math, sys, time
from mlflow.tracking import MlflowClient
from mlflow.entities import Metric, Param, RunTag
uri, runs, steps, nmet, big_runs, big_steps = sys.argv[1], *map(int, sys.argv[2:7])
c = MlflowClient(tracking_uri=uri)
names = ${JSON.stringify(METRICS)}[:nmet]
lrs = ${JSON.stringify(LRS)}
now = 1793500000000
c.search_experiments()  # creates the database first: not part of the logging time
t0 = time.time()
exps = [c.create_experiment(f"sweep-{k}") for k in range(4)]
def flush(rid, batch):
    for i in range(0, len(batch), 1000):
        c.log_batch(rid, metrics=batch[i:i + 1000])
for i in range(runs):
    lr = lrs[i % len(lrs)]
    r = c.create_run(exps[i % 4], run_name=f"run-{i}", start_time=now)
    rid = r.info.run_id
    c.log_batch(rid, params=[Param("lr", lr), Param("batch_size", str(32 << (i % 3))), Param("seed", str(i)),
        Param("optimizer", "adam" if i % 2 else "sgd")], tags=[RunTag("phase", f"phase_{i % 3}")])
    rate = float(lr) * 300 + (i % 7) * 0.01
    batch = []
    for s in range(steps):
        p = 1 - math.exp(-rate * s * 0.05)
        for k, n in enumerate(names):
            batch.append(Metric(n, p * (0.9 + k * 0.01) if k % 2 else (1 - p) * (1 + k * 0.1), now, s))
        now += 10
    flush(rid, batch)
    c.set_terminated(rid, end_time=now)
big = c.create_experiment("big")
for i in range(big_runs):
    r = c.create_run(big, run_name=f"big-{i}", start_time=now)
    rid = r.info.run_id
    c.log_batch(rid, params=[Param("lr", lrs[i % len(lrs)])])
    batch = []
    for s in range(big_steps):
        batch.append(Metric("loss", math.exp(-s / (20000 + i * 3000)) + 0.05 * math.sin(s / 500 + i), now, s))
        now += 1
    flush(rid, batch)
    c.set_terminated(rid, end_time=now)
print(f"{time.time() - t0:.3f}")
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** `mlflow ui` on the seeded store; resolves once it answers. Stop it with `process.kill(-child.pid)`. */
async function startMlflowUi(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    mlflowBin,
    [
      "ui",
      "--backend-store-uri",
      `sqlite:///${path.join(dir, "mlflow.db")}`,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
    ],
    { cwd: dir, detached: true, stdio: "ignore" },
  );
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return { url, child };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("mlflow ui did not answer within 300 s");
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function mlflowSearch(
  url: string,
  body: Record<string, unknown>,
): Promise<{ runs?: { info: { run_id: string } }[] }> {
  const r = await fetch(`${url}ajax-api/2.0/mlflow/runs/search`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return (await r.json()) as { runs?: { info: { run_id: string } }[] };
}

/** The runs table of MLflow's experiment page: navigation start → run rows visible. */
async function mlflowFirstPaint(page: Page, url: string): Promise<number> {
  await page.goto(url);
  const h = await page.waitForFunction(
    () => {
      const a = document.querySelector(".ag-row a");
      return a && /^(run|big)-/.test(a.textContent ?? "") && performance.now();
    },
    undefined,
    { polling: "raf", timeout: 120_000 },
  );
  return (await h.jsonValue()) as number;
}

/** In MLflow's page: `expr` typed into the search box, Enter → the "N matching runs" line changes; ms. */
async function mlflowFilter(page: Page, expr: string): Promise<number> {
  const input = 'input[placeholder*="metrics."]';
  await page.fill(input, expr);
  return page.evaluate(
    (sel) =>
      new Promise<number>((resolve, reject) => {
        const matching = () => /(\d+) matching runs?/.exec(document.body.textContent ?? "")?.[0] ?? "";
        const before = matching();
        const el = document.querySelector(sel);
        const t0 = performance.now();
        el.dispatchEvent(
          new KeyboardEvent("keydown", { key: "Enter", code: "Enter", keyCode: 13, bubbles: true }),
        );
        const tick = () => {
          if (performance.now() - t0 > 60_000)
            return reject(new Error("mlflow filter not applied within 60 s"));
          const now = matching();
          if (now !== before) return resolve(performance.now() - t0);
          requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      }),
    input,
  );
}

/** MLflow's metric page for `runIds` (its compare chart): navigation start → every run's trace drawn. */
async function mlflowCompare(
  browser: Browser,
  url: string,
  runIds: string[],
  experimentId: string,
): Promise<number> {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await ctx.addInitScript({ content: NAME_SHIM });
  const page = await ctx.newPage();
  const q = [
    `runs=${JSON.stringify(runIds)}`,
    `metric=${encodeURIComponent('"loss"')}`,
    `experiments=${JSON.stringify([experimentId])}`,
    `plot_metric_keys=${encodeURIComponent('["loss"]')}`,
    "plot_layout={}",
    "x_axis=step",
    "y_axis_scale=linear",
    "line_smoothness=1",
    "show_point=false",
    "deselected_curves=[]",
    "last_linear_y_axis_range=[]",
  ].join("&");
  await page.goto(`${url}#/metric/loss?${q}`);
  const h = await page.waitForFunction(
    (n) => document.querySelectorAll(".js-plotly-plot .scatterlayer .trace").length >= n && performance.now(),
    runIds.length,
    { polling: "raf", timeout: 300_000 },
  );
  const ms = (await h.jsonValue()) as number;
  await ctx.close();
  return ms;
}

async function measureMlflow(browser: Browser, url: string): Promise<Results> {
  const results: Results = {};
  const exps = (await (
    await fetch(`${url}ajax-api/2.0/mlflow/experiments/search?max_results=100`)
  ).json()) as {
    experiments: { experiment_id: string; name: string }[];
  };
  const sweepId = exps.experiments.find((e) => e.name === "sweep-0")?.experiment_id ?? "";
  const bigId = exps.experiments.find((e) => e.name === "big")?.experiment_id ?? "";
  const bigIds = ((await mlflowSearch(url, { experiment_ids: [bigId], max_results: 100 })).runs ?? []).map(
    (r) => r.info.run_id,
  );
  const runsUrl = `${url}#/experiments/${sweepId}/runs`;
  await timeApi(`${url}ajax-api/2.0/mlflow/experiments/search?max_results=100`, 1);
  const paint: number[] = [];
  const links: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await ctx.addInitScript({ content: NAME_SHIM });
    const page = await ctx.newPage();
    paint.push(await mlflowFirstPaint(page, runsUrl));
    await ctx.close();
    links.push(await mlflowCompare(browser, url, bigIds, bigId));
  }
  results.firstPaintMs = median(paint);
  results.compareLinkMs = median(links);
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await ctx.addInitScript({ content: NAME_SHIM });
  const page = await ctx.newPage();
  await mlflowFirstPaint(page, runsUrl);
  const filters: number[] = [];
  for (let i = 0; i < repeat; i++) {
    filters.push(await mlflowFilter(page, FILTERS[i % FILTERS.length]!));
    await mlflowFilter(page, "");
  }
  results.filterMs = median(filters);
  await ctx.close();
  return results;
}

const seeded = await seed();
const browser = await launchBrowser();
if (!browser) throw new Error("chromium not found");
let mtrack: Results;
let mlflow: Results | undefined;
let mlflowSeedSeconds = 0;
const ui = await startUi(storeDir, process.env, 60_000);
try {
  mtrack = await measureMtrack(browser, ui.url);
} finally {
  await ui.stop();
  if (!keepStore) fs.rmSync(storeDir, { recursive: true, force: true });
}
if (withMlflow) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-bench-ui-mlflow-"));
  try {
    const out = execFileSync(
      path.join(path.dirname(mlflowBin), "python"),
      [
        "-c",
        MLFLOW_SEED,
        `sqlite:///${path.join(dir, "mlflow.db")}`,
        ...[sizes.runs, sizes.steps, sizes.metrics, sizes.bigRuns, sizes.bigSteps].map(String),
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 20 },
    );
    mlflowSeedSeconds = Number(out.trim().split("\n").pop());
    const m = await startMlflowUi(dir);
    try {
      mlflow = await measureMlflow(browser, m.url);
    } finally {
      if (m.child.pid) process.kill(-m.child.pid, "SIGTERM");
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
await browser.close();

const fmt = (ms: number | undefined) => (ms === undefined ? "—" : `${ms.toFixed(0)} ms`);
const rows: string[][] = [];
const row = (what: string, key: string, target?: number) => {
  const a = mtrack[key];
  const b = mlflow?.[key];
  const cells = [
    what,
    fmt(a),
    target ? `≤ ${target} ms` : "",
    a !== undefined && target ? (a <= target ? "ok" : "MISSED") : "",
  ];
  if (withMlflow) cells.push(fmt(b), a !== undefined && b !== undefined ? `${(b / a).toFixed(1)}×` : "");
  rows.push(cells);
};
row(
  `first paint of the runs table (${sizes.runs + sizes.bigRuns} runs, columns in the URL)`,
  "firstPaintMs",
  1000,
);
row("first paint, bare URL (default columns)", "firstPaintDefaultColumnsMs", 1000);
row("filter round trip (Enter → table updated)", "filterMs", 200);
row(
  `compare-chart render, ${sizes.bigRuns} runs × ${sizes.bigSteps} points (click Compare → drawn)`,
  "compareMs",
  1000,
);
row("compare chart opened by its link (navigation start → drawn)", "compareLinkMs", 1000);
row("scroll jump to a far row (rows rendered)", "scrollJumpMs");
row("API: GET /runs (200 rows, 4 columns)", "apiRunsMs");
row("API: GET /runs with a filter", "apiFilterMs");
row(`API: GET /series ${sizes.bigRuns} × ${sizes.bigSteps} → 1000 points each`, "apiSeriesMs");

const header = ["what", "mtrack ui", "target", ""];
if (withMlflow) header.push("mlflow ui", "MLflow / mtrack");
const out = [
  `mtrack ui, ${new Date().toISOString().slice(0, 10)}, node ${process.version}, median of ${repeat}`,
  `store: ${sizes.runs} runs × ${sizes.metrics} metrics × ${sizes.steps} steps + ${sizes.bigRuns} runs × ${sizes.bigSteps} points (${(seeded.points / 1e6).toFixed(2)}M points); seeding through the library took ${seeded.seconds.toFixed(1)} s` +
    (withMlflow
      ? `, through MLflow's client (log_batch, SQLite store) ${mlflowSeedSeconds.toFixed(1)} s`
      : ""),
  "",
  `| ${header.join(" | ")} |`,
  `| ${header.map(() => "---").join(" | ")} |`,
  ...rows.map((r) => `| ${r.join(" | ")} |`),
];
process.stdout.write(`${out.join("\n")}\n`);
if (jsonFile)
  fs.writeFileSync(
    jsonFile,
    JSON.stringify({ sizes, seeded, repeat, mtrack, mlflow, mlflowSeedSeconds }, null, 2),
  );
