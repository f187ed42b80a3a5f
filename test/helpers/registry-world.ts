/**
 * The model registry's two-clone scenario through a remote, shared by the remote backends' tests
 * (test/e2e/registry-remote.test.ts: a directory, `mtrack server`, S3; test/e2e/server-pg-registry.test.ts:
 * the PostgreSQL team server): versions registered in one clone reach another with `push --models` /
 * `pull --models` (and with `--runs`), a deleted version's files are freed by gc and gc --cloud while a
 * fresh clone still gets every live version, and fsck names a corrupt object and a damaged event file.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { registryNeeds } from "../../src/registry/gc.js";
import { Registry } from "../../src/registry/registry.js";
import type { RegistryState } from "../../src/registry/types.js";
import { Repo } from "../../src/repo.js";
import { hashBytes } from "../../src/store/hash.js";
import { corruptInStoreDir } from "../unit/remotes/contract.js";
import { type CliResult, runCli } from "./cli.js";
import { makeTempGitRepo } from "./git-repo.js";
import { readTree } from "./tmp.js";

const LOGGED = `m-${"7".repeat(32)}`;

export function registryIn(root: string): Registry {
  return new Registry({ dir: path.join(root, ".mtrack", "registry"), user: "e2e" });
}

export function canon(s: RegistryState): string {
  return JSON.stringify({
    models: [...s.models].map(([k, m]) => [k, { ...m, versions: [...m.versions] }]),
    logged: [...s.loggedModels].map(([k, l]) => [k, { ...l, files: [...l.files] }]),
    conflicts: s.conflicts,
  });
}

/** Every object the clone's registry needs is in its store and matches its hash. */
export function assertComplete(root: string): void {
  const repo = Repo.open({ cwd: root });
  try {
    const needs = registryNeeds(registryIn(root).state(), repo.store);
    assert.ok(needs.size > 0);
    for (const [h, label] of needs) assert.equal(repo.store.verify(h), "ok", `${label} in ${root}`);
  } finally {
    repo.store.close();
  }
}

export const V1 = { "model.json": '{"version":1}', "weights/w.bin": "one ".repeat(5000) };
export const V2 = { "model.json": '{"version":2}', "weights/w.bin": "two ".repeat(5000) };

/** The clones of a finished scenario, for a backend's own assertions after it. */
export interface RegistryWorld {
  a: string;
  b: string;
  c: string;
  home: string;
  ok(args: string[], cwd: string): Promise<CliResult>;
}

/**
 * Runs the scenario against `remoteUrl` (`extra`: CLI commands run after `remote add`), then `after`
 * with the clones before they are removed.
 */
export async function registryScenario(
  remoteUrl: string,
  extra: string[][],
  env: NodeJS.ProcessEnv,
  after?: (w: RegistryWorld) => Promise<void>,
): Promise<void> {
  const a = makeTempGitRepo();
  const allEnv = { ...a.env, ...env };
  const cli = (args: string[], cwd: string): Promise<CliResult> =>
    runCli(args, { cwd, env: allEnv, timeoutMs: 60_000 });
  const ok = async (args: string[], cwd: string): Promise<CliResult> => {
    const r = await cli(args, cwd);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}${r.stdout}`);
    return r;
  };
  type Sync = { registry: { transferred: number; held: unknown[] }; objects: { objects: number } };
  try {
    a.write({ "README.md": "models\n" });
    for (const args of [["init"], ["remote", "add", "origin", remoteUrl, "--default"], ...extra])
      await ok(args, a.dir);
    a.commit("mtrack and a remote");
    const b = path.join(a.home, "clone-b");
    execFileSync("git", ["clone", "-q", a.dir, b], { env: a.env, stdio: "ignore" });

    a.write(Object.fromEntries(Object.entries(V1).map(([k, v]) => [`models/v1/${k}`, v])));
    a.write(Object.fromEntries(Object.entries(V2).map(([k, v]) => [`models/v2/${k}`, v])));
    await ok(["models", "register", "spirals", "models/v1"], a.dir);
    await ok(["models", "register", "spirals", "models/v2"], a.dir);
    await ok(["models", "alias", "spirals", "champion", "2"], a.dir);
    const reg = registryIn(a.dir);
    const versions = reg.state().models.get("spirals")!.versions;
    const v1 = versions.get(1)!.content;
    const v2 = versions.get(2)!.content;
    await reg.write({
      op: "logged.create",
      modelId: LOGGED,
      experimentId: "0",
      name: "lm",
      sourceRunId: null,
    });
    await reg.write({
      op: "logged.file",
      modelId: LOGGED,
      path: "model.json",
      hash: hashBytes(Buffer.from(V1["model.json"])),
      size: V1["model.json"].length,
    });

    // A plain push leaves the registry alone; --models sends it.
    const plain = (await ok(["push", "--json"], a.dir)).json as Partial<Sync>;
    assert.equal(plain.registry, undefined);
    const pushed = (await ok(["push", "--models", "--json"], a.dir)).json as Sync;
    assert.equal(pushed.registry.transferred, 6);
    assert.deepEqual(pushed.registry.held, []);

    const pulled = (await ok(["pull", "--models", "--json"], b)).json as Sync;
    assert.equal(pulled.registry.transferred, 6);
    assert.equal(canon(registryIn(b).state()), canon(registryIn(a.dir).state()));
    assertComplete(b);
    const out = path.join(a.home, "out-v2");
    await ok(["models", "get", "models:/spirals@champion", "-o", out], b);
    assert.deepEqual(
      Object.fromEntries(Object.entries(readTree(out)).map(([k, v]) => [k, v.toString("utf8")])),
      V2,
    );

    // Version 2 deleted in A travels with --runs; gc frees its files here and on the remote.
    await ok(["models", "delete", "spirals/2"], a.dir);
    const second = (await ok(["push", "--runs", "--json"], a.dir)).json as Sync;
    assert.equal(second.registry.transferred, 1);
    assert.equal(((await ok(["fetch", "--runs", "--json"], b)).json as Sync).registry.transferred, 1);
    assert.equal(canon(registryIn(b).state()), canon(registryIn(a.dir).state()));
    const gc = (await ok(["gc", "--cloud", "--keep-newer", "0", "--json"], a.dir)).json as {
      local: { removed: number; roots: Record<string, number> };
      cloud: { removed: number };
    };
    assert.equal(gc.local.removed, 3, JSON.stringify(gc)); // v2's manifest, model.json and weights
    assert.equal(gc.cloud.removed, 3, JSON.stringify(gc));
    assert.ok((gc.local.roots["model registry"] ?? 0) >= 3);
    const repoA = Repo.open({ cwd: a.dir });
    assert.ok(!repoA.store.has(v2.hash));
    assert.ok(repoA.store.has(v1.hash));
    repoA.store.close();
    assertComplete(a.dir);

    // A fresh clone still gets every live version from the collected remote.
    const c = path.join(a.home, "clone-c");
    execFileSync("git", ["clone", "-q", a.dir, c], { env: a.env, stdio: "ignore" });
    const third = (await ok(["pull", "--models", "--json"], c)).json as Sync;
    assert.equal(third.registry.transferred, 7);
    assert.equal(canon(registryIn(c).state()), canon(registryIn(a.dir).state()));
    assertComplete(c);
    assert.equal((await ok(["fsck", "--json"], c)).code, 0);

    // fsck in C: a corrupt file of version 1 and a damaged event file, each with its event file.
    const weights = { hash: hashBytes(Buffer.from(V1["weights/w.bin"])) };
    corruptInStoreDir(path.join(c, ".mtrack", "cache"), weights.hash);
    const eventsDir = path.join(c, ".mtrack", "registry", "events");
    const damaged = "9999999999999-0000dead.json";
    fs.writeFileSync(path.join(eventsDir, damaged), '{"id": "9999999999999-00');
    const fsck = await cli(["fsck", "--json"], c);
    assert.equal(fsck.code, 1, fsck.stdout);
    const problems = (
      fsck.json as { registry: { problems: Array<{ kind: string; file: string; hash?: string }> } }
    ).registry.problems;
    const v1Event = registryIn(c)
      .events()
      .find((e) => e.op === "version.create" && e.version === 1)!;
    assert.deepEqual(
      problems.map((p) => [p.kind, p.file, p.hash]),
      [
        ["damaged-event", `.mtrack/registry/events/${damaged}`, undefined],
        ["corrupt-object", `.mtrack/registry/events/${v1Event.id}.json`, weights.hash],
      ],
    );
    fs.rmSync(path.join(eventsDir, damaged));
    await after?.({ a: a.dir, b, c, home: a.home, ok });
  } finally {
    a.cleanup();
  }
}
