/**
 * collectPlots in-process over a temp git repository: definitions merged across revisions, a repository
 * without commits, an unknown template, unreadable files, and an unknown revision.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { collectPlots, plotsSource, revisionChoices } from "../../../src/plots/collect.js";
import { initRepo, Repo } from "../../../src/repo.js";
import { makeTempGitRepo, type TempGitRepo } from "../../helpers/git-repo.js";

let tmp: TempGitRepo;
let repo: Repo;
beforeEach(() => {
  tmp = makeTempGitRepo();
  initRepo({ cwd: tmp.dir });
  repo = Repo.open({ cwd: tmp.dir });
});
afterEach(() => tmp.cleanup());

test("a repository without commits: HEAD has nothing, the workspace is drawn", async () => {
  tmp.write({ "pipeline.yaml": "plots:\n  - a.csv\n", "a.csv": "step,v\n0,1\n1,2\n" });
  const r = await collectPlots(repo, ["HEAD", null], { clock: () => 42 });
  assert.equal(r.generatedAt, 42);
  assert.deepEqual(
    r.revisions.map((x) => [x.name, x.commit]),
    [
      ["HEAD", null],
      ["workspace", null],
    ],
  );
  const plot = r.plots[0]!;
  assert.equal(plot.kind, "lines");
  assert.deepEqual(plot.notes, [{ rev: "HEAD", file: "a.csv", reason: "file not found" }]);
  if (plot.kind === "lines")
    assert.deepEqual(
      plot.series.map((s) => [s.label, s.values]),
      [["workspace", [1, 2]]],
    );
});

test("each revision's definitions count; the last revision's definition of an id wins", async () => {
  tmp.write({
    "pipeline.yaml": "plots:\n  - a.csv:\n      title: Old\n  - old.csv\n",
    "a.csv": "step,v\n0,1\n",
  });
  tmp.commit("one");
  tmp.write({ "pipeline.yaml": "plots:\n  - a.csv:\n      title: New\n      template: scatter\n" });
  const r = await collectPlots(repo, ["HEAD", null]);
  assert.deepEqual(
    r.plots.map((p) => [p.id, p.title, p.template, p.kind]),
    [
      ["a.csv", "New", "scatter", "lines"],
      ["old.csv", "old.csv", "linear", "missing"],
    ],
  );
  const a = r.plots[0]!;
  if (a.kind === "lines") assert.equal(a.points, true);
});

test("unknown templates, unsupported formats and broken files are said, not thrown", async () => {
  tmp.write({
    "pipeline.yaml":
      "plots:\n  - a.csv:\n      template: bar_horizontal\n  - b.txt\n  - c.json\n  - D:\n      y:\n        c.json: v\n        e.csv: v\n",
    "a.csv": "x,y\n1,2\n",
    "b.txt": "hello",
    "c.json": "{",
    "e.csv": "step,v\n0,5\n",
  });
  const r = await collectPlots(repo, [null]);
  const byId = Object.fromEntries(r.plots.map((p) => [p.id, p]));
  assert.equal(byId["a.csv"]!.kind, "missing");
  assert.match((byId["a.csv"] as { reason: string }).reason, /unknown template bar_horizontal/);
  assert.match((byId["b.txt"] as { reason: string }).reason, /unsupported plot format \.txt/);
  assert.match((byId["c.json"] as { reason: string }).reason, /not valid JSON/);
  const d = byId.D!;
  assert.equal(d.kind, "lines", "a plot over two files draws the readable one");
  assert.equal(d.notes.length, 1);
  assert.equal(d.notes[0]!.file, "c.json");
});

test("an unknown revision is ERR_MTRACK_GIT_REV_NOT_FOUND; the UI's source and choices", async () => {
  tmp.write({ "pipeline.yaml": "plots:\n  - a.csv\n", "a.csv": "step,v\n0,1\n" });
  tmp.commit("one");
  tmp.git("tag", "v1");
  await assert.rejects(collectPlots(repo, [null, "nope"]), { code: "ERR_MTRACK_GIT_REV_NOT_FOUND" });
  const report = await plotsSource(repo).report(["v1", "workspace"]);
  assert.deepEqual(
    report.revisions.map((x) => x.name),
    ["v1", "workspace"],
  );
  const choices = await revisionChoices(repo, { commits: 5 });
  assert.deepEqual(
    choices.map((c) => c.kind),
    ["workspace", "head", "branch", "tag", "commit"],
  );
  assert.equal(choices[4]!.name.length, 10);
});

test("experiments: offered as choices (HEAD's first) and read by name", async () => {
  tmp.write({ "pipeline.yaml": "plots:\n  - a.csv\n", "a.csv": "step,v\n0,1\n" });
  tmp.commit("one");
  const head = tmp.git("rev-parse", "HEAD").trim();
  tmp.write({ "a.csv": "step,v\n0,2\n" });
  tmp.commit("exp");
  const exp = tmp.git("rev-parse", "HEAD").trim();
  tmp.git("reset", "-q", "--hard", head);
  tmp.git("update-ref", `refs/exps/${head.slice(0, 2)}/${head.slice(2)}/bold-fox`, exp);
  const choices = await revisionChoices(repo, { commits: 1 });
  assert.deepEqual(
    choices.filter((c) => c.kind !== "branch").map((c) => [c.name, c.kind]),
    [
      ["workspace", "workspace"],
      ["HEAD", "head"],
      ["bold-fox", "experiment"],
      [head.slice(0, 10), "commit"],
    ],
  );
  assert.equal(choices.find((c) => c.name === "bold-fox")?.commit, exp);
  const r = await collectPlots(repo, ["HEAD", "bold-fox"]);
  assert.deepEqual(
    r.revisions.map((x) => [x.name, x.commit]),
    [
      ["HEAD", head],
      ["bold-fox", exp],
    ],
  );
  const plot = r.plots[0]!;
  if (plot.kind !== "lines") assert.fail(plot.kind);
  assert.deepEqual(
    plot.series.map((s) => s.values),
    [[1], [2]],
  );
  await assert.rejects(collectPlots(repo, ["bold-fo"]), { code: "ERR_MTRACK_GIT_REV_NOT_FOUND" });
});

test("a plot naming a directory stands for each plots file under it, in the workspace and in git", async () => {
  tmp.write({
    "pipeline.yaml": "plots:\n  - live/plots/:\n      x: step\n      title: Live\n",
    "live/plots/metrics/loss.tsv": "step\tloss\n0\t1\n1\t0.5\n",
    "live/plots/metrics/acc.tsv": "step\tacc\n0\t0.1\n",
    "live/plots/notes.txt": "not a plot",
  });
  tmp.commit("one");
  tmp.write({ "live/plots/images/cm.png": Buffer.from("89504e470d0a1a0a", "hex") });
  const r = await collectPlots(repo, ["HEAD", null]);
  assert.deepEqual(
    r.plots.map((p) => [p.id, p.title, p.kind]),
    [
      ["live/plots/images/cm.png", "Live · images/cm.png", "images"],
      ["live/plots/metrics/acc.tsv", "Live · metrics/acc.tsv", "lines"],
      ["live/plots/metrics/loss.tsv", "Live · metrics/loss.tsv", "lines"],
    ],
  );
  const loss = r.plots[2]!;
  if (loss.kind === "lines") {
    assert.deepEqual(
      loss.series.map((s) => s.label),
      ["HEAD", "workspace"],
    );
  }
  assert.deepEqual(
    r.plots[0]!.notes.map((n) => n.rev),
    ["HEAD"],
    "the image is new in the workspace",
  );
});
