/**
 * Issue #19 §1: `repro` removes a stage's outputs before running it, so no out may name the repository,
 * `.git` or `.mtrack` — refused at parse time with the stage and line, and again where outputs are removed.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { isMtrackError } from "../../../src/errors.js";
import { loadPipeline } from "../../../src/pipeline/load.js";
import { parsePipeline, repoRelative, reservedDirOf } from "../../../src/pipeline/parse.js";
import { reproduce } from "../../../src/pipeline/run.js";
import type { Stage } from "../../../src/pipeline/types.js";
import { WorkspaceIO } from "../../../src/pipeline/workspace-io.js";
import { initRepo, Repo } from "../../../src/repo.js";
import { makeTempGitRepo } from "../../helpers/git-repo.js";

function parse(stage: string, file = "pipeline.yaml") {
  return parsePipeline({
    text: `stages:\n  s:\n    cmd: echo hi\n${stage}`,
    file,
    readFile: () => undefined,
  });
}

function refused(stage: string, pattern: RegExp, file?: string) {
  assert.throws(
    () => parse(stage, file),
    (e) => isMtrackError(e, "ERR_MTRACK_PIPELINE_INVALID") && pattern.test(e.message),
    stage,
  );
}

test("outs and deps naming the repository, .git or .mtrack are refused with the stage and line", () => {
  for (const out of [".git", "./.git/", ".GIT", ".git/hooks", ".mtrack", ".mtrack/cache", ".Mtrack/x"])
    refused(
      `    outs:\n      - ${out}\n`,
      /^pipeline\.yaml:5:9: stage 's': output .* (is|is inside) \.(git|mtrack)/,
    );
  for (const out of ["'.'", "sub/..", "a/../."])
    refused(`    outs:\n      - ${out}\n`, /is the repository itself/);
  refused(`    wdir: sub\n    outs:\n      - ..\n`, /is the repository itself/);
  refused(`    wdir: sub\n    outs:\n      - ../.git\n`, /is \.git/);
  refused(`    outs:\n      - ../x\n`, /outside the repository/);
  refused(`    metrics:\n      - .git/m.json\n`, /metrics file '\.git\/m\.json' is inside \.git/);
  refused(`    deps:\n      - .mtrack/cache\n`, /dependency/);
  refused(`    wdir: ../..\n    outs:\n      - x\n`, /wdir '\.\.\/\.\.' is outside the repository/);
  refused(`    wdir: .git\n`, /wdir '\.git' is inside \.git/);
  // A pipeline in a subfolder: '..' is the repository root.
  refused(`    outs:\n      - ..\n`, /is the repository itself/, "sub/pipeline.yaml");
  refused(`    outs:\n      - ../.git\n`, /is \.git/, "sub/pipeline.yaml");
  // Ordinary paths stay accepted, also ones that merely start like reserved names.
  for (const ok of ["out", ".github/x", ".gitignore-data", "a/.git-like", "data/../out"])
    assert.equal(parse(`    outs:\n      - ${ok}\n`).stages[0]?.outs.length, 1, ok);
  assert.equal(parse(`    outs:\n      - ../out\n`, "sub/pipeline.yaml").stages[0]?.outs[0]?.path, "../out");
});

test("repoRelative and reservedDirOf", () => {
  assert.equal(repoRelative("", "."), "");
  assert.equal(repoRelative("sub", ".."), "");
  assert.equal(repoRelative("sub", "../../x"), null);
  assert.equal(repoRelative("", "a/b/"), "a/b");
  assert.equal(reservedDirOf(".GIT/hooks"), ".git");
  assert.equal(reservedDirOf(".github"), undefined);
});

test("the code that removes outputs refuses reserved paths whatever the parser let through", async () => {
  const tmp = makeTempGitRepo();
  try {
    initRepo({ cwd: tmp.dir });
    const repo = Repo.open({ cwd: tmp.dir });
    tmp.write({ "pipeline.yaml": "stages:\n  s:\n    cmd: echo hi\n    outs: [out]\n" });
    const loaded = loadPipeline(repo, "pipeline.yaml");
    const io = new WorkspaceIO({ repo, ...loaded, runCache: false });
    const stage = loaded.dag.order[0] as Stage;
    const pos = stage.outs[0]!.pos;
    for (const p of [".git", ".", ".mtrack/cache", "sub/../.GIT"]) {
      await assert.rejects(
        io.removeOutputs(stage, [{ path: p, kind: "outs", cache: true, persist: false, options: {}, pos }]),
        (e) => isMtrackError(e, "ERR_MTRACK_PATH_RESERVED"),
        p,
      );
    }
    assert.ok(fs.existsSync(tmp.abs(".git/HEAD")), ".git is still there");
    io.close();
  } finally {
    tmp.cleanup();
  }
});

test("repro refuses a cached output that git tracks, before running anything", async () => {
  const tmp = makeTempGitRepo();
  try {
    initRepo({ cwd: tmp.dir });
    tmp.write({
      "model.bin": "committed",
      "pipeline.yaml":
        "stages:\n  s:\n    cmd: echo new > model.bin && echo {} > m.json\n    outs: [model.bin]\n    metrics:\n      - m.json:\n          cache: false\n",
      "m.json": "{}",
    });
    tmp.commit("model in git");
    const repo = Repo.open({ cwd: tmp.dir });
    const loaded = loadPipeline(repo, "pipeline.yaml");
    const io = new WorkspaceIO({ repo, ...loaded, runCache: false });
    assert.throws(
      () => io.checkOutputsNotInGit(loaded.dag.order),
      (e) =>
        isMtrackError(e, "ERR_MTRACK_TRACKED_BY_GIT") &&
        /pipeline\.yaml:4:\d+: stage 's': output 'model\.bin' is tracked by git/.test(e.message) &&
        /git rm -r --cached 'model\.bin'/.test(e.hint ?? ""),
    );
    // A cache: false metrics file in git is fine (that is where it belongs).
    tmp.git("rm", "-q", "--cached", "model.bin");
    io.checkOutputsNotInGit(loaded.dag.order);
    await reproduce({ dag: loaded.dag, lock: loaded.lock, io, dir: tmp.dir, env: process.env });
    assert.equal(fs.readFileSync(tmp.abs("model.bin"), "utf8"), "new\n");
    io.close();
  } finally {
    tmp.cleanup();
  }
});
