/**
 * Two clones of one git repository sharing data and runs through a remote, for the end-to-end tests of
 * every backend (test/e2e/remote.test.ts: a directory, `mtrack server`, S3; test/e2e/server-pg-remote.test.ts:
 * the same assertions against `mtrack server --db`).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { type CliResult, runCli } from "./cli.js";
import { makeTempGitRepo, type TempGitRepo } from "./git-repo.js";

export interface World {
  a: TempGitRepo;
  /** The clone's work tree. */
  b: string;
  env: NodeJS.ProcessEnv;
  cli(args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<CliResult>;
  cleanup(): void;
}

/** Repo A with tracked data, a sealed run and a remote; the remote is added and committed by `setup`. */
export async function makeWorld(
  remoteUrl: string,
  extra: string[][] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<World> {
  const a = makeTempGitRepo();
  const allEnv = { ...a.env, ...env };
  const cli = async (args: string[], cwd: string, e: NodeJS.ProcessEnv = allEnv) => {
    const r = await runCli(args, { cwd, env: e, timeoutMs: 60_000 });
    return r;
  };
  const files: Record<string, string | Uint8Array> = { "big.bin": crypto.randomBytes(700_000) };
  for (let i = 0; i < 40; i++) files[`data/f${i}.txt`] = `line ${i}\n`;
  a.write(files);
  for (const args of [
    ["init"],
    ["add", "data", "big.bin"],
    ["remote", "add", "origin", remoteUrl, "--default"],
    ...extra,
    ["run", "-n", "shared-run", "-p", "lr=0.1", "--", "sh", "-c", "echo trained"],
  ]) {
    const r = await cli(args, a.dir);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  }
  a.commit("data and remote");
  const b = path.join(a.home, "clone");
  execFileSync("git", ["clone", "-q", a.dir, b], { env: a.env, stdio: "ignore" });
  return { a, b, env: allEnv, cli, cleanup: () => a.cleanup() };
}

export async function shareThrough(w: World): Promise<void> {
  const push = await w.cli(["push", "--runs", "--json"], w.a.dir);
  assert.equal(push.code, 0, push.stderr);
  const pushed = push.json as { objects: { objects: number }; runs: { transferred: number } };
  assert.equal(pushed.objects.objects, 42);
  assert.equal(pushed.runs.transferred, 1);
  const again = await w.cli(["push", "--runs", "--json"], w.a.dir);
  assert.equal((again.json as { objects: { objects: number } }).objects.objects, 0);

  const pull = await w.cli(["pull", "--runs", "--json"], w.b);
  assert.equal(pull.code, 0, pull.stderr);
  assert.deepEqual(fs.readFileSync(path.join(w.b, "big.bin")), fs.readFileSync(w.a.abs("big.bin")));
  assert.equal(fs.readdirSync(path.join(w.b, "data")).length, 40);
  assert.equal(fs.readFileSync(path.join(w.b, "data", "f7.txt"), "utf8"), "line 7\n");
  const runs = await w.cli(["runs", "list", "--json"], w.b);
  const list = (runs.json as { runs: Array<{ name: string; params: Record<string, string> }> }).runs;
  assert.deepEqual(
    list.map((r) => [r.name, r.params.lr]),
    [["shared-run", "0.1"]],
  );
}

export async function createToken(
  storeDir: string,
  env: NodeJS.ProcessEnv,
  extra: string[] = [],
): Promise<string> {
  const r = await runCli(
    ["server", "token", "create", "--store", storeDir, "--name", "e2e", "--json", ...extra],
    {
      cwd: storeDir,
      env,
    },
  );
  assert.equal(r.code, 0, r.stderr);
  return (r.json as { token: string }).token;
}
