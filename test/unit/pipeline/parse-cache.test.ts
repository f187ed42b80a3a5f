// biome-ignore-all lint/suspicious/noTemplateCurlyInString: pipeline files use ${...} syntax literally
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { loadPipeline } from "../../../src/pipeline/load.js";
import { lookupParse, storeParse } from "../../../src/pipeline/parse-cache.js";
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

describe("parse cache", () => {
  it("hits only when the main text and every other input read are unchanged", () => {
    const files: Record<string, string | null> = { "params.yaml": "a: 1\n", "gone.yaml": null };
    const read = (n: string) => files[n] ?? null;
    storeParse(
      repo,
      "pipeline",
      "p.yaml",
      [
        ["p.yaml", "text"],
        ["params.yaml", "a: 1\n"],
        ["gone.yaml", null],
      ],
      {
        v: 1,
      },
    );
    assert.deepEqual(lookupParse(repo, "pipeline", "p.yaml", "text", read), { v: 1 });
    assert.equal(lookupParse(repo, "pipeline", "p.yaml", "text2", read), undefined);
    files["params.yaml"] = "a: 2\n";
    assert.equal(lookupParse(repo, "pipeline", "p.yaml", "text", read), undefined);
    files["params.yaml"] = "a: 1\n";
    files["gone.yaml"] = "now here\n";
    assert.equal(lookupParse(repo, "pipeline", "p.yaml", "text", read), undefined);
  });

  it("does not cache values JSON would change, and survives a damaged cache file", () => {
    storeParse(repo, "lock", "l", [["l", "x"]], { lr: Number.POSITIVE_INFINITY });
    assert.equal(
      lookupParse(repo, "lock", "l", "x", () => null),
      undefined,
    );
    storeParse(repo, "lock", "l", [["l", "x"]], { lr: 1 });
    const dir = path.join(repo.paths.stateDir, "parsed");
    for (const f of fs.readdirSync(dir)) fs.writeFileSync(path.join(dir, f), "{broken");
    assert.equal(
      lookupParse(repo, "lock", "l", "x", () => null),
      undefined,
    );
  });

  it("loadPipeline gives the same result from the cache, and sees a params change", () => {
    tmp.write({
      "pipeline.yaml": "stages:\n  s:\n    cmd: echo ${lr}\n    outs: [o]\n",
      "params.yaml": "lr: 1\n",
      "pipeline.lock":
        "version: 1\nstages:\n  s:\n    cmd: echo 1\n    params:\n      params.yaml:\n        lr: 1\n",
    });
    const first = loadPipeline(repo);
    const second = loadPipeline(repo);
    assert.deepEqual(second.pipeline, JSON.parse(JSON.stringify(first.pipeline)));
    assert.deepEqual(second.lock, first.lock);
    tmp.write({ "params.yaml": "lr: 2\n" });
    assert.equal(loadPipeline(repo).pipeline.stages[0]?.cmd, "echo 2");
  });
});
