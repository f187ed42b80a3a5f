/**
 * kill -9 of `mtrack repro` at random points (issue 19), over a pipeline of two stages (`prepare` writes
 * a 4 MB directory, `summarize` reads it): the process group is killed, so a kill can land in a stage's
 * command, in the saving of its outputs to the store or in the writing of pipeline.lock. Right after
 * each kill the store holds no corrupt object and every output pipeline.lock names is whole in the store;
 * `repro` run again completes, fsck is clean, the outputs are those of the current params and nothing is
 * left to run. Every run changes a param, so both stages rerun. Needs a build.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { initRepo } from "../../src/repo.js";
import { runCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { bytesFor, killLoop, manifestComplete, storeProblems, withStore } from "./kill-loop.js";

const PIPELINE = `stages:
  prepare:
    cmd: mkdir -p prepared && cat data/a.bin data/b.bin > prepared/all.bin && echo \${prep.n} > prepared/n.txt
    deps: [data/a.bin, data/b.bin]
    params: [prep.n]
    outs: [prepared]
  summarize:
    cmd: wc -c < prepared/all.bin > summary.txt && cat prepared/n.txt >> summary.txt
    deps: [prepared]
    outs: [summary.txt]
`;

interface LockOut {
  path: string;
  hash: string;
  files?: number;
}

/** Every output pipeline.lock records, with its hash. */
function lockOuts(file: string): LockOut[] {
  if (!fs.existsSync(file)) return [];
  const lock = parse(fs.readFileSync(file, "utf8")) as { stages?: Record<string, { outs?: LockOut[] }> };
  return Object.values(lock.stages ?? {}).flatMap((s) => s.outs ?? []);
}

test("kill -9 of repro (two stages): no corrupt object, no output recorded without its data, no repair", async (t) => {
  const repo = makeTempGitRepo();
  try {
    initRepo({ cwd: repo.dir });
    const a = bytesFor(2 << 20, 1);
    const b = bytesFor(2 << 20, 2);
    repo.write({
      "data/a.bin": a,
      "data/b.bin": b,
      "pipeline.yaml": PIPELINE,
      "params.yaml": "prep:\n  n: 0\n",
    });
    repo.commit("pipeline");
    const cache = path.join(repo.dir, ".mtrack", "cache");
    const lockFile = repo.abs("pipeline.lock");
    const all = Buffer.concat([a, b]);
    let n = 0;
    const figures = await killLoop({
      t,
      name: "repro",
      args: ["repro", "--json"],
      cwd: repo.dir,
      env: repo.env,
      repoDir: repo.dir,
      // A new param value every time: both stages have to run (the run-cache has never seen it).
      prepare: (i) => {
        n = i + 1;
        fs.writeFileSync(repo.abs("params.yaml"), `prep:\n  n: ${n}\n`);
      },
      afterKill: () => {
        const problems = storeProblems(cache, "store");
        // A lock entry is written only after its outputs are in the store.
        for (const o of lockOuts(lockFile)) {
          const p = withStore(cache, (s) =>
            o.files !== undefined
              ? manifestComplete(s, o.hash)
              : s.verify(o.hash) === "ok"
                ? []
                : [`object ${s.verify(o.hash)}`],
          );
          for (const x of p) problems.push(`pipeline.lock out ${o.path}: ${x}`);
        }
        return problems;
      },
      check: async () => {
        const problems: string[] = [];
        const read = (rel: string) =>
          fs.existsSync(repo.abs(rel)) ? fs.readFileSync(repo.abs(rel)) : undefined;
        if (!read("prepared/all.bin")?.equals(all))
          problems.push("prepared/all.bin is not data/a.bin + data/b.bin");
        if (read("prepared/n.txt")?.toString() !== `${n}\n`) problems.push(`prepared/n.txt is not ${n}`);
        if (read("summary.txt")?.toString().replace(/^\s+/, "") !== `${all.length}\n${n}\n`)
          problems.push(`summary.txt is ${JSON.stringify(read("summary.txt")?.toString())}`);
        const dry = await runCli(["repro", "--dry", "--json"], { cwd: repo.dir, env: repo.env });
        const stages =
          (dry.json as { stages?: { name: string; action: string }[] } | undefined)?.stages ?? [];
        const left = stages.filter((s) => s.action !== "skip").map((s) => s.name);
        if (dry.code !== 0 || stages.length !== 2 || left.length > 0)
          problems.push(`repro --dry after the rerun: exit ${dry.code}, still to run: ${left.join(", ")}`);
        return problems;
      },
    });
    assert.deepEqual(figures.failures, []);
    assert.equal(figures.repairsNeeded, 0);
    assert.ok(figures.kills >= Math.min(30, figures.attempts) * 0.5, "most attempts were kills");
  } finally {
    repo.cleanup();
  }
});
