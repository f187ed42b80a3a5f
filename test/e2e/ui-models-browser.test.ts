/**
 * The web UI's Models page end to end in real headless Chromium: a temp repository where a run logs a
 * model, the built CLI registers it (`mtrack models register clf runs:/<run>/model`), registers a second
 * version from a workspace path and points `champion` at the first; `mtrack ui` serves it. Checks the
 * models list, the model's versions table, the version page (files, signature, URIs), the link to the
 * source run and the run page's "Registered as" link back, and a file download. Needs a build.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { Repo } from "../../src/repo.js";
import { startRun } from "../../src/tracking/context.js";
import { launchBrowser, screenshotDir, startUi } from "../helpers/browser.js";
import { runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

const MLMODEL = [
  "artifact_path: model",
  "flavors:",
  "  python_function: {}",
  "signature:",
  `  inputs: '[{"type": "double", "name": "x"}]'`,
  `  outputs: '[{"type": "long"}]'`,
  "",
].join("\n");

async function mtrack(repo: TempGitRepo, ...args: string[]) {
  const r = await runCli(args, { cwd: repo.dir, env: repo.env, timeoutMs: 120_000 });
  assert.equal(r.code, 0, `mtrack ${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
  return r;
}

// Browser-side callbacks run in the page; this file is type-checked without the DOM library.
// biome-ignore lint/suspicious/noExplicitAny: page globals, typed loosely on purpose
declare const location: any;

test("mtrack ui Models page: list, versions, version files and signature, source run link both ways, download", async (t) => {
  const browser = await launchBrowser(t);
  if (!browser) return;
  const repo = makeTempGitRepo();
  let ui: Awaited<ReturnType<typeof startUi>> | undefined;
  try {
    repo.write({ "README.md": "models\n" });
    await mtrack(repo, "init");
    repo.commit("init");
    repo.write({ "out/model/MLmodel": MLMODEL, "out/model/weights.json": '{"w": [1, 2, 3]}\n' });
    const run = await startRun({
      repo: Repo.open({ cwd: repo.dir }),
      name: "train-clf",
      installProcessHooks: false,
      env: {},
    });
    await run.logModel(repo.abs("out/model"), { name: "model", flavor: "mlflow" });
    await run.end();
    await mtrack(repo, "models", "register", "clf", `runs:/${run.id}/model`, "-d", "first baseline");
    await mtrack(repo, "models", "register", "clf", "out/model");
    await mtrack(repo, "models", "alias", "clf", "champion", "1");

    ui = await startUi(repo.dir, repo.env);
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 }, acceptDownloads: true });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));

    // The nav leads to the list: clf with 2 versions, latest v2, champion on v1.
    await page.goto(ui.url);
    await page.click("nav a[data-view='models']");
    await page.waitForSelector(".models-table tr[data-model='clf']");
    const row = (await page.textContent(".models-table tr[data-model='clf']")) ?? "";
    assert.match(row, /clf\s*2\s*v2\s*@champion → v1/);
    assert.equal(await page.getAttribute("nav a[data-view='models']", "class"), "active");
    await page.screenshot({ path: path.join(screenshotDir(), "models.png") });

    // The model: its versions, newest first; v1 came from the run and links to it.
    await page.click(".models-table a.model-link");
    await page.waitForSelector(".versions-table tr[data-version='1']");
    assert.deepEqual(
      await page.$$eval(".versions-table tbody tr", (trs) =>
        trs.map((tr) => tr.getAttribute("data-version")),
      ),
      ["2", "1"],
    );
    const runLink = ".versions-table tr[data-version='1'] a.run-link";
    assert.equal(await page.getAttribute(runLink, "href"), `#/run/${run.id}`);
    assert.equal(await page.textContent(runLink), "train-clf");
    assert.equal(await page.$(".versions-table tr[data-version='2'] a.run-link"), null);
    await page.screenshot({ path: path.join(screenshotDir(), "model.png") });

    // The version: files, signature, URIs (the alias included).
    await page.click(".versions-table tr[data-version='1'] a.version-link");
    await page.waitForSelector(".model-version-view a.model-file");
    assert.match(await page.evaluate(() => location.hash), /^#\/models\/clf\/1$/);
    assert.deepEqual(await page.$$eval("a.model-file", (as) => as.map((a) => a.getAttribute("data-path"))), [
      "MLmodel",
      "weights.json",
    ]);
    assert.deepEqual(await page.$$eval("button.copy", (bs) => bs.map((b) => b.getAttribute("data-uri"))), [
      "models:/clf/1",
      "models:/clf@champion",
    ]);
    const signature = JSON.parse((await page.textContent("pre.signature")) ?? "null");
    assert.deepEqual(signature.inputs, [{ type: "double", name: "x" }]);
    assert.match((await page.textContent(".model-version-view .description")) ?? "", /first baseline/);
    await page.screenshot({ path: path.join(screenshotDir(), "model-version.png"), fullPage: true });

    // A file downloads with its bytes.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click("a.model-file[data-path='weights.json']"),
    ]);
    assert.equal(download.suggestedFilename(), "weights.json");
    const saved = await download.path();
    assert.equal(fs.readFileSync(saved, "utf8"), '{"w": [1, 2, 3]}\n');

    // To the source run, whose page links back to the version.
    await page.click(".model-version-view a.run-link");
    await page.waitForSelector(".run-view .registered a[data-model='clf']");
    assert.equal(await page.textContent(".run-view h1"), "train-clf");
    assert.equal(await page.textContent(".registered a[data-model='clf']"), "clf v1");
    await page.click(".registered a[data-model='clf']");
    await page.waitForSelector(".model-version-view a.model-file");
    assert.deepEqual(errors, [], "no uncaught errors in the page");
  } finally {
    await browser.close();
    await ui?.stop();
    repo.cleanup();
  }
});
