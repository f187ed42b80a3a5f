/**
 * Issue 19 items 2 and 3 end to end through the built CLI in temp git repositories: a lock left by a
 * process of another host or naming a reused pid does not block commands (repository and registry
 * locks); push refuses a corrupt local object, and `push --repair` from a good clone replaces a corrupt
 * copy on the remote; status and fsck see a hardlinked workspace file written through. Needs a build.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { initRepo as initMtrack } from "../../src/repo.js";
import { PackFile } from "../../src/store/pack.js";
import { Store } from "../../src/store/store.js";
import { decodeTree } from "../../src/store/tree.js";
import { type CliResult, errorCode, runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";
import { startServerProcess, stopProcess } from "../helpers/server.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";
import { S3_ENV, startWeed, weedBinary } from "../unit/remotes/weed.js";

async function createToken(storeDir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runCli(["server", "token", "create", "--store", storeDir, "--name", "e2e", "--json"], {
    cwd: storeDir,
    env,
  });
  assert.equal(r.code, 0, r.stderr);
  return (r.json as { token: string }).token;
}

// biome-ignore lint/suspicious/noExplicitAny: --json output is checked field by field
type Json = any;

function mtrack(repo: TempGitRepo, ...args: string[]): Promise<CliResult> {
  return runCli([...args, "--json"], { cwd: repo.dir, env: repo.env, timeoutMs: 60_000 });
}

async function ok(repo: TempGitRepo, ...args: string[]): Promise<Json> {
  const r = await mtrack(repo, ...args);
  assert.equal(r.code, 0, `mtrack ${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
  return r.json;
}

async function initRepo(files: Record<string, string | Buffer>): Promise<TempGitRepo> {
  const repo = makeTempGitRepo();
  repo.write(files);
  initMtrack({ cwd: repo.dir });
  return repo;
}

test("locks left by a killed container (other host) or naming a reused pid block no command", async () => {
  const repo = await initRepo({ "data/a.txt": "a\n", "model/w.bin": "weights" });
  const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
  try {
    await ok(repo, "config", "core.lock_timeout", "2");
    const labels = [
      { pid: 1, host: `gone-container-${os.hostname()}`, time: new Date().toISOString(), purpose: "add" },
      // A live process of this host that started an hour after the label was written.
      { pid: sleeper.pid, host: os.hostname(), time: new Date(Date.now() - 3_600_000).toISOString() },
    ];
    for (const label of labels) {
      fs.writeFileSync(repo.abs(".mtrack/lock"), JSON.stringify(label));
      const t0 = Date.now();
      await ok(repo, "add", "data");
      assert.ok(Date.now() - t0 < 15_000);
      fs.mkdirSync(repo.abs(".mtrack/registry"), { recursive: true });
      fs.writeFileSync(repo.abs(".mtrack/registry/lock"), JSON.stringify(label));
      fs.writeFileSync(repo.abs(".mtrack/lock"), JSON.stringify(label));
      repo.git("add", "-A");
      repo.commit(`label ${label.pid}`);
      fs.appendFileSync(repo.abs("model/w.bin"), "x");
      await ok(repo, "models", "register", `m${label.pid}`, "model");
    }
  } finally {
    sleeper.kill("SIGKILL");
    repo.cleanup();
  }
});

function pointerHash(dir: string, rel: string): string {
  const m = /^hash: ([0-9a-f]{64})$/m.exec(fs.readFileSync(path.join(dir, `${rel}.mtrack`), "utf8"));
  assert.ok(m?.[1], rel);
  return m[1];
}

/** Overwrites bytes in place (same inode: a write through every hard link to it), as root can. */
function scribble(file: string, at = 10): void {
  fs.chmodSync(file, 0o644);
  const fd = fs.openSync(file, "r+");
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0] = (b[0] ?? 0) ^ 0xff;
    fs.writeSync(fd, b, 0, 1, at);
  } finally {
    fs.closeSync(fd);
  }
}

/** Damages a directory store's copy of `hash` (loose file, or its bytes inside a pack). */
function damageStoreCopy(storeDir: string, hash: string): void {
  const loose = path.join(storeDir, "objects", hash.slice(0, 2), hash.slice(2));
  if (fs.existsSync(loose)) {
    scribble(loose);
    return;
  }
  const store = new Store({ dir: storeDir, tmpDir: path.join(storeDir, "tmp") });
  try {
    for (const pack of store.packFiles()) {
      const e = [...pack.entries()].find((x) => x.hash === hash);
      if (e) {
        scribble(pack.packPath, e.offset);
        return;
      }
    }
  } finally {
    store.close();
  }
  assert.fail(`no copy of ${hash} in ${storeDir}`);
}

interface Backend {
  url: string;
  env: NodeJS.ProcessEnv;
  setup: string[][];
  /** Damages the remote's copy of `hash` (large: loose; small: packed). */
  damage(hash: string): Promise<void>;
}

/**
 * The journey of issue 19 item 2 on one backend: a remote copy damaged (as a push before this fix
 * spread it) makes the clone's pull fail and point at `push --repair`; a plain push from the good clone
 * sends nothing; `push --repair` replaces the damaged copies and the pull then succeeds. Then a write
 * through a hardlinked workspace file damages a new object: push refuses it, naming it.
 */
async function corruptionJourney(b: Backend): Promise<void> {
  const a = makeTempGitRepo();
  try {
    const files: Record<string, string | Buffer> = { "big.bin": crypto.randomBytes(700_000) };
    for (let i = 0; i < 20; i++) files[`data/f${i}.txt`] = `line ${i}\n`;
    a.write(files);
    const cli = (args: string[], cwd = a.dir) =>
      runCli([...args, "--json"], { cwd, env: { ...a.env, ...b.env }, timeoutMs: 60_000 });
    for (const args of [
      ["init"],
      ["config", "cache.type", "hardlink"],
      ["add", "data", "big.bin"],
      ["remote", "add", "origin", b.url, "--default"],
      ...b.setup,
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    }
    a.commit("data");
    const first = await cli(["push"]);
    assert.equal(first.code, 0, first.stdout);
    const bigHash = pointerHash(a.dir, "big.bin");
    const store = new Store({ dir: a.abs(".mtrack/cache"), tmpDir: a.abs(".mtrack/tmp") });
    const entries = decodeTree(store.readObject(pointerHash(a.dir, "data")));
    store.close();
    const smallHash = entries.find((e) => e.path === "f3.txt")!.hash;
    await b.damage(bigHash);
    await b.damage(smallHash);

    const clone = path.join(a.home, "clone");
    execFileSync("git", ["clone", "-q", a.dir, clone], { env: a.env, stdio: "ignore" });
    const bad = await cli(["pull"], clone);
    assert.equal(bad.code, 2, bad.stdout);
    assert.equal(errorCode(bad), "ERR_MTRACK_OBJECT_CORRUPT");
    assert.match((bad.json as Json).error.hint, /push --repair/);

    const plain = await cli(["push"]);
    assert.equal(plain.code, 0);
    assert.equal((plain.json as Json).objects.objects, 0, "a plain push finds everything there");
    const repair = await cli(["push", "--repair"]);
    assert.equal(repair.code, 0, repair.stdout);
    const repaired = ((repair.json as Json).objects.repaired as Array<{ hash: string }>).map((p) => p.hash);
    assert.deepEqual(repaired.sort(), [bigHash, smallHash].sort());
    const again = await cli(["push", "--repair"]);
    assert.deepEqual((again.json as Json).objects.repaired, [], "nothing left to repair");

    const good = await cli(["pull"], clone);
    assert.equal(good.code, 0, good.stdout);
    assert.deepEqual(fs.readFileSync(path.join(clone, "big.bin")), files["big.bin"]);
    assert.equal(fs.readFileSync(path.join(clone, "data/f3.txt"), "utf8"), "line 3\n");

    // A new object damaged through its hardlink before it was ever pushed: refused, by name.
    a.write({ "new.bin": crypto.randomBytes(400_000), "more/s.txt": "small\n" });
    assert.equal((await cli(["add", "new.bin", "more"])).code, 0);
    a.commit("more");
    scribble(a.abs("new.bin"));
    scribble(a.abs("more/s.txt"), 1);
    const refused = await cli(["push"]);
    assert.equal(refused.code, 2, refused.stdout);
    assert.equal(errorCode(refused), "ERR_MTRACK_OBJECT_CORRUPT");
    const labels = ((refused.json as Json).error.data.corruptLocal as Array<{ label: string }>).map(
      (p) => p.label,
    );
    assert.deepEqual(labels.sort(), ["more/s.txt", "new.bin"]);
    assert.match((refused.json as Json).error.hint, /mtrack fsck/);
    // Nothing damaged reached the remote: the clone finds them missing, not corrupt.
    execFileSync("git", ["pull", "-q"], { cwd: clone, env: a.env, stdio: "ignore" });
    const missing = await cli(["pull"], clone);
    assert.equal(errorCode(missing), "ERR_MTRACK_OBJECT_MISSING", missing.stdout);
  } finally {
    a.cleanup();
  }
}

describe("push never spreads corruption", { concurrency: 3 }, () => {
  test("directory remote", async () => {
    const remote = makeTempDir();
    try {
      await corruptionJourney({
        url: remote,
        env: {},
        setup: [],
        damage: async (h) => damageStoreCopy(remote, h),
      });
    } finally {
      removeTempDir(remote);
    }
  });

  test("mtrack server", async () => {
    const storeDir = makeTempDir();
    const env = { ...process.env, HOME: storeDir };
    const token = await createToken(storeDir, env);
    const server = await startServerProcess(storeDir, env);
    try {
      await corruptionJourney({
        url: server.url,
        env: { MTRACK_REMOTE_TOKEN: token },
        setup: [],
        damage: async (h) => damageStoreCopy(storeDir, h),
      });
    } finally {
      await stopProcess(server.child);
      removeTempDir(storeDir);
    }
  });

  test("S3 (SeaweedFS)", { skip: weedBinary() ? false : "weed not installed" }, async () => {
    const weed = await startWeed();
    try {
      await weed.createBucket("harden");
      await corruptionJourney({
        url: "s3://harden/p",
        env: S3_ENV,
        setup: [["remote", "modify", "origin", "endpoint", weed.endpoint]],
        damage: async (h) => {
          const key = `p/objects/${h.slice(0, 2)}/${h.slice(2)}`;
          const list = await weed.client.send(new ListObjectsV2Command({ Bucket: "harden", Prefix: "p/" }));
          const keys = (list.Contents ?? []).map((o) => o.Key ?? "");
          if (keys.includes(key)) {
            const got = await weed.client.send(new GetObjectCommand({ Bucket: "harden", Key: key }));
            const body = Buffer.from(await got.Body!.transformToByteArray());
            body[10] = (body[10] ?? 0) ^ 0xff;
            await weed.client.send(new PutObjectCommand({ Bucket: "harden", Key: key, Body: body }));
            return;
          }
          // Small: rewrite the pack holding it with one byte of it flipped (its index unchanged).
          for (const idxKey of keys.filter((k) => k.endsWith(".idx"))) {
            const idx = await weed.client.send(new GetObjectCommand({ Bucket: "harden", Key: idxKey }));
            const id = /pack-([0-9a-f]+)\.idx$/.exec(idxKey)![1]!;
            const pack = PackFile.fromIndex(
              fs,
              "/nonexistent",
              id,
              Buffer.from(await idx.Body!.transformToByteArray()),
              idxKey,
            );
            const e = [...pack.entries()].find((x) => x.hash === h);
            if (!e) continue;
            const packKey = idxKey.replace(/\.idx$/, ".pack");
            const got = await weed.client.send(new GetObjectCommand({ Bucket: "harden", Key: packKey }));
            const body = Buffer.from(await got.Body!.transformToByteArray());
            body[e.offset] = (body[e.offset] ?? 0) ^ 0xff;
            await weed.client.send(new PutObjectCommand({ Bucket: "harden", Key: packKey, Body: body }));
            return;
          }
          assert.fail(`no copy of ${h} on S3`);
        },
      });
    } finally {
      await weed.stop();
    }
  });
});

test("a write through a hardlinked workspace file shows in status and fsck, by path", async () => {
  const repo = await initRepo({
    "big.bin": crypto.randomBytes(300_000),
    "d/a.txt": "hello\n",
    "d/b.txt": "b\n",
  });
  try {
    await ok(repo, "config", "cache.type", "hardlink");
    await ok(repo, "add", "big.bin", "d");
    assert.equal((await mtrack(repo, "status")).code, 0);
    assert.equal((await mtrack(repo, "fsck")).code, 0);
    // Root ignores the read-only mode; the mtime is even put back (ctime still moves).
    for (const [rel, at] of [
      ["big.bin", 10],
      ["d/a.txt", 1],
    ] as const) {
      const st = fs.statSync(repo.abs(rel));
      scribble(repo.abs(rel), at);
      fs.chmodSync(repo.abs(rel), st.mode & 0o777);
      fs.utimesSync(repo.abs(rel), st.atime, st.mtime);
    }
    const status = await mtrack(repo, "status");
    assert.equal(status.code, 1, status.stdout);
    const fsck = await mtrack(repo, "fsck");
    assert.equal(fsck.code, 1);
    const json = fsck.json as Json;
    assert.equal(json.corrupt.length, 2);
    assert.deepEqual(
      (json.damaged as Array<{ path: string }>).map((d) => d.path).sort(),
      ["big.bin", "d/a.txt"],
      "fsck names the paths that use the damaged objects",
    );
    assert.deepEqual(json.missing, [], "damaged is not missing");
  } finally {
    repo.cleanup();
  }
});
