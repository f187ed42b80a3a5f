/**
 * Faults and link modes through the built CLI: kill -9 during add, two adds at once, a file growing while
 * it is added, and the hardlink cache type with `unprotect`. Needs a build
 * (`npx tsc -p tsconfig.json && npx oclif manifest`).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { initRepo as initMtrack } from "../../src/repo.js";
import { hashBytes } from "../../src/store/hash.js";
import { Store } from "../../src/store/store.js";
import { decodeTree } from "../../src/store/tree.js";
import { type CliResult, errorCode, runCli, startCli, waitCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

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

/** A git repo holding `files`, with mtrack initialised (through the library: the journey covers `init`). */
async function initRepo(files: Record<string, string | Buffer>): Promise<TempGitRepo> {
  const repo = makeTempGitRepo();
  repo.write(files);
  initMtrack({ cwd: repo.dir });
  return repo;
}

function storeOf(repo: TempGitRepo): Store {
  return new Store({ dir: repo.abs(".mtrack/cache"), tmpDir: repo.abs(".mtrack/tmp") });
}

async function assertFsckClean(repo: TempGitRepo, when: string): Promise<void> {
  const r = await mtrack(repo, "fsck");
  assert.equal(r.code, 0, `fsck ${when}: ${r.stdout}`);
  const j = r.json as Json;
  assert.deepEqual([j.corrupt, j.damagedPacks, j.missing], [[], [], []], when);
}

test("hardlink cache type: added files are read-only links into the store; unprotect makes editable copies", async () => {
  const repo = await initRepo({ "data/a.txt": "a\n", "data/sub/b.bin": pattern(300 * 1024, 3) });
  try {
    let r = await mtrack(repo, "config", "cache.type", "hardlink");
    assert.equal(r.code, 0, r.stderr);
    r = await mtrack(repo, "add", "data");
    assert.equal(r.code, 0, r.stderr);
    for (const f of ["data/a.txt", "data/sub/b.bin"]) {
      const st = fs.statSync(repo.abs(f));
      assert.ok(st.nlink >= 2, `${f} is a hard link`);
      assert.equal(st.mode & 0o222, 0, `${f} is read-only`);
    }
    assert.equal(fs.readFileSync(repo.abs("data/a.txt"), "utf8"), "a\n");
    r = await mtrack(repo, "status");
    assert.equal(r.code, 0, "linked files are unchanged content");

    r = await mtrack(repo, "unprotect", "data");
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.json as Json).paths[0].unprotected, 2);
    for (const f of ["data/a.txt", "data/sub/b.bin"]) {
      const st = fs.statSync(repo.abs(f));
      assert.equal(st.nlink, 1, `${f} is its own copy`);
      assert.notEqual(st.mode & 0o200, 0, `${f} is writable`);
    }
    assert.deepEqual(fs.readFileSync(repo.abs("data/sub/b.bin")), pattern(300 * 1024, 3));
    r = await mtrack(repo, "status");
    assert.equal(r.code, 0);
    // Editing the copy cannot damage the store.
    fs.appendFileSync(repo.abs("data/a.txt"), "edit\n");
    await assertFsckClean(repo, "after editing an unprotected file");
    r = await mtrack(repo, "status");
    assert.equal(r.code, 1);
  } finally {
    repo.cleanup();
  }
});

test("hardlink cache type: identical content with different executable bits stays unchanged after add", async () => {
  const repo = await initRepo({
    "data/copy.sh": "#!/bin/sh\necho same\n",
    "data/run.sh": "#!/bin/sh\necho same\n",
  });
  try {
    fs.chmodSync(repo.abs("data/run.sh"), 0o755);
    assert.equal((await mtrack(repo, "config", "cache.type", "hardlink")).code, 0);
    const r = await mtrack(repo, "add", "data");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.statSync(repo.abs("data/copy.sh")).mode & 0o111, 0, "copy.sh stays non-executable");
    assert.notEqual(fs.statSync(repo.abs("data/run.sh")).mode & 0o100, 0);
    assert.equal((await mtrack(repo, "status")).code, 0);
  } finally {
    repo.cleanup();
  }
});

test("kill -9 during a large add, then add again: completes and fsck is clean", async () => {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 4; i++) files[`data/part${i}.bin`] = pattern(50 << 20, i);
  for (let i = 0; i < 50; i++) files[`data/small/${i}.txt`] = Buffer.from(`small ${i}\n`);
  const expected = new Map(Object.entries(files).map(([k, v]) => [k, hashBytes(v)]));
  const repo = await initRepo(files);
  for (const k of Object.keys(files)) delete files[k]; // free 200 MB before the CLI runs
  try {
    const child = startCli(["add", "data", "--json"], { cwd: repo.dir, env: repo.env });
    const lock = repo.abs(".mtrack/lock");
    const t0 = Date.now();
    // Kill it while it works: ~300 ms after it took the repository lock.
    while (!fs.existsSync(lock) && Date.now() - t0 < 15_000 && child.exitCode === null) await sleep(10);
    await sleep(300);
    child.kill("SIGKILL");
    const killed = await waitCli(child);
    assert.ok(
      killed.signal === "SIGKILL" || killed.code === 0,
      `killed, or already finished (code ${killed.code}, signal ${killed.signal}): ${killed.stderr}`,
    );
    if (killed.signal === "SIGKILL") {
      assert.equal(fs.existsSync(repo.abs("data.mtrack")), false, "no pointer from an interrupted add");
    }
    await assertFsckClean(repo, "after kill -9");

    const r = await mtrack(repo, "add", "data");
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    await assertFsckClean(repo, "after the rerun");
    assert.equal((await mtrack(repo, "status")).code, 0);
    // The pointer names the real data: every manifest entry has the hash of the file written.
    const entries = decodeTree(storeOf(repo).readObject((r.json as Json).paths[0].hash));
    assert.equal(entries.length, expected.size);
    for (const e of entries) assert.equal(e.hash, expected.get(`data/${e.path}`), e.path);
  } finally {
    repo.cleanup();
  }
});

test("two concurrent adds of different directories: no corruption, both pointers check out", async () => {
  const files: Record<string, string | Buffer> = {};
  for (const d of ["one", "two"]) {
    for (let i = 0; i < 200; i++) files[`${d}/f${i}.txt`] = `${d} ${i}\n`.repeat(i % 7);
    files[`${d}/big.bin`] = pattern(3 << 20, d.length + d.charCodeAt(0));
  }
  const repo = await initRepo(files);
  try {
    const [a, b] = await Promise.all([mtrack(repo, "add", "one"), mtrack(repo, "add", "two")]);
    const ok: string[] = [];
    for (const [name, r] of [
      ["one", a],
      ["two", b],
    ] as const) {
      if (r.code === 0) ok.push(name);
      else assert.equal(errorCode(r), "ERR_MTRACK_LOCKED", `${name}: ${r.stdout}${r.stderr}`);
    }
    assert.ok(ok.length >= 1, "at least one add succeeds");
    await assertFsckClean(repo, "after concurrent adds");
    for (const d of ok) {
      const before = repo.read(d);
      fs.rmSync(repo.abs(d), { recursive: true });
      const co = await mtrack(repo, "checkout", d);
      assert.equal(co.code, 0, co.stderr);
      assert.deepEqual(repo.read(d), before, `${d} restored byte for byte`);
    }
  } finally {
    repo.cleanup();
  }
});

/** Starts a process that appends deterministic chunks to `file` until killed. */
function startAppender(file: string, chunk: number) {
  const code = `
    const fs = require("node:fs");
    const fd = fs.openSync(${JSON.stringify(file)}, "a");
    let off = fs.fstatSync(fd).size;
    const tick = () => {
      const b = Buffer.alloc(${chunk});
      for (let i = 0; i < b.length; i++) b[i] = ((off + i) * 7) & 0xff;
      fs.writeSync(fd, b);
      off += b.length;
      setTimeout(tick, 1);
    };
    tick();`;
  return spawn(process.execPath, ["-e", code], { stdio: "ignore" });
}

for (const [label, initial, chunk] of [
  ["large (streamed)", 2 << 20, 64 * 1024],
  ["small (packed)", 1024, 64],
] as const) {
  test(`a ${label} file growing while it is added: FILE_CHANGED, or a stored hash that matches real content`, async () => {
    const grow = pattern(initial, 0);
    for (let i = 0; i < grow.length; i++) grow[i] = (i * 7) & 0xff;
    const repo = await initRepo({ "data/stable.txt": "stable\n", "data/grow.bin": grow });
    const writer = startAppender(repo.abs("data/grow.bin"), chunk);
    try {
      await sleep(100);
      const r = await mtrack(repo, "add", "data");
      writer.kill("SIGKILL");
      await new Promise((resolve) => writer.once("exit", resolve));
      const final = fs.readFileSync(repo.abs("data/grow.bin"));
      if (r.code !== 0) {
        assert.equal(errorCode(r), "ERR_MTRACK_FILE_CHANGED", r.stdout + r.stderr);
        assert.equal(fs.existsSync(repo.abs("data.mtrack")), false);
      } else {
        const store = storeOf(repo);
        const entries = decodeTree(store.readObject((r.json as Json).paths[0].hash));
        const entry = entries.find((e) => e.path === "grow.bin");
        assert.ok(entry);
        const stored = store.readObject(entry.hash);
        assert.equal(hashBytes(stored), entry.hash, "stored under its own hash");
        assert.equal(stored.length, entry.size);
        assert.deepEqual(stored, final.subarray(0, stored.length), "a state the file really had");
      }
      await assertFsckClean(repo, `after adding a ${label} growing file`);
    } finally {
      writer.kill("SIGKILL");
      repo.cleanup();
    }
  });
}
