/**
 * Bad input through the built CLI: every refusal has a stable error code and a non-zero exit, and leaves
 * the workspace as it was. Needs a build (`npx tsc -p tsconfig.json && npx oclif manifest`).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { initRepo, Repo } from "../../src/repo.js";
import { hashBytes } from "../../src/store/hash.js";
import { addPaths } from "../../src/workspace/add.js";
import { type CliResult, errorCode, runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

// biome-ignore lint/suspicious/noExplicitAny: --json output is checked field by field
type Json = any;

function mtrack(repo: TempGitRepo, ...args: string[]): Promise<CliResult> {
  return runCli([...args, "--json"], { cwd: repo.dir, env: repo.env });
}

/**
 * A git repo with mtrack initialised and `data/` tracked. Set up through the library (the journey test
 * covers init and add through the CLI): every CLI start costs ~0.5 s of CPU on this machine.
 */
async function trackedRepo(): Promise<TempGitRepo> {
  const repo = makeTempGitRepo();
  repo.write({ "data/a.txt": "a\n", "data/sub/b.txt": "b\n", "notes.txt": "mine\n" });
  initRepo({ cwd: repo.dir });
  await addPaths(Repo.open({ cwd: repo.dir }), [repo.abs("data")]);
  return repo;
}

test("init outside a git repository fails with ERR_MTRACK_NOT_A_GIT_REPO", async () => {
  const dir = makeTempGitRepo({ git: false });
  try {
    const r = await mtrack(dir, "init");
    assert.notEqual(r.code, 0);
    assert.equal(errorCode(r), "ERR_MTRACK_NOT_A_GIT_REPO");
    assert.equal(fs.existsSync(dir.abs(".mtrack")), false);
  } finally {
    dir.cleanup();
  }
});

test("add, config and get refuse bad input with a stable code each, and write nothing", async () => {
  const repo = makeTempGitRepo();
  try {
    repo.write({ "data/a.txt": "a\n", "data/inner/b.txt": "b\n", "other/c.txt": "c\n" });
    fs.writeFileSync(path.join(repo.home, "secret.txt"), "outside the repo\n");
    fs.symlinkSync(path.join(repo.home, "secret.txt"), repo.abs("data/leak.txt"));
    fs.symlinkSync(path.join(repo.home, "secret.txt"), repo.abs("leak.txt"));
    initRepo({ cwd: repo.dir });
    // Only what git should track goes into the commit: the data stays out of git, as mtrack wants it.
    repo.write({ ".gitignore": "/data\n/other\n/leak.txt\n/long-*\n", "in-git.txt": "committed\n" });
    repo.write({ [`long-${"n".repeat(245)}`]: "x" });
    repo.commit("initial");
    const configBefore = fs.readFileSync(repo.abs(".mtrack/config.yaml"), "utf8");
    const cases: Array<[string[], string]> = [
      [["add", "no-such-path"], "ERR_MTRACK_PATH_NOT_FOUND"],
      [["add", path.join(repo.home, "secret.txt")], "ERR_MTRACK_PATH_OUTSIDE_REPO"],
      [["add", "../secret.txt"], "ERR_MTRACK_PATH_OUTSIDE_REPO"],
      [["add", ".mtrack/config.yaml"], "ERR_MTRACK_PATH_RESERVED"],
      [["add", ".git/config"], "ERR_MTRACK_PATH_RESERVED"],
      [["add", ".git"], "ERR_MTRACK_PATH_RESERVED"],
      [["add", ".mtrack"], "ERR_MTRACK_PATH_RESERVED"],
      [["add", ".MTRACK/cache"], "ERR_MTRACK_PATH_RESERVED"],
      [["add", "in-git.txt"], "ERR_MTRACK_TRACKED_BY_GIT"],
      [["add", `long-${"n".repeat(245)}`], "ERR_MTRACK_INVALID_NAME"],
      [["add", "data"], "ERR_MTRACK_SYMLINK_OUTSIDE_REPO"],
      [["add", "leak.txt"], "ERR_MTRACK_SYMLINK_OUTSIDE_REPO"],
      [["add", "other", "other/c.txt"], "ERR_MTRACK_OVERLAPPING_TARGETS"],
      [["config", "cache.typo", "copy"], "ERR_MTRACK_CONFIG_KEY_UNKNOWN"],
      [["config", "cache.type", "teleport"], "ERR_MTRACK_CONFIG_INVALID"],
      [["get", "other", "-o", "out"], "ERR_MTRACK_NOT_TRACKED"],
      [["get", "other", "--rev", "no-such-rev", "-o", "out"], "ERR_MTRACK_GIT_REV_NOT_FOUND"],
    ];
    // Independent refusals: run them side by side to keep the suite fast.
    const results = await Promise.all(cases.map(([args]) => mtrack(repo, ...args)));
    results.forEach((r, i) => {
      const [args, code] = cases[i]!;
      assert.notEqual(r.code, 0, args.join(" "));
      assert.equal(errorCode(r), code, args.join(" "));
    });
    const pointers = fs.readdirSync(repo.dir).filter((n) => n.endsWith(".mtrack") && n !== ".mtrack");
    assert.deepEqual(pointers, [], "no pointer written by a refused add");
    assert.equal(
      fs.readFileSync(repo.abs(".gitignore"), "utf8"),
      "/data\n/other\n/leak.txt\n/long-*\n",
      "nor a .gitignore line",
    );
    assert.equal(fs.existsSync(repo.abs("data/inner.mtrack")), false);
    assert.equal(fs.readFileSync(repo.abs(".mtrack/config.yaml"), "utf8"), configBefore);
    assert.equal(fs.existsSync(repo.abs("out")), false);
    // Tracked paths cannot overlap across commands either.
    fs.rmSync(repo.abs("data/leak.txt"));
    assert.equal((await mtrack(repo, "add", "data")).code, 0);
    const inner = ["data/inner", "data/a.txt"];
    const overlaps = await Promise.all(inner.map((p) => mtrack(repo, "add", p)));
    for (const [i, r] of overlaps.entries()) {
      assert.equal(errorCode(r), "ERR_MTRACK_OVERLAPPING_TARGETS", inner[i]);
    }
  } finally {
    repo.cleanup();
  }
});

test("a malformed pointer file is reported with its file and line", async () => {
  const repo = await trackedRepo();
  try {
    const text = fs.readFileSync(repo.abs("data.mtrack"), "utf8").split("\n");
    const hashLine = text.findIndex((l) => l.startsWith("hash:"));
    text[hashLine] = "hash: not-a-hash";
    fs.writeFileSync(repo.abs("data.mtrack"), text.join("\n"));
    const st = await mtrack(repo, "status");
    assert.equal(st.code, 1);
    const bad = (st.json as Json).invalid.find((p: Json) => p.pointer === "data.mtrack");
    assert.equal(bad.code, "ERR_MTRACK_POINTER_INVALID");
    assert.equal(bad.line, hashLine + 1);
    const co = await mtrack(repo, "checkout");
    assert.notEqual(co.code, 0);
    assert.match(JSON.stringify(co.json) + co.stderr, /data\.mtrack/);
  } finally {
    repo.cleanup();
  }
});

test("a pointer whose content is not in the store: status says notInStore, checkout fails for that path only", async () => {
  const repo = await trackedRepo();
  try {
    const ghost = hashBytes(Buffer.from("content that was never added here"));
    fs.writeFileSync(
      repo.abs("model.bin.mtrack"),
      `version: 1\npath: model.bin\ntype: file\nhash: ${ghost}\nsize: 33\n`,
    );
    fs.rmSync(repo.abs("data/a.txt"));
    let r = await mtrack(repo, "status");
    assert.equal(r.code, 1);
    const model = (r.json as Json).paths.find((p: Json) => p.path === "model.bin");
    assert.equal(model.notInStore, true);
    assert.equal(model.workspace, "missing");
    r = await mtrack(repo, "checkout");
    assert.notEqual(r.code, 0);
    const byPath = new Map((r.json as Json).paths.map((p: Json) => [p.path, p]));
    const failed = byPath.get("model.bin") as Json;
    assert.equal(failed.action, "failed");
    assert.equal(failed.error.code, "ERR_MTRACK_OBJECT_MISSING");
    assert.equal(failed.error.data.path, "model.bin");
    assert.equal((byPath.get("data") as Json).action, "updated", "other paths are still checked out");
    assert.equal(fs.readFileSync(repo.abs("data/a.txt"), "utf8"), "a\n");
    assert.equal(fs.existsSync(repo.abs("model.bin")), false);
  } finally {
    repo.cleanup();
  }
});

test("checkout refuses to overwrite modified data that is not stored; --force discards it", async () => {
  const repo = await trackedRepo();
  try {
    fs.writeFileSync(repo.abs("data/a.txt"), "precious edit\n");
    fs.writeFileSync(repo.abs("data/sub/new.txt"), "precious new file\n");
    let r = await mtrack(repo, "checkout");
    assert.equal(r.code, 2);
    const failed = (r.json as Json).paths[0];
    assert.equal(failed.error.code, "ERR_MTRACK_WOULD_OVERWRITE");
    assert.deepEqual([...failed.error.data.files].sort(), ["a.txt", "sub/new.txt"]);
    assert.equal(fs.readFileSync(repo.abs("data/a.txt"), "utf8"), "precious edit\n", "nothing was touched");
    assert.ok(fs.existsSync(repo.abs("data/sub/new.txt")));
    r = await mtrack(repo, "checkout", "--force");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(repo.abs("data/a.txt"), "utf8"), "a\n");
    assert.equal(fs.existsSync(repo.abs("data/sub/new.txt")), false);
    assert.equal(
      fs.readFileSync(repo.abs("notes.txt"), "utf8"),
      "mine\n",
      "untracked files are never touched",
    );
    r = await mtrack(repo, "status");
    assert.equal(r.code, 0);
  } finally {
    repo.cleanup();
  }
});

test("mtrack --help and every foundation command's --help exit 0; commands show examples", async () => {
  const repo = makeTempGitRepo({ git: false });
  try {
    const run = (args: string[]) => runCli(args, { cwd: repo.dir, env: repo.env });
    const root = await run(["--help"]);
    assert.equal(root.code, 0, root.stderr);
    const commands = [
      "add",
      "checkout",
      "commit",
      "config",
      "fsck",
      "gc",
      "get",
      "init",
      "remove",
      "status",
      "unprotect",
    ];
    for (const c of commands)
      assert.match(root.stdout, new RegExp(`^\\s+${c}\\s`, "m"), `root help lists ${c}`);
    const results = await Promise.all(commands.map((c) => run([c, "--help"])));
    results.forEach((r, j) => {
      assert.equal(r.code, 0, `${commands[j]} --help`);
      assert.match(r.stdout, /EXAMPLES/, `${commands[j]} --help shows examples`);
      assert.match(
        r.stdout,
        new RegExp(`\\$ mtrack ${commands[j]}`),
        `${commands[j]} example uses the command`,
      );
    });
  } finally {
    repo.cleanup();
  }
});
