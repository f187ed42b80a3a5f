/**
 * `mtrack ui` end to end in real headless Chromium: a temp repository with real runs — two trainings of
 * the morphogenetic engine through the repo's own pipeline (reduced params) plus a small library-logged
 * sweep with seed curves and artifacts — served by the built CLI (`mtrack ui --port 0`). Checks the runs
 * table, filtering (and the inline error of a bad filter), sorting by a metric, the compare view (charts,
 * legend, diff), seed curves, bands, a run page with its provenance and artifacts, and a RUNNING run
 * updating live. Saves screenshots of the main views (see test/helpers/browser.ts: screenshotDir).
 * Needs a build (`npm run build`).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { Repo } from "../../src/repo.js";
import { startRun } from "../../src/tracking/context.js";
import { launchBrowser, screenshotDir, startUi } from "../helpers/browser.js";
import { packageRoot, runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

const ROOT = packageRoot();

/** A 2×2 PNG (red), so the artifacts browser has a real image to show. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==",
  "base64",
);

/** The committed pipeline pointed at this checkout's build (as in demo.test.ts). */
function pipelineForTempRepo(): string {
  const text = fs.readFileSync(path.join(ROOT, "pipeline.yaml"), "utf8");
  return text
    .replaceAll("node dist/", `node ${path.join(ROOT, "dist")}/`)
    .replace(/^\s+- src\/engine\n/gm, "");
}

async function mtrack(repo: TempGitRepo, ...args: string[]) {
  const r = await runCli(args, { cwd: repo.dir, env: repo.env, timeoutMs: 180_000 });
  assert.equal(r.code, 0, `mtrack ${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
  return r;
}

/** Four library-logged runs: lr ∈ {0.1, 0.2} × seed ∈ {1, 2}, 60 steps, two seed curves, three artifacts. */
async function logSweep(repo: TempGitRepo): Promise<void> {
  const opened = Repo.open({ cwd: repo.dir });
  fs.writeFileSync(repo.abs("notes.txt"), "hello from the sweep\nsecond line\n");
  fs.writeFileSync(repo.abs("confusion.png"), PNG);
  fs.writeFileSync(repo.abs("report.html"), "<script>alert(1)</script>");
  // A clock an hour back that moves a second per step: charts over wall/relative time have a real span.
  let now = Date.now() - 3_600_000;
  for (const lr of [0.1, 0.2]) {
    for (const seed of [1, 2]) {
      const run = await startRun({
        clock: () => now,
        repo: opened,
        experiment: "sweep",
        name: `lr${lr}-s${seed}`,
        params: { lr, seed },
        tags: { team: seed === 1 ? "a" : "b" },
        installProcessHooks: false,
        env: {},
      });
      for (let step = 0; step < 60; step++) {
        const acc = 1 - Math.exp(-step * lr * 0.5) * (0.9 - seed * 0.05);
        run.logMetrics({ acc, loss: 1 - acc + 0.01 * Math.sin(step) }, { step });
        run.logMetrics(
          { "seed/s0/alpha": Math.min(1, step / 30), "seed/s1/alpha": Math.min(1, step / 50) },
          { step },
        );
        now += 1000;
      }
      await run.logArtifact(repo.abs("notes.txt"), { as: "notes.txt" });
      await run.logArtifact(repo.abs("confusion.png"), { as: "plots/confusion.png" });
      await run.logArtifact(repo.abs("report.html"), { as: "report.html" });
      await run.end();
    }
  }
}

async function rowNames(page: Page): Promise<string[]> {
  return page.$$eval(".rows .row[data-run-id] .name a", (as) => as.map((a) => a.textContent ?? ""));
}

// Browser-side callbacks run in the page (its CSP forbids string evaluation, so they are functions); this
// file is type-checked without the DOM library, hence these loose declarations.
// biome-ignore lint/suspicious/noExplicitAny: page globals, typed loosely on purpose
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: page globals, typed loosely on purpose
declare const location: any;

async function waitRows(page: Page, n: number): Promise<void> {
  await page.waitForFunction(
    (want) =>
      document.querySelector(".scroller:not([data-loading])") !== null &&
      document.querySelectorAll(".rows .row[data-run-id]").length === want,
    n,
    { timeout: 15_000 },
  );
}

/** Waits until the page's URL hash matches `re`. */
async function waitHash(page: Page, re: RegExp): Promise<void> {
  await page.waitForFunction(
    ([src, flags]) => new RegExp(src ?? "", flags).test(location.hash),
    [re.source, re.flags],
    {
      timeout: 15_000,
    },
  );
}

test("mtrack ui in headless Chromium: table, filter, sort, compare, seed curves, bands, run page, artifacts, live", async (t) => {
  const browser = await launchBrowser(t);
  if (!browser) return;
  const repo = makeTempGitRepo();
  const shots = screenshotDir();
  let ui: Awaited<ReturnType<typeof startUi>> | undefined;
  try {
    // Real runs: the repo's pipeline trains the engine once (stage train), a sweep trains it again.
    repo.write({
      "pipeline.yaml": pipelineForTempRepo(),
      "params.yaml": fs.readFileSync(path.join(ROOT, "params-test.yaml"), "utf8"),
    });
    await mtrack(repo, "init");
    repo.commit("init");
    await mtrack(repo, "repro");
    await mtrack(repo, "exp", "run", "--set", "lr=0.01");
    await logSweep(repo);

    ui = await startUi(repo.dir, repo.env);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));

    // The runs table: six runs, experiments with counts.
    await page.goto(ui.url);
    await waitRows(page, 6);
    assert.match((await page.textContent(".count")) ?? "", /^6 runs/);
    const sidebar = await page.$$eval(".experiments li", (lis) => lis.map((li) => li.textContent ?? ""));
    assert.ok(
      sidebar.some((s) => /^sweep\s*4$/.test(s.trim())),
      sidebar.join("|"),
    );
    assert.ok(
      sidebar.some((s) => /^spirals\s*2$/.test(s.trim())),
      sidebar.join("|"),
    );
    await page.screenshot({ path: path.join(shots, "runs-table.png") });

    // Filter with the search grammar; the URL keeps it.
    await page.fill("input.filter", "params.lr = '0.1'");
    await page.press("input.filter", "Enter");
    await waitRows(page, 2);
    assert.deepEqual((await rowNames(page)).sort(), ["lr0.1-s1", "lr0.1-s2"]);
    const hashQuery = new URLSearchParams(new URL(page.url()).hash.split("?")[1] ?? "");
    assert.equal(hashQuery.get("filter"), "params.lr = '0.1'");

    // A bad filter: the error inline, with its code and a caret at the offending column.
    await page.fill("input.filter", "metrics.acc >");
    await page.press("input.filter", "Enter");
    await page.waitForSelector(".filter-error:not([hidden])");
    assert.equal(await page.getAttribute(".filter-error", "data-code"), "ERR_MTRACK_SEARCH_SYNTAX");
    const column = Number(await page.getAttribute(".filter-error", "data-column"));
    assert.ok(column >= 0 && column <= "metrics.acc >".length, String(column));
    const errorText = (await page.textContent(".filter-error")) ?? "";
    assert.ok(
      errorText.split("\n").some((l) => l === `${" ".repeat(column)}^`),
      errorText,
    );

    // The sweep experiment, a metric column, sorted by clicking its header (server-side).
    await page.fill("input.filter", "");
    await page.press("input.filter", "Enter");
    await waitRows(page, 6);
    await page.click(".experiments a[title^='sweep']");
    await waitRows(page, 4);
    if (!(await page.$(".row.head [data-col='metrics.acc']"))) {
      await page.selectOption("select.add-col", "metrics.acc");
      await page.waitForSelector(".row.head [data-col='metrics.acc']");
    }
    const accColumn = async () => {
      const idx = await page.$$eval(".row.head .cell", (cells) =>
        cells.findIndex((c) => c.getAttribute("data-col") === "metrics.acc"),
      );
      return page.$$eval(
        ".rows .row[data-run-id]",
        (rows, i) =>
          rows
            .map((r) => ({
              top: Number.parseFloat((r as unknown as { style: { top: string } }).style.top),
              v: r.children[i]?.textContent,
            }))
            .sort((a, b) => a.top - b.top)
            .map((x) => Number(x.v)),
        idx,
      );
    };
    await page.click(".row.head [data-col='metrics.acc'] .label");
    await waitHash(page, /sort=metrics\.acc(%20|\+| )desc/);
    await waitRows(page, 4);
    let values = await accColumn();
    assert.deepEqual(
      values,
      values.slice().sort((a, b) => b - a),
      `descending: ${values}`,
    );
    assert.ok(new Set(values).size > 1);
    await page.click(".row.head [data-col='metrics.acc'] .label");
    await waitHash(page, /sort=metrics\.acc(%20|\+| )asc/);
    await waitRows(page, 4);
    values = await accColumn();
    assert.deepEqual(
      values,
      values.slice().sort((a, b) => a - b),
      `ascending: ${values}`,
    );

    // Select two runs with different lr → compare: charts drawn, legend names the runs, lr differs.
    await page.check("input[aria-label='select lr0.1-s1']");
    await page.check("input[aria-label='select lr0.2-s1']");
    await page.click("button.compare");
    await page.waitForSelector(".compare-view .metric-charts .chart canvas");
    await page.waitForFunction(() => Number(document.querySelector(".compare-view")?.dataset.drawn) > 0);
    const accLegend = (await page.textContent(".metric-charts .chart[data-key='acc'] .u-legend")) ?? "";
    assert.ok(accLegend.includes("lr0.1-s1") && accLegend.includes("lr0.2-s1"), accLegend);
    assert.equal(await page.$$eval(".diff-table tr.differs[data-key='lr']", (x) => x.length), 1);
    assert.equal(await page.$$eval(".diff-table tr.differs[data-key='seed']", (x) => x.length), 0);
    // Seed curves: one chart per run with both seed/*/alpha series.
    await page.waitForSelector(".seed-charts .seed-chart canvas");
    assert.equal(await page.inputValue("select.pattern"), "seed/*/alpha");
    const seedLegend = (await page.textContent(".seed-charts .seed-chart .u-legend")) ?? "";
    assert.ok(seedLegend.includes("seed/s0/alpha") && seedLegend.includes("seed/s1/alpha"), seedLegend);
    await page.screenshot({ path: path.join(shots, "compare.png"), fullPage: true });
    // Chart settings are part of the link.
    await page.selectOption("select.x-mode", "relative");
    await page.check("input.log-scale");
    await waitHash(page, /x=relative.*log=1/);
    await page.waitForSelector(".metric-charts .chart canvas");

    // Bands: the sweep grouped by lr, mean/min/max of acc.
    const sweepId = await page.evaluate(async () => {
      const r = await fetch("/api/v1/experiments");
      const j = (await r.json()) as { experiments: { id: string; name: string }[] };
      return j.experiments.find((e) => e.name === "sweep")?.id ?? "";
    });
    await page.goto(`${ui.url}#/bands?experiment=${sweepId}&group=params.lr&key=acc`);
    await page.waitForSelector(".bands-view .bands-chart canvas");
    const bandsLegend = (await page.textContent(".bands-chart .u-legend")) ?? "";
    assert.ok(bandsLegend.includes("0.1 (2 runs)") && bandsLegend.includes("0.2 (2 runs)"), bandsLegend);

    // The engine's run page: provenance, metrics, charts, artifacts (text inline, image, html as download).
    // Two: the repro's and the experiment's (exp run reruns the stage, its run tagged mtrack.exp).
    await page.goto(`${ui.url}#/runs?filter=${encodeURIComponent("tags.`mtrack.stage` = 'train'")}`);
    await waitRows(page, 2);
    await page.click(".rows .row[data-run-id] .name a");
    await page.waitForSelector(".run-view .params");
    const info = (await page.textContent(".run-info")) ?? "";
    assert.match(info, /pipeline stage\s*train/);
    assert.match(info, /git commit\s*[0-9a-f]{8}/);
    await page.waitForSelector(".run-view .metric-charts .chart[data-key='val_acc'] canvas");
    await page.waitForSelector("a.artifact.text");
    const logLink = await page.$("a.artifact.text[data-path$='.log']");
    assert.ok(logLink, "the engine's results log is listed as text");
    await logLink.click();
    await page.waitForSelector("pre.artifact-text");
    assert.ok(((await page.textContent("pre.artifact-text")) ?? "").length > 0);
    await page.screenshot({ path: path.join(shots, "run-page.png"), fullPage: true });

    // A sweep run's artifacts: text inline, the image shown, HTML offered as a download only.
    await page.goto(
      `${ui.url}#/runs?experiment=${sweepId}&filter=${encodeURIComponent("attributes.run_name = 'lr0.2-s2'")}`,
    );
    await waitRows(page, 1);
    await page.click(".rows .row[data-run-id] .name a");
    await page.click("a.artifact.text[data-path='notes.txt']");
    await page.waitForSelector("pre.artifact-text[data-path='notes.txt']");
    assert.equal(await page.textContent("pre.artifact-text"), "hello from the sweep\nsecond line\n");
    await page.click("a.artifact.image[data-path='plots/confusion.png']");
    await page.waitForFunction(() => {
      const img = document.querySelector("img.artifact-image");
      return img?.complete === true && img.naturalWidth === 2;
    });
    const html = await page.$("a.artifact.binary[data-path='report.html']");
    assert.ok(html && (await html.getAttribute("download")) !== null, "HTML artifacts are downloads");
    const href = (await html.getAttribute("href")) ?? "";
    const res = await page.request.get(new URL(href, ui.url).toString());
    assert.equal(res.headers()["content-type"], "application/octet-stream");
    assert.match(res.headers()["content-disposition"] ?? "", /^attachment/);

    // Live: a RUNNING run shows in the table and its new points reach the run page by polling.
    const live = await startRun({
      repo: Repo.open({ cwd: repo.dir }),
      experiment: "live",
      name: "live-run",
      installProcessHooks: false,
      flushIntervalMs: 50,
      env: {},
    });
    try {
      live.logMetric("progress", 1, { step: 0 });
      await page.goto(`${ui.url}#/runs?filter=${encodeURIComponent("attributes.run_name = 'live-run'")}`);
      await waitRows(page, 1);
      assert.equal(await page.textContent(".rows .row[data-run-id] .status"), "running");
      await page.click(".rows .row[data-run-id] .name a");
      await page.waitForSelector(".run-view .metrics-summary");
      for (let step = 1; step <= 5; step++) live.logMetric("progress", step + 1, { step });
      // The summary row: key, last 6, min 1, max 6, step 5, 6 points.
      await page.waitForFunction(
        () =>
          /progress\s*6\s*1\s*6\s*5\s*6/.test(document.querySelector(".metrics-summary")?.textContent ?? ""),
        undefined,
        { timeout: 15_000 },
      );
    } finally {
      await live.end();
    }
    assert.deepEqual(errors, [], "no uncaught errors in the page");
  } finally {
    await browser.close();
    await ui?.stop();
    repo.cleanup();
  }
});

test("the runs table is virtualised: a window of rows in the DOM, blocks fetched as the user scrolls", async (t) => {
  const browser = await launchBrowser(t);
  if (!browser) return;
  const repo = makeTempGitRepo();
  let ui: Awaited<ReturnType<typeof startUi>> | undefined;
  try {
    await mtrack(repo, "init");
    repo.commit("init");
    const opened = Repo.open({ cwd: repo.dir });
    const total = 260;
    for (let i = 0; i < total; i++) {
      const run = await startRun({
        repo: opened,
        name: `r${String(i).padStart(3, "0")}`,
        params: { i },
        installProcessHooks: false,
        flushIntervalMs: 60_000,
        env: {},
      });
      run.logMetric("score", i);
      await run.end();
    }
    ui = await startUi(repo.dir, repo.env);
    const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
    const offsets: number[] = [];
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.pathname === "/api/v1/runs") offsets.push(Number(u.searchParams.get("offset") ?? 0));
    });
    await page.goto(`${ui.url}#/runs?sort=metrics.score%20asc&cols=metrics.score`);
    await page.waitForSelector(".scroller:not([data-loading]) .rows .row[data-run-id]");
    assert.match((await page.textContent(".count")) ?? "", new RegExp(`^${total} runs`));
    const inDom = await page.$$eval(".rows .row", (rows) => rows.length);
    assert.ok(inDom > 5 && inDom < 80, `rows in the DOM: ${inDom}`);
    assert.ok(!offsets.some((o) => o > 0), `only the first block fetched: ${offsets}`);

    // To the end: the last block is fetched and the last row rendered with its data.
    await page.$eval(".scroller", (el) => {
      el.scrollTop = el.scrollHeight;
    });
    await page.waitForSelector(`.rows .row[data-run-id][data-index='${total - 1}']`);
    assert.equal(await page.textContent(`.rows .row[data-index='${total - 1}'] .name a`), "r259");
    assert.ok(offsets.includes(200), `block 200 fetched: ${offsets}`);
    assert.ok((await page.$$eval(".rows .row", (rows) => rows.length)) < 80);
  } finally {
    await browser.close();
    await ui?.stop();
    repo.cleanup();
  }
});
