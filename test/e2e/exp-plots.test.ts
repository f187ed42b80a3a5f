/**
 * `mtrack plots diff` over experiments: names as `exp show` lists them (refs under refs/exps/) are
 * overlaid next to git revisions and the workspace, in the HTML report and its JSON; an unknown name is
 * refused with a hint naming experiments. On the two-stage pipeline of test/helpers/exp-repo.ts, whose
 * train stage also writes a loss.csv plot here. Needs a build (`npm run build`).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { errorCode, runCli } from "../helpers/cli.js";
import { EXP_PIPELINE, makeExpRepo } from "../helpers/exp-repo.js";

// biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON output
type Json = any;

test("plots diff overlays experiments by name, with revisions and the workspace", async () => {
  const repo = makeExpRepo();
  const mtrack = (...args: string[]) =>
    runCli([...args, "--json"], { cwd: repo.dir, env: repo.env, timeoutMs: 120_000 });
  try {
    repo.write({
      "train.js":
        'const fs=require("fs");const lr=Number(/lr: (.*)/.exec(fs.readFileSync("params.yaml","utf8"))[1]);' +
        'fs.writeFileSync("metrics.json",JSON.stringify({acc:lr*2}));fs.writeFileSync("loss.csv","step,loss\\n0,1\\n1,"+(1-lr)+"\\n");\n',
      "pipeline.yaml": `${EXP_PIPELINE["pipeline.yaml"]}    plots:\n      - loss.csv:\n          cache: false\n`,
    });
    assert.equal((await mtrack("init")).code, 0);
    assert.equal((await mtrack("repro")).code, 0);
    repo.commit("base");
    let r = await mtrack("exp", "run", "-S", "lr=0.25,0.5", "-n", "lr", "-j", "2");
    assert.equal(r.code, 0, r.stderr);
    const shown = ((await mtrack("exp", "show")).json as Json).rows.filter(
      (x: Json) => x.kind === "experiment",
    );
    const commitOf = (name: string) => shown.find((x: Json) => x.name === name)?.commit;

    const out = path.join(repo.dir, "cmp.html");
    r = await mtrack("plots", "diff", "HEAD", "lr-1", "lr-2", "-o", out);
    assert.equal(r.code, 0, r.stderr);
    const data = r.json as Json;
    assert.deepEqual(
      data.revisions.map((x: Json) => [x.name, x.commit]),
      [
        ["HEAD", repo.git("rev-parse", "HEAD").trim()],
        ["lr-1", commitOf("lr-1")],
        ["lr-2", commitOf("lr-2")],
      ],
    );
    const loss = data.plots.find((p: Json) => p.id.includes("loss.csv"));
    assert.equal(loss.kind, "lines");
    assert.deepEqual(
      loss.series.map((s: Json) => [s.rev, s.values]),
      [
        ["HEAD", [1, 0.9]],
        ["lr-1", [1, 0.75]],
        ["lr-2", [1, 0.5]],
      ],
    );
    // The metrics table has a column per experiment too.
    assert.deepEqual(
      data.revisions.map((x: Json) => x.metrics["metrics.json"]?.acc),
      [0.2, 0.5, 1],
    );
    const html = fs.readFileSync(out, "utf8");
    assert.match(html, /lr-1/);
    assert.match(html, /lr-2/);

    // An experiment next to the workspace; `exp diff`'s other names work in `params diff` too.
    r = await mtrack("plots", "diff", "lr-2", "workspace");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (r.json as Json).revisions.map((x: Json) => x.name),
      ["lr-2", "workspace"],
    );
    r = await mtrack("params", "diff", "HEAD", "lr-1");
    assert.equal(r.code, 0, r.stderr);
    assert.match(JSON.stringify(r.json), /0\.25/);

    r = await mtrack("plots", "diff", "HEAD", "no-such-exp");
    assert.equal(r.code, 2);
    assert.equal(errorCode(r), "ERR_MTRACK_GIT_REV_NOT_FOUND");
    assert.match((r.json as Json).error.hint, /experiment/);
  } finally {
    repo.cleanup();
  }
});
