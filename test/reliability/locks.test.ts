/**
 * Concurrent writers and stale locks (issue 19): two adds, two commits and two tracked runs at once
 * either both succeed or one fails with ERR_MTRACK_LOCKED, and the store is never corrupt; a lock label
 * left by another host (a killed container) or naming a reused live pid blocks no command. Needs a build.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import { test } from "node:test";
import { initRepo } from "../../src/repo.js";
import { type CliResult, errorCode, runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";
import { bytesFor, storeProblems } from "./kill-loop.js";

function mtrack(repo: TempGitRepo, ...args: string[]): Promise<CliResult> {
  // `--json` goes before a `--` (after it, it would be the tracked command's argument).
  const dash = args.indexOf("--");
  const withJson = dash < 0 ? [...args, "--json"] : [...args.slice(0, dash), "--json", ...args.slice(dash)];
  return runCli(withJson, { cwd: repo.dir, env: repo.env, timeoutMs: 60_000 });
}

function twoDirs(repo: TempGitRepo, version: number): void {
  const files: Record<string, Buffer> = {};
  for (const d of ["one", "two"]) {
    files[`${d}/big.bin`] = bytesFor(3 << 20, version * 10 + d.length);
    for (let i = 0; i < 150; i++) files[`${d}/s/${i}.txt`] = Buffer.from(`${d} ${version} ${i}\n`);
  }
  repo.write(files);
}

test("concurrent writers: both succeed or one fails with a lock error; the store is never corrupt", async (t) => {
  const repo = makeTempGitRepo();
  try {
    initRepo({ cwd: repo.dir });
    const outcomes: string[] = [];
    const pair = async (what: string, a: string[], b: string[]) => {
      const rs = await Promise.all([mtrack(repo, ...a), mtrack(repo, ...b)]);
      for (const r of rs) {
        if (r.code === 0) outcomes.push(`${what}: ok`);
        else {
          assert.equal(errorCode(r), "ERR_MTRACK_LOCKED", `${what}: ${r.stdout}${r.stderr}`);
          outcomes.push(`${what}: locked`);
        }
      }
      assert.deepEqual(storeProblems(repo.abs(".mtrack/cache"), "store"), [], what);
    };
    twoDirs(repo, 0);
    await pair("add", ["add", "one"], ["add", "two"]);
    // Whatever lost the race is added now, so both are tracked for the commits.
    assert.equal((await mtrack(repo, "add", "one", "two")).code, 0);
    twoDirs(repo, 1);
    await pair("commit", ["commit", "one"], ["commit", "two"]);
    const logger = ["run", "--", process.execPath, "-e", "for (let i = 0; i < 200; i++) console.log(i)"];
    await pair("run", logger, logger);
    const fsck = await mtrack(repo, "fsck");
    assert.equal(fsck.code, 0, fsck.stdout);
    t.diagnostic(`concurrent writers: ${outcomes.join(", ")}; fsck clean`);
  } finally {
    repo.cleanup();
  }
});

test("stale lock labels (another host, a reused live pid) block no command", async (t) => {
  const repo = makeTempGitRepo();
  const sleeper = spawn("sleep", ["120"], { stdio: "ignore" });
  try {
    initRepo({ cwd: repo.dir });
    assert.equal((await mtrack(repo, "config", "core.lock_timeout", "2")).code, 0);
    const remote = `${repo.home}/remote`;
    fs.mkdirSync(remote);
    assert.equal((await mtrack(repo, "remote", "add", "origin", remote, "--default")).code, 0);
    const labels = {
      "other host": {
        pid: 1,
        host: `gone-container-${os.hostname()}`,
        time: new Date().toISOString(),
        purpose: "add",
      },
      "reused pid": {
        pid: sleeper.pid,
        host: os.hostname(),
        time: new Date(Date.now() - 3_600_000).toISOString(),
      },
    };
    let version = 0;
    const ran: string[] = [];
    for (const [kind, label] of Object.entries(labels)) {
      const commands: string[][] = [
        ["add", "one", "two"],
        ["commit"],
        ["push"],
        ["checkout"],
        ["status"],
        ["gc"],
      ];
      for (const args of commands) {
        if (args[0] === "add" || args[0] === "commit") twoDirs(repo, ++version);
        fs.writeFileSync(repo.abs(".mtrack/lock"), JSON.stringify(label));
        const t0 = Date.now();
        const r = await mtrack(repo, ...args);
        assert.ok(
          r.code === 0 || (args[0] === "status" && r.code === 1),
          `${kind}: ${args.join(" ")}: ${r.stdout}${r.stderr}`,
        );
        assert.notEqual(errorCode(r), "ERR_MTRACK_LOCKED");
        assert.ok(Date.now() - t0 < 15_000, `${kind}: ${args[0]} did not wait for the stale label`);
        ran.push(`${kind}/${args[0]}`);
      }
    }
    assert.equal((await mtrack(repo, "fsck")).code, 0);
    t.diagnostic(`stale locks: ${ran.length} commands proceeded past a stale label (${ran.join(", ")})`);
  } finally {
    sleeper.kill("SIGKILL");
    repo.cleanup();
  }
});
