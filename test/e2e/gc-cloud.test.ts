/**
 * `mtrack gc --cloud` end to end through the built CLI: a directory version dropped from every branch is
 * deleted from the remote while what HEAD needs, and a run another clone pushed, survive (a fresh clone
 * pulls both); the grace period and --dry delete nothing; a root whose manifest is nowhere makes gc
 * refuse; `mtrack server` (a child process) refuses a read-only store and a bad token.
 * Build first: `npm run build`.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { LocalRemote } from "../../src/remotes/local.js";
import { hashBytes } from "../../src/store/hash.js";
import { errorCode, runCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { startServerProcess, stopProcess } from "../helpers/server.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";

interface CloudResult {
  cloud: { removed: number; kept: number; young: number; dryRun: boolean; packsRewritten: number };
}

const pointerHash = (text: string) => /hash: ([0-9a-f]{64})/.exec(text)?.[1] ?? "";

/** Which of `hashes` the directory remote holds. */
async function onRemote(dir: string, hashes: string[]): Promise<Set<string>> {
  const remote = LocalRemote.open({ dir });
  try {
    return await remote.has(hashes.map((hash) => ({ hash, size: 1 })));
  } finally {
    await remote.close();
  }
}

describe("gc --cloud end to end", { concurrency: 2 }, () => {
  test("directory remote: dropped version goes, HEAD and another clone's run stay", async (t) => {
    const remoteDir = makeTempDir();
    const a = makeTempGitRepo();
    const cli = async (args: string[], cwd = a.dir) => {
      const r = await runCli(args, { cwd, env: a.env, timeoutMs: 60_000 });
      return r;
    };
    const ok = async (args: string[], cwd = a.dir) => {
      const r = await cli(args, cwd);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      return r;
    };
    try {
      const v1: Record<string, string> = {};
      for (let i = 0; i < 6; i++) v1[`data/f${i}.txt`] = `version one ${i}\n`;
      a.write(v1);
      await ok(["init"]);
      await ok(["add", "data"]);
      await ok(["remote", "add", "origin", remoteDir, "--default"]);
      a.commit("v1");
      await ok(["push"]);
      const v1Manifest = pointerHash(fs.readFileSync(a.abs("data.mtrack"), "utf8"));
      const v1Objects = [v1Manifest, ...Object.values(v1).map((c) => hashBytes(Buffer.from(c)))];

      a.git("checkout", "-q", "-b", "exp");
      const onlyV2 = "only in version two\n";
      a.write({ "data/f0.txt": onlyV2, "data/extra.bin": "extra of version two\n" });
      await ok(["add", "data"]);
      a.commit("v2");
      await ok(["push"]);
      const v2Manifest = pointerHash(fs.readFileSync(a.abs("data.mtrack"), "utf8"));
      const v2Only = [
        v2Manifest,
        hashBytes(Buffer.from(onlyV2)),
        hashBytes(Buffer.from("extra of version two\n")),
      ];
      assert.equal((await onRemote(remoteDir, [...v1Objects, ...v2Only])).size, 10);

      // Another clone pushes a run this one never sees.
      const b = path.join(a.home, "clone-b");
      execFileSync("git", ["clone", "-q", "-b", "main", a.dir, b], { env: a.env, stdio: "ignore" });
      await ok(["run", "-n", "from-b", "-p", "lr=0.5", "--", "sh", "-c", "echo trained"], b);
      await ok(["push", "--runs"], b);

      a.git("checkout", "-q", "main");
      await ok(["checkout"]);
      a.git("branch", "-q", "-D", "exp");

      await t.test("a root whose manifest is nowhere: refused, nothing deleted", async () => {
        a.git("checkout", "-q", "-b", "broken");
        const text = fs.readFileSync(a.abs("data.mtrack"), "utf8");
        const ghost = "ab".repeat(32);
        fs.writeFileSync(a.abs("data.mtrack"), text.replace(v1Manifest, ghost));
        a.commit("a pointer to a directory nobody has");
        a.git("checkout", "-q", "main");
        const packsBefore = fs.readdirSync(path.join(remoteDir, "packs")).sort();
        const r = await cli(["gc", "--cloud", "--keep-newer", "0", "--json"]);
        assert.equal(r.code, 2, r.stdout);
        assert.equal(errorCode(r), "ERR_MTRACK_GC_UNSAFE");
        assert.match(JSON.stringify(r.json), new RegExp(ghost.slice(0, 12)));
        assert.deepEqual(fs.readdirSync(path.join(remoteDir, "packs")).sort(), packsBefore);
        assert.equal((await onRemote(remoteDir, v2Only)).size, 3);
        a.git("branch", "-q", "-D", "broken");
      });

      await t.test("the default grace period keeps what was just pushed", async () => {
        const r = await ok(["gc", "--cloud", "--json"]);
        const cloud = (r.json as CloudResult).cloud;
        assert.equal(cloud.removed, 0);
        assert.ok(cloud.young >= 3, JSON.stringify(cloud));
        assert.equal((await onRemote(remoteDir, v2Only)).size, 3);
      });

      await t.test("--dry reports and deletes nothing", async () => {
        const r = await ok(["gc", "--cloud", "--dry", "--keep-newer", "0", "--json"]);
        const cloud = (r.json as CloudResult).cloud;
        assert.equal(cloud.dryRun, true);
        assert.equal(cloud.removed, 3);
        assert.equal((await onRemote(remoteDir, v2Only)).size, 3);
      });

      await t.test(
        "gc --cloud deletes the dropped version; a fresh clone still pulls HEAD and the run",
        async () => {
          const r = await ok(["gc", "--cloud", "--keep-newer", "0", "--json"]);
          const cloud = (r.json as CloudResult).cloud;
          assert.equal(cloud.removed, 3, JSON.stringify(r.json));
          assert.equal((await onRemote(remoteDir, v2Only)).size, 0);
          assert.equal((await onRemote(remoteDir, v1Objects)).size, v1Objects.length);

          const c = path.join(a.home, "clone-c");
          execFileSync("git", ["clone", "-q", a.dir, c], { env: a.env, stdio: "ignore" });
          await ok(["pull", "--runs"], c);
          for (const [rel, content] of Object.entries(v1))
            assert.equal(fs.readFileSync(path.join(c, rel), "utf8"), content);
          const runs = await ok(["runs", "list", "--json"], c);
          const list = (runs.json as { runs: Array<{ name: string; params: Record<string, string> }> }).runs;
          assert.deepEqual(
            list.map((x) => [x.name, x.params.lr]),
            [["from-b", "0.5"]],
          );
        },
      );
    } finally {
      a.cleanup();
      removeTempDir(remoteDir);
    }
  });

  test("mtrack server: gc --cloud with a write token; refused read-only and with a bad token", async () => {
    const storeDir = makeTempDir();
    const env = { ...process.env, HOME: storeDir };
    const tokenRun = await runCli(
      ["server", "token", "create", "--store", storeDir, "--name", "e2e", "--json"],
      { cwd: storeDir, env },
    );
    assert.equal(tokenRun.code, 0, tokenRun.stderr);
    const token = (tokenRun.json as { token: string }).token;
    let server = await startServerProcess(storeDir, env);
    const a = makeTempGitRepo();
    const cli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
      runCli(args, {
        cwd: a.dir,
        env: { ...a.env, MTRACK_REMOTE_TOKEN: token, ...extraEnv },
        timeoutMs: 60_000,
      });
    try {
      a.write({ "data/x.txt": "kept\n" });
      for (const args of [["init"], ["add", "data"], ["remote", "add", "origin", server.url, "--default"]])
        assert.equal((await cli(args)).code, 0);
      a.commit("data");
      assert.equal((await cli(["push"])).code, 0);
      a.write({ "data/x.txt": "dropped\n" });
      assert.equal((await cli(["add", "data"])).code, 0);
      assert.equal((await cli(["push"])).code, 0);
      a.git("checkout", "--", "data.mtrack");
      assert.equal((await cli(["checkout", "--force"])).code, 0);
      const dropped = hashBytes(Buffer.from("dropped\n"));
      const packs = () => fs.readdirSync(path.join(storeDir, "packs")).sort();
      const before = packs();

      for (const bad of ["mtk_wrong", ""]) {
        const r = await cli(["gc", "--cloud", "--keep-newer", "0", "--json"], { MTRACK_REMOTE_TOKEN: bad });
        assert.equal(r.code, 2);
        assert.equal(errorCode(r), "ERR_MTRACK_REMOTE_AUTH");
        assert.deepEqual(packs(), before);
      }

      await stopProcess(server.child);
      server = await startServerProcess(storeDir, env, {
        port: new URL(server.url).port,
        readOnly: true,
      });
      const ro = await cli(["gc", "--cloud", "--keep-newer", "0", "--json"]);
      assert.equal(ro.code, 2);
      assert.equal(errorCode(ro), "ERR_MTRACK_REMOTE_AUTH");
      assert.match(JSON.stringify(ro.json), /read-only/);
      assert.deepEqual(packs(), before);

      await stopProcess(server.child);
      server = await startServerProcess(storeDir, env, { port: new URL(server.url).port });
      const r = await cli(["gc", "--cloud", "--keep-newer", "0", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      // The dropped file and the directory manifest naming it.
      assert.equal((r.json as CloudResult).cloud.removed, 2, JSON.stringify(r.json));
      assert.equal((await onRemote(storeDir, [dropped])).size, 0);
      assert.equal((await onRemote(storeDir, [hashBytes(Buffer.from("kept\n"))])).size, 1);
    } finally {
      await stopProcess(server.child);
      a.cleanup();
      removeTempDir(storeDir);
    }
  });
});
