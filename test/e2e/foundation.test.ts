/**
 * Journey 1 end to end, through the built CLI in a fresh git repository: init, add, status, commit,
 * git checkout + mtrack checkout, get at a revision, remove, gc, fsck. Asserts exit codes and --json
 * output, never wording. Needs a build (`npx tsc -p tsconfig.json && npx oclif manifest`).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { type CliResult, runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";
import { readTree } from "../helpers/tmp.js";

// biome-ignore lint/suspicious/noExplicitAny: --json output is checked field by field
type Json = any;

function mtrack(repo: TempGitRepo, ...args: string[]): Promise<CliResult> {
  return runCli([...args, "--json"], { cwd: repo.dir, env: repo.env });
}

function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return b;
}

function modeOf(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

/** Every loose object file in the store (`objects/xx/rest`) as hash → absolute path. */
function looseObjects(repo: TempGitRepo): Map<string, string> {
  const out = new Map<string, string>();
  const objects = repo.abs(".mtrack/cache/objects");
  for (const pre of fs.readdirSync(objects)) {
    for (const rest of fs.readdirSync(path.join(objects, pre)))
      out.set(pre + rest, path.join(objects, pre, rest));
  }
  return out;
}

test("journey 1: add, status, commit, git checkout + mtrack checkout, get, remove, gc, fsck", async () => {
  const repo = makeTempGitRepo();
  try {
    const v1Files = {
      "data/train/a.csv": "x,y\n1,2\n",
      "data/train/sub/b.csv": "x,y\n3,4\n",
      "data/test/c.csv": "x,y\n5,6\n",
      "data/run.sh": "#!/bin/sh\necho hi\n",
      "data/big.bin": pattern(400 * 1024, 1),
      "notes.txt": "untracked, never touched\n",
    };
    repo.write(v1Files);
    fs.chmodSync(repo.abs("data/run.sh"), 0o755);

    let r = await mtrack(repo, "init");
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.json as Json).created, true);
    assert.ok(fs.existsSync(repo.abs(".mtrack/config.yaml")));

    r = await mtrack(repo, "add", "data");
    assert.equal(r.code, 0, r.stderr);
    let p = (r.json as Json).paths[0];
    assert.deepEqual(
      [p.path, p.pointer, p.type, p.files, p.changed, p.created],
      ["data", "data.mtrack", "directory", 5, true, true],
    );
    assert.match(p.hash, /^[0-9a-f]{64}$/);
    assert.equal(p.size, 8 * 3 + 18 + 400 * 1024);
    assert.ok(fs.existsSync(repo.abs("data.mtrack")));
    // data/ is ignored by git; the pointer is not.
    repo.git("check-ignore", "-q", "data/train/a.csv");
    assert.throws(() => repo.git("check-ignore", "-q", "data.mtrack"));

    r = await mtrack(repo, "add", "data");
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.json as Json).paths[0].changed, false, "re-adding unchanged data changes nothing");

    r = await mtrack(repo, "status");
    assert.equal(r.code, 0, r.stdout);
    assert.equal((r.json as Json).clean, true);

    repo.commit("v1");
    repo.git("tag", "v1");
    const v1 = repo.read("data");
    const v1Hash = p.hash;

    // Edit: modify one file, add one in a new subdirectory, delete one.
    repo.write({ "data/train/a.csv": "x,y\n1,2\n7,8\n", "data/new/n.txt": "new file\n" });
    fs.rmSync(repo.abs("data/test/c.csv"));
    fs.rmdirSync(repo.abs("data/test"));

    r = await mtrack(repo, "status");
    assert.equal(r.code, 1, "status exits 1 when something changed");
    const st = (r.json as Json).paths[0];
    assert.equal(st.workspace, "modified");
    assert.deepEqual(st.changes, {
      added: ["new/n.txt"],
      modified: ["train/a.csv"],
      deleted: ["test/c.csv"],
    });
    assert.equal((r.json as Json).clean, false);

    r = await mtrack(repo, "commit");
    assert.equal(r.code, 0, r.stderr);
    p = (r.json as Json).paths[0];
    assert.equal(p.changed, true);
    assert.notEqual(p.hash, v1Hash);
    r = await mtrack(repo, "status");
    assert.equal(r.code, 0);

    repo.commit("v2");
    repo.git("tag", "v2");
    const v2 = repo.read("data");

    // Back to v1: git brings the pointer back, mtrack the data.
    repo.git("checkout", "-q", "v1");
    r = await mtrack(repo, "checkout");
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.json as Json).ok, true);
    assert.deepEqual(repo.read("data"), v1, "v1 restored byte for byte");
    assert.equal(fs.existsSync(repo.abs("data/new")), false, "directories emptied by checkout are removed");
    assert.equal(modeOf(repo.abs("data/run.sh")) & 0o100, 0o100, "executable bit restored");
    assert.equal(modeOf(repo.abs("data/train/a.csv")) & 0o111, 0);
    assert.equal(fs.readFileSync(repo.abs("notes.txt"), "utf8"), v1Files["notes.txt"]);
    // Any revision, without moving the worktree (status and get only read: run them side by side).
    const out = path.join(repo.home, "out-v2");
    const [statusV1, getV2] = await Promise.all([
      mtrack(repo, "status"),
      mtrack(repo, "get", "data", "--rev", "v2", "-o", out),
    ]);
    assert.equal(statusV1.code, 0);
    r = getV2;
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.json as Json).files, 5);
    assert.deepEqual(readTree(out), v2);
    assert.deepEqual(repo.read("data"), v1, "the worktree did not move");
    assert.equal(repo.git("rev-parse", "HEAD"), repo.git("rev-parse", "v1"));
    r = await mtrack(repo, "get", "data", "--rev", "v2", "-o", out);
    assert.equal(r.code, 2, "get refuses to overwrite an existing output");
    assert.equal((r.json as Json).error.code, "ERR_MTRACK_WOULD_OVERWRITE");

    repo.git("checkout", "-q", "main");
    r = await mtrack(repo, "checkout");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(repo.read("data"), v2);

    // Something tracked and then dropped, never committed to git: gc may delete it.
    repo.write({ "scratch/huge.bin": pattern(300 * 1024, 99), "scratch/small.txt": "scratch only\n" });
    r = await mtrack(repo, "add", "scratch");
    assert.equal(r.code, 0, r.stderr);
    const scratchHash = (r.json as Json).paths[0].hash;
    r = await mtrack(repo, "remove", "scratch");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.existsSync(repo.abs("scratch.mtrack")), false, "pointer gone");
    assert.ok(fs.existsSync(repo.abs("scratch/huge.bin")), "data kept");
    assert.doesNotMatch(fs.readFileSync(repo.abs(".gitignore"), "utf8"), /scratch/);
    const before = looseObjects(repo);
    const hugeObject = [...before.keys()].find((h) => fs.statSync(before.get(h)!).size === 300 * 1024);
    assert.ok(hugeObject, "the large scratch file is a loose object");

    r = await mtrack(repo, "gc", "--dry");
    assert.equal(r.code, 0, r.stderr);
    const dry = r.json as Json;
    assert.equal(dry.dryRun, true);
    assert.ok(dry.removed >= 3, "scratch manifest, huge.bin and small.txt are unreferenced");
    assert.ok(fs.existsSync(before.get(hugeObject)!), "--dry deletes nothing");

    r = await mtrack(repo, "gc");
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.json as Json).removed, dry.removed);
    assert.equal(fs.existsSync(before.get(hugeObject)!), false, "unreferenced object deleted");

    // History survives gc: v1 is still complete in the store.
    const outV1 = path.join(repo.home, "out-v1");
    const [getV1, fsckAfterGc] = await Promise.all([
      mtrack(repo, "get", "data", "--rev", "v1", "-o", outV1),
      mtrack(repo, "fsck"),
    ]);
    assert.equal(getV1.code, 0, getV1.stderr);
    assert.deepEqual(readTree(outV1), v1);
    assert.notEqual(scratchHash, v1Hash);

    r = fsckAfterGc;
    assert.equal(r.code, 0, r.stdout);
    assert.equal((r.json as Json).ok, true);

    // Damage one object on purpose: fsck finds it and exits 1.
    const [victimHash, victim] = [...looseObjects(repo)][0]!;
    fs.chmodSync(victim, 0o644);
    const bytes = fs.readFileSync(victim);
    bytes[0] = (bytes[0] ?? 0) ^ 0xff;
    fs.writeFileSync(victim, bytes);
    r = await mtrack(repo, "fsck");
    assert.equal(r.code, 1);
    const fsck = r.json as Json;
    assert.equal(fsck.ok, false);
    assert.deepEqual(
      fsck.corrupt.map((c: Json) => c.hash),
      [victimHash],
    );
    assert.equal(fs.readFileSync(repo.abs("notes.txt"), "utf8"), v1Files["notes.txt"]);
  } finally {
    repo.cleanup();
  }
});
