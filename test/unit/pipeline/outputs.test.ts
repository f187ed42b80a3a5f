import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { filesForGit } from "../../../src/pipeline/git-files.js";
import { loadPipeline } from "../../../src/pipeline/load.js";
import { lockedOutputs, selectCheckout } from "../../../src/pipeline/outputs.js";
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

const H = "ab".repeat(32);
const entry = (p: string, files?: number) =>
  `      - path: ${p}\n        hash: ${H}\n        size: 3\n${files === undefined ? "" : `        files: ${files}\n`}`;
const lock = (outs: string) => `version: 1\nstages:\n  s:\n    cmd: x\n    outs:\n${outs}`;
const PIPE = `stages:
  s:
    cmd: x
    outs: [out, model.bin]
    metrics:
      - m.json:
          cache: false
`;

describe("lockedOutputs", () => {
  it("lists cached outputs as pointers; cache: false outputs are git's", () => {
    tmp.write({
      "pipeline.yaml": PIPE,
      "pipeline.lock": lock(entry("out", 2) + entry("model.bin") + entry("m.json")),
    });
    assert.deepEqual(
      lockedOutputs(repo).map((o) => [o.path, o.pointer.type, o.pointer.files]),
      [
        ["model.bin", "file", undefined],
        ["out", "directory", 2],
      ],
    );
  });

  it("refuses paths a hostile lock names: .git in any case, .mtrack, the root, outside", () => {
    tmp.write({
      "pipeline.lock": lock(
        entry(".GIT/hooks/x") + entry(".mtrack/cache") + entry(".") + entry("../x") + entry("ok.bin"),
      ),
    });
    assert.deepEqual(
      lockedOutputs(repo).map((o) => o.path),
      ["ok.bin"],
    );
  });

  it("with an unparseable pipeline, leaves out the outputs git tracks", () => {
    tmp.write({
      "pipeline.yaml": "stages: [",
      "pipeline.lock": lock(entry("m.json") + entry("model.bin")),
      "m.json": "{}",
    });
    tmp.commit("metrics in git");
    assert.deepEqual(
      lockedOutputs(repo).map((o) => o.path),
      ["model.bin"],
    );
  });

  it("reads the locks of pipelines in subfolders git tracks, their paths relative to the folder", () => {
    tmp.write({
      "sub/pipeline.yaml": PIPE,
      "sub/pipeline.lock": lock(entry("out", 2) + entry("m.json")),
      "sub/m.json": "{}",
      "untracked/pipeline.yaml": PIPE,
      "untracked/pipeline.lock": lock(entry("model.bin")),
    });
    tmp.git("add", "sub/pipeline.yaml", "sub/pipeline.lock");
    assert.deepEqual(
      lockedOutputs(repo).map((o) => [o.path, o.lockFile]),
      [["sub/out", "sub/pipeline.lock"]],
    );
  });

  it("selectCheckout: an output, a folder holding it, or a file inside it selects it", () => {
    tmp.write({ "pipeline.yaml": PIPE, "pipeline.lock": lock(entry("out", 2) + entry("model.bin")) });
    for (const target of ["out", "out/sub/a.txt"]) {
      const sel = selectCheckout(repo, [tmp.abs(target)]);
      assert.deepEqual(sel.paths, ["out"], target);
      assert.equal(sel.outputs.get("out")?.hash, H);
    }
    assert.deepEqual(selectCheckout(repo, undefined).paths, ["model.bin", "out"]);
    assert.throws(
      () => selectCheckout(repo, [tmp.abs("elsewhere")]),
      (e: { code?: string }) => e.code === "ERR_MTRACK_NOT_TRACKED",
    );
  });
});

describe("filesForGit", () => {
  it("names the lock, .gitignore files and cache: false outputs whose content the index lacks", () => {
    tmp.write({
      "pipeline.yaml": PIPE.replace("[out, model.bin]", "[out, sub/model.bin]"),
      "pipeline.lock": "version: 1\n",
      ".gitignore": "/out\n",
      "sub/.gitignore": "/model.bin\n",
      "m.json": "{}",
    });
    const loaded = () => loadPipeline(repo, "pipeline.yaml");
    assert.deepEqual(filesForGit(repo, loaded()), [
      ".gitignore",
      "m.json",
      "pipeline.lock",
      "sub/.gitignore",
    ]);
    tmp.commit("all in git");
    assert.deepEqual(filesForGit(repo, loaded()), []);
    tmp.write({ "m.json": '{"acc": 1}' });
    assert.deepEqual(filesForGit(repo, loaded()), ["m.json"]);
  });
});
