/**
 * `mtrack plots show` through the built CLI: the report is written, carries the workspace's (or a
 * revision's) metrics and plots, escapes hostile text, references nothing outside the file, and draws its
 * charts in headless Chromium with every network request refused. Needs a build (`npm run build`).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { launchBrowser } from "../helpers/browser.js";
import { runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

// biome-ignore lint/suspicious/noExplicitAny: the embedded JSON is checked field by field
type Json = any;

const HOSTILE = "</script><img src=x onerror=alert(1)>";

async function projectRepo(): Promise<TempGitRepo> {
  const repo = makeTempGitRepo();
  repo.write({
    "pipeline.yaml": [
      "stages:",
      "  train:",
      "    cmd: echo train",
      "    metrics:",
      "      - eval/metrics.json:",
      "          cache: false",
      "    plots:",
      "      - eval/loss.csv:",
      "          cache: false",
      "          x: epoch",
      `          title: ${JSON.stringify(`Loss ${HOSTILE}`)}`,
      "plots:",
      "  - eval/acc.json",
      "  - eval/pic.png",
      "  - eval/absent.csv",
      "",
    ].join("\n"),
    "eval/metrics.json": JSON.stringify({ acc: 0.9, nested: { f1: 0.8 }, note: HOSTILE }),
    "eval/loss.csv": "epoch,loss,val_loss\n0,1.0,1.2\n1,0.5,0.7\n2,0.25,0.4\n",
    "eval/acc.json": JSON.stringify([
      { step: 0, acc: 0.5, label: HOSTILE },
      { step: 1, acc: 0.75, label: "b" },
    ]),
    "eval/pic.png": Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"),
  });
  repo.commit("pipeline with metrics and plots");
  const init = await runCli(["init"], { cwd: repo.dir, env: repo.env });
  assert.equal(init.code, 0, init.stderr);
  return repo;
}

/** The JSON data block of a report. */
function embedded(html: string): Json {
  const m = /<script type="application\/json" id="mtrack-report-data">([^<]*)<\/script>/.exec(html);
  assert.ok(m, "the report embeds its data as JSON");
  return JSON.parse(m[1]!);
}

test("plots show: a self-contained report of the workspace, hostile text escaped, nothing external", async () => {
  const repo = await projectRepo();
  try {
    const r = await runCli(["plots", "show", "--json"], { cwd: repo.dir, env: repo.env });
    assert.equal(r.code, 0, r.stderr);
    const out = (r.json as Json).out;
    assert.equal(fs.realpathSync(out), fs.realpathSync(repo.abs("mtrack-report.html")));
    const html = fs.readFileSync(out, "utf8");
    const data = embedded(html);
    assert.equal(data.revision, "workspace");
    assert.equal(data.metrics["eval/metrics.json"].acc, 0.9);
    assert.equal(data.metrics["eval/metrics.json"]["nested.f1"], 0.8);
    const byFile = Object.fromEntries(data.plots.map((p: Json) => [p.file, p]));
    assert.equal(byFile["eval/loss.csv"].kind, "lines");
    assert.equal(byFile["eval/loss.csv"].xLabel, "epoch");
    assert.deepEqual(byFile["eval/loss.csv"].x, [0, 1, 2]);
    assert.deepEqual(
      byFile["eval/loss.csv"].series.map((s: Json) => s.label),
      ["loss", "val_loss"],
    );
    assert.deepEqual(byFile["eval/acc.json"].series, [{ label: "acc", values: [0.5, 0.75] }]);
    assert.equal(byFile["eval/pic.png"].kind, "image");
    assert.match(byFile["eval/pic.png"].dataUrl, /^data:image\/png;base64,/);
    assert.equal(byFile["eval/absent.csv"].kind, "missing");
    // Hostile strings never appear raw: only escaped in HTML text and as \u003c inside the JSON.
    assert.equal(html.includes(HOSTILE), false);
    assert.equal(html.match(/<\/script>/g)?.length, 3, "only the three script elements close");
    // No external references: no src/href/url()/import to any URL, no <link>, no script src.
    assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i);
    assert.doesNotMatch(html, /url\(\s*["']?(https?:)?\/\//i);
    assert.doesNotMatch(html, /@import|<link\b|<script[^>]*\ssrc=/i);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  } finally {
    repo.cleanup();
  }
});

test("plots show --rev reads the committed files, not the workspace; a bad revision is an error", async () => {
  const repo = await projectRepo();
  try {
    repo.write({ "eval/metrics.json": JSON.stringify({ acc: 0.1 }), "eval/loss.csv": "epoch,loss\n0,9\n" });
    const ws = await runCli(["plots", "show", "--out", "ws.html"], { cwd: repo.dir, env: repo.env });
    assert.equal(ws.code, 0, ws.stderr);
    assert.equal(
      embedded(fs.readFileSync(repo.abs("ws.html"), "utf8")).metrics["eval/metrics.json"].acc,
      0.1,
    );
    const head = await runCli(["plots", "show", "--rev", "HEAD", "-o", "head.html"], {
      cwd: repo.dir,
      env: repo.env,
    });
    assert.equal(head.code, 0, head.stderr);
    const data = embedded(fs.readFileSync(repo.abs("head.html"), "utf8"));
    assert.equal(data.revision, "HEAD");
    assert.match(data.commit, /^[0-9a-f]{40}$/);
    assert.equal(data.metrics["eval/metrics.json"].acc, 0.9);
    assert.deepEqual(data.plots.find((p: Json) => p.file === "eval/loss.csv").x, [0, 1, 2]);
    const bad = await runCli(["plots", "show", "--rev", "no-such-rev", "--json"], {
      cwd: repo.dir,
      env: repo.env,
    });
    assert.notEqual(bad.code, 0);
    assert.equal((bad.json as Json).error.code, "ERR_MTRACK_GIT_REV_NOT_FOUND");
  } finally {
    repo.cleanup();
  }
});

test("plots show: the report draws its charts in headless Chromium with the network refused", async (t) => {
  const browser = await launchBrowser(t);
  if (!browser) return;
  const repo = await projectRepo();
  try {
    const r = await runCli(["plots", "show"], { cwd: repo.dir, env: repo.env });
    assert.equal(r.code, 0, r.stderr);
    const page = await browser.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on("request", (req) => {
      if (!req.url().startsWith("file:") && !req.url().startsWith("data:")) requests.push(req.url());
    });
    page.on("pageerror", (err) => errors.push(err.message));
    await page.route(/^https?:/, (route) => route.abort());
    await page.goto(`file://${repo.abs("mtrack-report.html")}`);
    await page.waitForSelector(".uplot canvas", { timeout: 10_000 });
    assert.equal(await page.locator(".uplot").count(), 2, "two line plots drawn");
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, []);
    // The hostile title is shown as text, not parsed into an element.
    assert.equal(await page.locator("img[src=x]").count(), 0);
  } finally {
    await browser.close();
    repo.cleanup();
  }
});

test("plots show --rev reads an output mtrack caches (not in git) from the store through that commit's lock", async () => {
  const repo = makeTempGitRepo();
  try {
    repo.write({
      "pipeline.yaml": [
        "stages:",
        "  train:",
        "    cmd: mkdir -p eval && printf 'step,loss\\n0,4\\n1,2\\n' > eval/loss.csv",
        "    plots:",
        "      - eval/loss.csv",
        "",
      ].join("\n"),
    });
    repo.commit("pipeline");
    assert.equal((await runCli(["init"], { cwd: repo.dir, env: repo.env })).code, 0);
    const repro = await runCli(["repro"], { cwd: repo.dir, env: repo.env });
    assert.equal(repro.code, 0, repro.stderr);
    repo.commit("ran train");
    assert.equal(repo.git("ls-files", "eval/loss.csv"), "", "the plot is not in git");
    fs.writeFileSync(repo.abs("eval/loss.csv"), "step,loss\n0,9\n");
    const r = await runCli(["plots", "show", "--rev", "HEAD", "-o", "head.html"], {
      cwd: repo.dir,
      env: repo.env,
    });
    assert.equal(r.code, 0, r.stderr);
    const plot = embedded(fs.readFileSync(repo.abs("head.html"), "utf8")).plots[0];
    assert.equal(plot.kind, "lines");
    assert.deepEqual(plot.series, [{ label: "loss", values: [4, 2] }]);
  } finally {
    repo.cleanup();
  }
});
