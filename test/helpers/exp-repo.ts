/**
 * A small non-demo two-stage node pipeline in a temp git repo (see git-repo.ts), for the `mtrack exp`
 * tests: `prep` writes data.txt from `data.n` (and appends one "x" per run to COUNT_FILE), `train` writes
 * metrics.json `{acc: lr*2}`, fails (exit 3) for a negative lr and hangs for a minute for lr >= 100 (a
 * trial to kill).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { makeTempGitRepo, type TempGitRepo } from "./git-repo.js";

export interface ExpRepo extends TempGitRepo {
  /** The file prep appends one "x" to per run (outside the work tree). */
  count: string;
}

/** The pipeline files of {@link makeExpRepo}. */
export const EXP_PIPELINE: Record<string, string> = {
  "params.yaml": "lr: 0.1\ndata:\n  n: 5\n",
  "prep.js":
    'const fs=require("fs");const n=/n: (\\d+)/.exec(fs.readFileSync("params.yaml","utf8"))[1];' +
    'fs.writeFileSync("data.txt","data "+n+"\\n");fs.appendFileSync(process.env.COUNT_FILE,"x");\n',
  "train.js":
    'const fs=require("fs");const lr=Number(/lr: (.*)/.exec(fs.readFileSync("params.yaml","utf8"))[1]);' +
    "if(lr<0)process.exit(3);if(lr>=100)setTimeout(()=>process.exit(0),60000);" +
    'else fs.writeFileSync("metrics.json",JSON.stringify({acc:lr*2}));\n',
  "pipeline.yaml":
    "stages:\n  prep:\n    cmd: node prep.js\n    deps: [prep.js]\n    params: [data.n]\n    outs: [data.txt]\n" +
    "  train:\n    cmd: node train.js\n    deps: [data.txt, train.js]\n    params: [lr]\n    metrics:\n      - metrics.json:\n          cache: false\n",
};

/**
 * The pipeline in a fresh git repo (nothing committed, mtrack not initialized). A git identity is set in
 * the isolated HOME too, so clones made with `repo.env` can commit.
 *
 * @example
 * const repo = makeExpRepo(); try { await runCli(["init"], { cwd: repo.dir, env: repo.env }) } finally { repo.cleanup() }
 */
export function makeExpRepo(): ExpRepo {
  const repo = makeTempGitRepo();
  const count = path.join(repo.home, "prep-count");
  fs.writeFileSync(count, "");
  fs.writeFileSync(path.join(repo.home, ".gitconfig"), "[user]\n\tname = Test\n\temail = test@example.com\n");
  repo.write(EXP_PIPELINE);
  return { ...repo, env: { ...repo.env, COUNT_FILE: count }, count };
}
