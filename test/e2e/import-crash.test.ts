/**
 * Crash safety of import, import-url and update (issue 18: "no pointer without its data, no data without
 * its pointer"): the writing process is SIGKILLed between the data and its pointer (test/helpers/
 * crash-import.ts injects the kill just before a chosen rename). The next command (`status` here, or
 * any command that takes the lock) finishes the write from the store: data and pointer agree, and
 * nothing is left in the journal. Needs a build.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { packageRoot, runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";

// biome-ignore lint/suspicious/noExplicitAny: --json output is read field by field
type Json = any;

/** Runs the crash helper; asserts it was killed (not finished, not failed). */
function crash(repo: TempGitRepo, args: string[]): void {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", path.join(packageRoot(), "test", "helpers", "crash-import.ts"), repo.dir, ...args],
    { cwd: packageRoot(), env: repo.env, encoding: "utf8", timeout: 120_000 },
  );
  assert.equal(r.signal, "SIGKILL", `not killed: ${r.status} ${r.stdout}\n${r.stderr}`);
}

function pendingEntries(repo: TempGitRepo): string[] {
  const dir = repo.abs(".mtrack/state/pending");
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

async function ok(repo: TempGitRepo, args: string[], cwd = repo.dir): Promise<Json> {
  const r = await runCli([...args, "--json"], { cwd, env: repo.env, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
  return r.json;
}

test("import-url killed between its data and its pointer: the next command completes it", async () => {
  const repo = makeTempGitRepo();
  const outside = makeTempDir();
  try {
    repo.write({ "x.txt": "x" });
    repo.commit("init");
    await ok(repo, ["init"]);
    const file = path.join(outside, "data.csv");
    fs.writeFileSync(file, "a,b\n1,2\n");
    crash(repo, ["before-pointer", "import-url", file, "data.csv"]);
    // The kill left the data in place without its pointer (and the journal entry).
    assert.equal(fs.readFileSync(repo.abs("data.csv"), "utf8"), "a,b\n1,2\n");
    assert.ok(!fs.existsSync(repo.abs("data.csv.mtrack")));

    const st = await ok(repo, ["status"]);
    assert.ok(fs.existsSync(repo.abs("data.csv.mtrack")), "status completed the pointer");
    assert.deepEqual(
      (st.imports as Json[]).map((i) => i.path),
      ["data.csv"],
    );
    assert.deepEqual(pendingEntries(repo), []);
    assert.match(fs.readFileSync(repo.abs(".gitignore"), "utf8"), /^\/data\.csv$/m);
    // The import is whole: update finds it up to date, and git sees only the pointer and .gitignore.
    assert.equal((await ok(repo, ["update", "data.csv"])).updated[0].changed, false);
    const untracked = repo.git("status", "--porcelain", "-uall").split("\n");
    assert.deepEqual(untracked.filter((l) => !l.startsWith("?? .mtrack/")).sort(), [
      "?? .gitignore",
      "?? data.csv.mtrack",
    ]);
  } finally {
    repo.cleanup();
    removeTempDir(outside);
  }
});

test("update killed after the old data went and before the new arrived: rolled forward", async () => {
  const src = makeTempGitRepo();
  const remote = makeTempDir();
  const consumer = makeTempGitRepo();
  try {
    src.write({ "data/images/a.txt": "a\n", "data/images/b.txt": "b\n" });
    await ok(src, ["init"]);
    await ok(src, ["add", "data/images"]);
    await ok(src, ["remote", "add", "store", remote, "--default"]);
    src.commit("v1");
    await ok(src, ["push"]);
    consumer.write({ "x.txt": "x" });
    consumer.commit("init");
    await ok(consumer, ["init"]);
    await ok(consumer, ["import", src.dir, "data/images"]);
    src.write({ "data/images/c.txt": "c\n" });
    await ok(src, ["add", "data/images"]);
    const v2 = src.commit("v2");
    await ok(src, ["push"]);

    crash(consumer, ["before-data", "update", "images"]);
    assert.ok(!fs.existsSync(consumer.abs("images/c.txt")), "killed before the new data was in place");

    // A command that takes the lock (checkout here) finishes the update before doing its own work.
    await ok(consumer, ["checkout"]);
    assert.equal(fs.readFileSync(consumer.abs("images/c.txt"), "utf8"), "c\n");
    assert.match(fs.readFileSync(consumer.abs("images.mtrack"), "utf8"), new RegExp(`commit: "?${v2}`));
    assert.deepEqual(pendingEntries(consumer), []);
    const st = await ok(consumer, ["status"]);
    assert.equal(st.clean, true, JSON.stringify(st));
    assert.deepEqual(
      fs.readdirSync(consumer.dir).filter((n) => n.includes("mtrack-tmp")),
      [],
      "no half-built directory left",
    );
  } finally {
    src.cleanup();
    consumer.cleanup();
    removeTempDir(remote);
  }
});

test("an update whose pointer cannot be written puts the old version back (error, not a kill)", async () => {
  const { Repo } = await import("../../src/repo.js");
  const { updateImports } = await import("../../src/sources/update.js");
  const repo = makeTempGitRepo();
  const outside = makeTempDir();
  try {
    repo.write({ "x.txt": "x" });
    repo.commit("init");
    await ok(repo, ["init"]);
    const file = path.join(outside, "data.csv");
    fs.writeFileSync(file, "v1\n");
    await ok(repo, ["import-url", file, "data.csv"]);
    const before = fs.readFileSync(repo.abs("data.csv.mtrack"), "utf8");
    fs.writeFileSync(file, "version 2\n");
    const failing = {
      ...fs,
      renameSync: (src: fs.PathLike, dest: fs.PathLike) => {
        if (String(dest) === repo.abs("data.csv.mtrack"))
          throw Object.assign(new Error("EIO: i/o error, rename"), { code: "EIO" });
        fs.renameSync(src, dest);
      },
    } as typeof fs;
    const lib = Repo.open({ cwd: repo.dir, fs: failing });
    await assert.rejects(
      lib.withLock("update", () => updateImports(lib, [repo.abs("data.csv")], { env: repo.env })),
    );
    assert.equal(fs.readFileSync(repo.abs("data.csv.mtrack"), "utf8"), before);
    assert.equal(fs.readFileSync(repo.abs("data.csv"), "utf8"), "v1\n", "the old data is back");
    assert.deepEqual(pendingEntries(repo), []);
    assert.equal((await ok(repo, ["status"])).clean, true);
  } finally {
    repo.cleanup();
    removeTempDir(outside);
  }
});
