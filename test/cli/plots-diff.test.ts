/**
 * `mtrack plots diff` through the built CLI, in a temp git repository with two commits that change a
 * plain CSV and JSON plot file, a pipeline output mtrack caches (read through each commit's lock), and
 * a file tracked with `mtrack add` (read through each commit's pointer), plus an uncommitted workspace
 * change: every plot is overlaid with one line (or matrix) per revision, a file missing at a revision is
 * a note, an unknown revision an error, and the report draws in headless Chromium; the UI's
 * /api/v1/plots answers the same overlay and its plots view draws it. Needs a build.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { launchBrowser, screenshotDir, startUi } from "../helpers/browser.js";
import { runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field
type Json = any;

const PIPELINE = [
  "stages:",
  "  train:",
  "    cmd: mkdir -p eval && cp src/loss.csv eval/loss.csv",
  "    deps: [src/loss.csv]",
  "    plots:",
  "      - eval/loss.csv:",
  "          x: epoch",
  "plots:",
  "  - eval/acc.json:",
  "      y: acc",
  "  - reports/roc.csv:",
  "      x: fpr",
  "      y: tpr",
  "  - Confusion:",
  "      template: confusion",
  "      x: actual",
  "      y:",
  "        eval/confusion.csv: predicted",
  "  - Shares:",
  "      template: confusion_normalized",
  "      x: actual",
  "      y:",
  "        eval/confusion.csv: predicted",
  "  - eval/new.csv",
  "  - curves:",
  "      title: Curves",
  "  - curves/pr.csv:",
  "      x: recall",
  "",
].join("\n");

async function cli(repo: TempGitRepo, args: string[]) {
  return runCli(args, { cwd: repo.dir, env: repo.env });
}

/** Two commits (v1, v2) and an uncommitted change to eval/acc.json. */
async function twoCommitRepo(): Promise<TempGitRepo> {
  const repo = makeTempGitRepo();
  repo.write({
    "pipeline.yaml": PIPELINE,
    "src/loss.csv": "epoch,loss\n0,1.0\n1,0.5\n",
    "eval/acc.json": JSON.stringify([
      { step: 0, acc: 0.5 },
      { step: 1, acc: 0.6 },
    ]),
    "eval/confusion.csv": "actual,predicted\ncat,cat\ncat,dog\ndog,dog\n",
    "reports/roc.csv": "fpr,tpr\n0,0\n1,1\n",
    "curves/pr.csv": "recall,precision\n0,1\n1,0.5\n",
    "curves/other.txt": "not a plot",
  });
  assert.equal((await cli(repo, ["init"])).code, 0);
  let r = await cli(repo, ["add", "reports/roc.csv", "curves"]);
  assert.equal(r.code, 0, r.stderr);
  r = await cli(repo, ["repro"]);
  assert.equal(r.code, 0, r.stderr);
  repo.commit("v1");
  repo.write({
    "src/loss.csv": "epoch,loss\n0,0.8\n1,0.3\n2,0.1\n",
    "eval/acc.json": JSON.stringify([
      { step: 0, acc: 0.7 },
      { step: 1, acc: 0.9 },
    ]),
    "eval/confusion.csv": "actual,predicted\ncat,cat\ncat,cat\ndog,dog\nbird,dog\n",
    "reports/roc.csv": "fpr,tpr\n0,0\n0.5,0.9\n1,1\n",
    "eval/new.csv": "step,score\n0,3\n",
    "curves/pr.csv": "recall,precision\n0,1\n1,0.7\n",
    "curves/roc.json": JSON.stringify([
      { fpr: 0, tpr: 0 },
      { fpr: 1, tpr: 1 },
    ]),
  });
  r = await cli(repo, ["add", "reports/roc.csv", "curves"]);
  assert.equal(r.code, 0, r.stderr);
  r = await cli(repo, ["repro"]);
  assert.equal(r.code, 0, r.stderr);
  repo.commit("v2");
  assert.equal(
    repo.git("ls-files", "eval/loss.csv", "reports/roc.csv"),
    "",
    "both tracked plots stay out of git",
  );
  repo.write({
    "eval/acc.json": JSON.stringify([
      { step: 0, acc: 0.75 },
      { step: 1, acc: 0.95 },
    ]),
  });
  return repo;
}

function byId(data: Json): Record<string, Json> {
  return Object.fromEntries(data.plots.map((p: Json) => [p.id, p]));
}

/** The series of a line plot as `label → values`. */
function lines(plot: Json): Record<string, (number | null)[]> {
  assert.equal(plot.kind, "lines", JSON.stringify(plot));
  return Object.fromEntries(plot.series.map((s: Json) => [s.label, s.values]));
}

test("plots diff --json: each plot overlaid per revision, from git, the lock and pointers", async () => {
  const repo = await twoCommitRepo();
  try {
    const r = await cli(repo, ["plots", "diff", "HEAD~1", "HEAD", "workspace", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const data = r.json as Json;
    assert.equal(data.out, null, "--json without -o writes no report");
    assert.equal(fs.existsSync(repo.abs("mtrack_plots")), false);
    assert.deepEqual(
      data.revisions.map((x: Json) => x.name),
      ["HEAD~1", "HEAD", "workspace"],
    );
    assert.match(data.revisions[0].commit, /^[0-9a-f]{40}$/);
    assert.equal(data.revisions[2].commit, null);
    const plots = byId(data);
    // A plain file in git: three revisions, the workspace's uncommitted values last.
    assert.deepEqual(lines(plots["eval/acc.json"]), {
      "HEAD~1": [0.5, 0.6],
      HEAD: [0.7, 0.9],
      workspace: [0.75, 0.95],
    });
    // A pipeline output cached by mtrack: read at each commit through its pipeline.lock; x joined.
    const loss = plots["eval/loss.csv"];
    assert.equal(loss.xLabel, "epoch");
    assert.deepEqual(loss.x, [0, 1, 2]);
    assert.deepEqual(lines(loss), {
      "HEAD~1": [1, 0.5, null],
      HEAD: [0.8, 0.3, 0.1],
      workspace: [0.8, 0.3, 0.1],
    });
    // A file tracked with mtrack add: read at each commit through its pointer.
    const roc = plots["reports/roc.csv"];
    assert.deepEqual(roc.x, [0, 0.5, 1]);
    assert.deepEqual(lines(roc)["HEAD~1"], [0, null, 1]);
    assert.deepEqual(lines(roc).HEAD, [0, 0.9, 1]);
    // A file inside a directory tracked with mtrack add: read through the directory's manifest.
    assert.deepEqual(lines(plots["curves/pr.csv"]), {
      "HEAD~1": [1, 0.5],
      HEAD: [1, 0.7],
      workspace: [1, 0.7],
    });
    // A directory entry stands for the plots files under it (the tracked directory's manifest at each
    // commit); the file with its own entry keeps its own options.
    assert.equal(plots["curves/pr.csv"].title, "curves/pr.csv");
    assert.equal(plots["curves/roc.json"].title, "Curves · roc.json");
    assert.deepEqual(Object.keys(lines(plots["curves/roc.json"])), ["HEAD", "workspace"]);
    assert.equal(plots.curves, undefined);
    // The confusion template: one matrix per revision over one label list.
    const conf = plots.Confusion;
    assert.equal(conf.kind, "confusion");
    assert.deepEqual(conf.labels, ["bird", "cat", "dog"]);
    assert.deepEqual(
      conf.matrices.map((m: Json) => [m.rev, m.counts]),
      [
        [
          "HEAD~1",
          [
            [0, 0, 0],
            [0, 1, 1],
            [0, 0, 1],
          ],
        ],
        [
          "HEAD",
          [
            [0, 0, 1],
            [0, 2, 0],
            [0, 0, 1],
          ],
        ],
        [
          "workspace",
          [
            [0, 0, 1],
            [0, 2, 0],
            [0, 0, 1],
          ],
        ],
      ],
    );
    assert.equal(plots.Shares.normalized, true);
    assert.deepEqual(plots.Shares.matrices[0].values[1], [0, 0.5, 0.5]);
    // A file that did not exist in the first commit: drawn for the others, noted for that one.
    const added = plots["eval/new.csv"];
    assert.deepEqual(Object.keys(lines(added)), ["HEAD", "workspace"]);
    assert.deepEqual(added.notes, [{ rev: "HEAD~1", file: "eval/new.csv", reason: "file not found" }]);
  } finally {
    repo.cleanup();
  }
});

test("plots diff: HEAD vs workspace by default into mtrack_plots/index.html; -o a file; bad revisions", async () => {
  const repo = await twoCommitRepo();
  try {
    const r = await cli(repo, ["plots", "diff"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mtrack_plots[/\\]index\.html \(HEAD, workspace: 8 of 8 plots\)/);
    const html = fs.readFileSync(repo.abs("mtrack_plots/index.html"), "utf8");
    assert.match(html, /Revisions HEAD \([0-9a-f]{12}\) vs workspace/);
    const m = /<script type="application\/json" id="mtrack-report-data">([^<]*)<\/script>/.exec(html);
    const data = JSON.parse(m![1]!);
    assert.deepEqual(lines(byId(data)["eval/acc.json"]), { HEAD: [0.7, 0.9], workspace: [0.75, 0.95] });

    const file = await cli(repo, ["plots", "diff", "HEAD~1", "-o", "cmp.html", "--json"]);
    assert.equal(file.code, 0, file.stderr);
    assert.equal(fs.realpathSync((file.json as Json).out), fs.realpathSync(repo.abs("cmp.html")));
    assert.deepEqual(
      (file.json as Json).revisions.map((x: Json) => x.name),
      ["HEAD~1"],
    );

    const bad = await cli(repo, ["plots", "diff", "HEAD", "no-such-rev", "--json"]);
    assert.equal(bad.code, 2);
    assert.equal((bad.json as Json).error.code, "ERR_MTRACK_GIT_REV_NOT_FOUND");
    const human = await cli(repo, ["plots", "diff", "HEAD~9"]);
    assert.equal(human.code, 2);
    assert.match(human.stderr, /ERR_MTRACK_GIT_REV_NOT_FOUND/);
  } finally {
    repo.cleanup();
  }
});

test("plots diff: a commit whose files are gone from the store, or whose pipeline is broken, is noted", async () => {
  const repo = await twoCommitRepo();
  try {
    repo.write({ "pipeline.yaml": `${PIPELINE}  - : [\n` });
    repo.commit("broken pipeline");
    repo.write({ "pipeline.yaml": PIPELINE });
    fs.rmSync(repo.abs(".mtrack/cache"), { recursive: true, force: true });
    const r = await cli(repo, ["plots", "diff", "HEAD~2", "HEAD", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const data = r.json as Json;
    assert.equal(data.revisions[1].error.code, "ERR_MTRACK_PIPELINE_INVALID");
    const loss = byId(data)["eval/loss.csv"];
    assert.equal(loss.kind, "missing");
    assert.match(loss.notes[0].reason, /not in the local store/);
    const human = await cli(repo, ["plots", "diff", "HEAD~2", "HEAD", "-o", "r.html"]);
    assert.equal(human.code, 0, human.stderr);
    // oclif wraps warnings to the terminal width behind "›" markers.
    const warnings = human.stderr.replace(/\s*›\s*/g, " ").replace(/\s+/g, " ");
    assert.match(
      warnings,
      /eval\/loss\.csv: not drawn: tracked \(eval\/loss\.csv\) but not in the local store/,
    );
    assert.match(warnings, /Warning: HEAD: pipeline\.yaml/, "the broken pipeline is reported");
  } finally {
    repo.cleanup();
  }
});

test("plots diff: the overlay report draws one legend entry per revision in headless Chromium", async (t) => {
  const browser = await launchBrowser(t);
  if (!browser) return;
  const repo = await twoCommitRepo();
  try {
    const r = await cli(repo, ["plots", "diff", "HEAD~1", "HEAD", "-o", "out"]);
    assert.equal(r.code, 0, r.stderr);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.route(/^https?:/, (route) => route.abort());
    await page.goto(`file://${repo.abs("out/index.html")}`);
    await page.waitForSelector(".uplot canvas", { timeout: 10_000 });
    assert.equal(await page.locator(".uplot").count(), 6, "six line plots");
    const legend = (await page.locator(".uplot").first().locator(".u-legend").textContent()) ?? "";
    assert.match(legend, /HEAD~1/);
    assert.match(legend, /HEAD\b/);
    assert.equal(await page.locator("table.confusion").count(), 4, "two confusion plots × two revisions");
    assert.deepEqual(errors, []);
    await page.screenshot({ path: path.join(screenshotDir(), "plots-diff-report.png"), fullPage: true });
  } finally {
    await browser.close();
    repo.cleanup();
  }
});

test("UI: /api/v1/plots overlays revisions; /plots/revisions offers them; an unknown one is a 404", async () => {
  const repo = await twoCommitRepo();
  const ui = await startUi(repo.dir, repo.env);
  try {
    const get = async (p: string) => {
      const res = await fetch(new URL(`api/v1${p}`, ui.url));
      return { status: res.status, body: (await res.json()) as Json };
    };
    const r = await get("/plots?revs=HEAD~1,HEAD,workspace");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(
      r.body.revisions.map((x: Json) => x.name),
      ["HEAD~1", "HEAD", "workspace"],
    );
    assert.deepEqual(lines(byId(r.body)["eval/loss.csv"]), {
      "HEAD~1": [1, 0.5, null],
      HEAD: [0.8, 0.3, 0.1],
      workspace: [0.8, 0.3, 0.1],
    });
    const byDefault = await get("/plots");
    assert.deepEqual(
      byDefault.body.revisions.map((x: Json) => x.name),
      ["HEAD", "workspace"],
    );
    const repeated = await get("/plots?rev=HEAD~1&rev=HEAD");
    assert.deepEqual(
      repeated.body.revisions.map((x: Json) => x.name),
      ["HEAD~1", "HEAD"],
    );
    const choices = await get("/plots/revisions");
    assert.equal(choices.status, 200);
    const names = choices.body.revisions.map((c: Json) => `${c.kind}:${c.name}`);
    for (const n of ["workspace:workspace", "head:HEAD", "branch:main"]) assert.ok(names.includes(n), n);
    assert.equal(names.filter((n: string) => n.startsWith("commit:")).length, 2);
    const bad = await get("/plots?revs=HEAD,nope");
    assert.equal(bad.status, 404);
    assert.equal(bad.body.error.code, "ERR_MTRACK_GIT_REV_NOT_FOUND");
  } finally {
    await ui.stop();
    repo.cleanup();
  }
});

test("UI: the plots view overlays the revisions of its route, and the picker adds one", async (t) => {
  const browser = await launchBrowser(t);
  if (!browser) return;
  const repo = await twoCommitRepo();
  repo.git("branch", "v1-branch", "HEAD~1");
  const ui = await startUi(repo.dir, repo.env);
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(`${ui.url}#/plots?revs=HEAD,workspace`);
    await page.waitForSelector(".plots-view[data-drawn] .uplot canvas", { timeout: 15_000 });
    assert.equal(await page.locator(".plots .uplot").count(), 6, "six line plots");
    const legend = (await page.locator('[data-plot="eval/acc.json"] .u-legend').textContent()) ?? "";
    assert.match(legend, /HEAD/);
    assert.match(legend, /workspace/);
    assert.equal(await page.locator("table.confusion").count(), 4, "two confusion plots × two revisions");
    assert.equal(await page.locator('[data-plot="Confusion"] figure[data-rev="workspace"]').count(), 1);
    await page.screenshot({ path: path.join(screenshotDir(), "plots-diff.png"), fullPage: true });

    // The picker: a chip adds the branch, Overlay puts it in the URL and draws it.
    await page.locator('.rev-chip[data-rev="v1-branch"]').click();
    await page.locator("button.overlay").click();
    await page.waitForFunction("location.hash.includes('v1-branch')");
    await page.waitForSelector('.plots-view[data-drawn] [data-plot="eval/acc.json"] .uplot', {
      timeout: 15_000,
    });
    const three = (await page.locator('[data-plot="eval/acc.json"] .u-legend').textContent()) ?? "";
    assert.match(three, /v1-branch/);
    assert.equal(await page.locator("table.confusion").count(), 6);

    // An unknown revision: the view says so, with the error's code.
    await page.goto(`${ui.url}#/plots?revs=nope`);
    await page.waitForSelector(".plots-view[data-error]", { timeout: 15_000 });
    assert.equal(
      await page.locator(".plots-view").getAttribute("data-error"),
      "ERR_MTRACK_GIT_REV_NOT_FOUND",
    );
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await ui.stop();
    repo.cleanup();
  }
});
