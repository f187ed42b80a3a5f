/**
 * End to end through the built CLI: `mtrack import` of another real repository's data (directory remote),
 * `update`, `status --check-updates`, `pull` from the source's remote and from this project's, `repro`
 * over an imported dependency, and `import-url` from a local HTTP server and a local file.
 */
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { test } from "node:test";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { errorCode, runCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";
import { S3_ENV, startWeed, weedBinary } from "../unit/remotes/weed.js";

// biome-ignore lint/suspicious/noExplicitAny: --json output is read field by field
type Json = any;

const PIPELINE =
  "stages:\n  count:\n    cmd: ls images | wc -l > count.txt\n    deps: [images]\n    outs: [count.txt]\n";

function ranStages(j: Json): string[] {
  return (j.stages as Array<{ name: string; status: string }>)
    .filter((s) => s.status === "ran")
    .map((s) => s.name);
}

test("import, update, status --check-updates, pull and repro over another repository's data", async () => {
  const src = makeTempGitRepo();
  const remote = makeTempDir();
  const own = makeTempDir();
  const consumer = makeTempGitRepo();
  const clone = makeTempDir();
  try {
    const cli = (args: string[], cwd: string) =>
      runCli([...args, "--json"], { cwd, env: src.env, timeoutMs: 60_000 });
    const ok = async (args: string[], cwd: string) => {
      const r = await cli(args, cwd);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
      return r.json as Json;
    };
    src.write({
      "data/images/a.txt": "a\n",
      "data/images/b.txt": "b\n",
      "model.bin": "m1",
      "README.md": "r\n",
    });
    await ok(["init"], src.dir);
    await ok(["add", "data/images", "model.bin"], src.dir);
    await ok(["remote", "add", "store", remote, "--default"], src.dir);
    src.commit("v1");
    src.git("tag", "v1");
    await ok(["push"], src.dir);
    const v1 = src.git("rev-parse", "HEAD").trim();

    consumer.write({ "pipeline.yaml": PIPELINE });
    consumer.commit("init");
    await ok(["init"], consumer.dir);
    const imp = await ok(["import", src.dir, "data/images", "--rev", "v1"], consumer.dir);
    assert.deepEqual(imp.source, {
      kind: "git",
      repo: path.relative(consumer.dir, src.dir),
      rev: "v1",
      commit: v1,
      path: "data/images",
    });
    assert.equal(fs.readFileSync(path.join(consumer.dir, "images", "b.txt"), "utf8"), "b\n");
    assert.match(fs.readFileSync(path.join(consumer.dir, "images.mtrack"), "utf8"), /^source:\n {2}repo: /m);
    await ok(["import", src.dir, "model.bin", "-o", "models/base.bin"], consumer.dir);
    await ok(["import", src.dir, "README.md", "-o", "registry-readme.md"], consumer.dir);
    assert.equal(fs.readFileSync(path.join(consumer.dir, "registry-readme.md"), "utf8"), "r\n");

    const st = (await cli(["status"], consumer.dir)).json as Json; // exit 1: the stage never ran
    assert.deepEqual((st.imports as Array<{ path: string }>).map((i) => i.path).sort(), [
      "images",
      "models/base.bin",
      "registry-readme.md",
    ]);
    const r1 = await ok(["repro"], consumer.dir);
    assert.deepEqual(ranStages(r1), ["count"]);
    assert.equal(fs.readFileSync(path.join(consumer.dir, "count.txt"), "utf8").trim(), "2");
    consumer.git("add", "-A");
    consumer.commit("import");

    // The source moves on: v1 stays where it was, HEAD moves.
    src.write({ "data/images/c.txt": "c\n", "model.bin": "m2" });
    await ok(["add", "data/images", "model.bin"], src.dir);
    src.commit("v2");
    await ok(["push"], src.dir);
    const checked = await cli(["status", "--check-updates"], consumer.dir);
    assert.equal(checked.code, 1, "a source that moved on makes status exit 1");
    const moved = (checked.json as Json).updates.filter((u: Json) => u.moved).map((u: Json) => u.path);
    assert.deepEqual(
      moved,
      ["models/base.bin", "registry-readme.md"],
      "the imports pinned to v1 did not move",
    );
    assert.equal((await ok(["update", "images"], consumer.dir)).updated[0].changed, false);
    const um = await ok(["update", "models/base.bin"], consumer.dir);
    assert.equal(um.updated[0].changed, true);
    assert.equal(fs.readFileSync(path.join(consumer.dir, "models", "base.bin"), "utf8"), "m2");
    assert.equal((await ok(["update", "models/base.bin"], consumer.dir)).updated[0].changed, false);

    // A local modification is not overwritten; --rev moves the pinned import to another revision.
    fs.writeFileSync(path.join(consumer.dir, "images", "a.txt"), "local\n");
    const refused = await cli(["update", "images", "--rev", "main"], consumer.dir);
    assert.equal(refused.code, 2);
    assert.equal(errorCode(refused), "ERR_MTRACK_WOULD_OVERWRITE");
    assert.match(fs.readFileSync(path.join(consumer.dir, "images.mtrack"), "utf8"), /rev: "v1"/);
    fs.writeFileSync(path.join(consumer.dir, "images", "a.txt"), "a\n");
    const ui = await ok(["update", "images", "--rev", "main"], consumer.dir);
    assert.equal(ui.updated[0].source.rev, "main");
    assert.ok(fs.existsSync(path.join(consumer.dir, "images", "c.txt")));

    // repro: the stage that depends on the imported directory reruns after the update.
    const r2 = await ok(["repro"], consumer.dir);
    assert.deepEqual(ranStages(r2), ["count"]);
    assert.equal(fs.readFileSync(path.join(consumer.dir, "count.txt"), "utf8").trim(), "3");
    assert.deepEqual(ranStages(await ok(["repro"], consumer.dir)), []);

    // diff: the import's change between the two commits.
    consumer.git("add", "-A");
    consumer.commit("update");
    const d = await ok(["diff", "HEAD~1", "HEAD"], consumer.dir);
    const changed = (d.data.modified as Json[]).map((c) => c.path).sort();
    assert.ok(changed.includes("images") && changed.includes("models/base.bin"), JSON.stringify(d.data));
    const imgChange = (d.data.modified as Json[]).find((c) => c.path === "images");
    assert.equal(imgChange.oldSource?.rev, "v1");
    assert.equal(imgChange.newSource?.rev, "main");

    // pull in a fresh clone that has no remote of its own: the imports' objects come from the source's
    // remote (the stage output count.txt was never pushed anywhere, so only the imports are asked for).
    const c1 = path.join(clone, "c1");
    consumer.git("clone", "-q", consumer.dir, c1);
    const p1 = await ok(["pull", "images", "models/base.bin"], c1);
    assert.ok(p1.objects.objects > 0);
    assert.equal(fs.readFileSync(path.join(c1, "images", "c.txt"), "utf8"), "c\n");
    assert.equal(fs.readFileSync(path.join(c1, "models", "base.bin"), "utf8"), "m2");

    // Pushed to this project's own remote, a clone pulls them from there even when the source's is gone.
    await ok(["remote", "add", "own", own, "--default"], consumer.dir);
    await ok(["push"], consumer.dir);
    consumer.git("add", "-A");
    consumer.commit("own remote");
    fs.renameSync(remote, `${remote}-gone`);
    try {
      const c2 = path.join(clone, "c2");
      consumer.git("clone", "-q", consumer.dir, c2);
      await ok(["pull"], c2);
      assert.equal(fs.readFileSync(path.join(c2, "images", "a.txt"), "utf8"), "a\n");
    } finally {
      fs.renameSync(`${remote}-gone`, remote);
    }

    // Bad input: a code, exit 2, nothing written.
    const bad = async (args: string[], code: string, written: string[]) => {
      const r = await cli(args, consumer.dir);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}`);
      assert.equal(errorCode(r), code, `${args.join(" ")}: ${r.stdout}`);
      for (const w of written) {
        assert.ok(!fs.existsSync(path.join(consumer.dir, w)), `${w} was written`);
        assert.ok(!fs.existsSync(path.join(consumer.dir, `${w}.mtrack`)), `${w}.mtrack was written`);
      }
    };
    await bad(["import", remote, "data/images", "-o", "n1"], "ERR_MTRACK_SOURCE_INVALID", ["n1"]);
    await bad(["import", src.dir, "no/such", "-o", "n2"], "ERR_MTRACK_PATH_NOT_FOUND", ["n2"]);
    await bad(["import", src.dir, "model.bin", "--rev", "v9", "-o", "n3"], "ERR_MTRACK_GIT_REV_NOT_FOUND", [
      "n3",
    ]);
    await bad(["import", src.dir, "model.bin", "-o", "images"], "ERR_MTRACK_WOULD_OVERWRITE", []);
    await bad(["import", src.dir, "model.bin", "-o", "pipeline.yaml"], "ERR_MTRACK_WOULD_OVERWRITE", []);
    await bad(["update", "pipeline.yaml"], "ERR_MTRACK_NOT_TRACKED", []);
    fs.renameSync(remote, `${remote}-gone`);
    try {
      await bad(["import", src.dir, "data/images", "-o", "n4"], "ERR_MTRACK_REMOTE_NOT_FOUND", ["n4"]);
    } finally {
      fs.renameSync(`${remote}-gone`, remote);
    }
    fs.writeFileSync(path.join(consumer.dir, "plain.txt"), "p");
    await ok(["add", "plain.txt"], consumer.dir);
    await bad(["update", "plain.txt"], "ERR_MTRACK_NOT_AN_IMPORT", []);
  } finally {
    src.cleanup();
    consumer.cleanup();
    removeTempDir(remote);
    removeTempDir(own);
    removeTempDir(clone);
  }
});

test("import-url from an HTTP server and a local file: ETag/Last-Modified, update, failures leave nothing", async () => {
  const repo = makeTempGitRepo();
  const files = new Map<string, Buffer>([["/data.csv", Buffer.from("a,b\n1,2\n")]]);
  let modified = new Date("2026-01-01T00:00:00Z");
  let gets = 0;
  const server = http.createServer((req, res) => {
    if (req.url === "/broken") {
      // Promises a megabyte, sends a little, then drops the connection.
      res.writeHead(200, { "content-length": String(1 << 20) });
      res.write("partial");
      setTimeout(() => res.destroy(), 20);
      return;
    }
    const body = files.get(req.url ?? "");
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const etag = `"${crypto.createHash("sha1").update(body).digest("hex")}"`;
    res.writeHead(200, {
      etag,
      "last-modified": modified.toUTCString(),
      "content-length": String(body.length),
    });
    if (req.method === "HEAD") res.end();
    else {
      gets++;
      res.end(body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const cli = (args: string[]) =>
      runCli([...args, "--json"], { cwd: repo.dir, env: repo.env, timeoutMs: 60_000 });
    const ok = async (args: string[]) => {
      const r = await cli(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
      return r.json as Json;
    };
    repo.write({ "x.txt": "x" });
    repo.commit("init");
    await ok(["init"]);
    const r = await ok(["import-url", `${base}/data.csv`, "data/data.csv"]);
    assert.equal(r.source.url, `${base}/data.csv`);
    assert.match(r.source.etag, /^"[0-9a-f]{40}"$/);
    assert.equal(r.source.size, 8);
    assert.equal(r.source.lastModified, modified.toUTCString());
    assert.equal(fs.readFileSync(repo.abs("data/data.csv"), "utf8"), "a,b\n1,2\n");
    assert.equal((await ok(["status", "--check-updates"])).updates[0].moved, false);
    assert.equal((await ok(["update", "data/data.csv"])).updated[0].changed, false);
    assert.equal(gets, 1, "an unchanged URL is not downloaded again");

    files.set("/data.csv", Buffer.from("a,b\n1,2\n3,4\n"));
    modified = new Date("2026-02-01T00:00:00Z");
    const st = await cli(["status", "--check-updates"]);
    assert.equal(st.code, 1);
    assert.equal((st.json as Json).updates[0].moved, true);
    const u = await ok(["update", "data/data.csv"]);
    assert.equal(u.updated[0].changed, true);
    assert.equal(u.updated[0].source.size, 12);
    assert.equal(fs.readFileSync(repo.abs("data/data.csv"), "utf8"), "a,b\n1,2\n3,4\n");
    assert.equal(gets, 2);

    // A local file: recorded relative to the repository, size + mtime as its version.
    const local = makeTempDir();
    try {
      fs.writeFileSync(path.join(local, "big.bin"), crypto.randomBytes(300_000));
      const l = await ok(["import-url", path.join(local, "big.bin"), "big.bin"]);
      assert.equal(l.source.size, 300_000);
      assert.ok(fs.readFileSync(repo.abs("big.bin")).equals(fs.readFileSync(path.join(local, "big.bin"))));
      fs.writeFileSync(path.join(local, "big.bin"), "smaller");
      fs.utimesSync(path.join(local, "big.bin"), new Date(), new Date(Date.now() + 5000));
      assert.equal((await ok(["update", "big.bin"])).updated[0].changed, true);
      assert.equal(fs.readFileSync(repo.abs("big.bin"), "utf8"), "smaller");
    } finally {
      removeTempDir(local);
    }

    // Failures: exit 2, a code, no data, no pointer, nothing left in the store's tmp/.
    const bad = async (args: string[], code: string, out: string) => {
      const res = await cli(args);
      assert.equal(res.code, 2, `${args.join(" ")}: ${res.stdout}`);
      assert.equal(errorCode(res), code);
      assert.ok(!fs.existsSync(repo.abs(out)) && !fs.existsSync(repo.abs(`${out}.mtrack`)));
    };
    await bad(["import-url", `${base}/missing.csv`, "m.csv"], "ERR_MTRACK_URL_NOT_FOUND", "m.csv");
    await bad(["import-url", `${base}/broken`, "b.bin"], "ERR_MTRACK_URL_UNREACHABLE", "b.bin");
    await bad(["import-url", "ftp://example.com/x", "f.bin"], "ERR_MTRACK_URL_INVALID", "f.bin");
    await bad(["import-url", path.join(repo.dir, "nope.bin"), "n.bin"], "ERR_MTRACK_URL_NOT_FOUND", "n.bin");
    const before = fs.readFileSync(repo.abs("data/data.csv.mtrack"), "utf8");
    const again = await cli(["import-url", `${base}/data.csv`, "data/data.csv"]);
    assert.equal(errorCode(again), "ERR_MTRACK_WOULD_OVERWRITE");
    assert.equal(fs.readFileSync(repo.abs("data/data.csv.mtrack"), "utf8"), before);
    const tmp = repo.abs(".mtrack/tmp");
    const left = fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((f) => f.includes("import-url")) : [];
    assert.deepEqual(left, []);
  } finally {
    server.close();
    repo.cleanup();
  }
});

test("S3 (SeaweedFS): import from a repository whose remote is S3, and import-url of an s3:// object", {
  skip: weedBinary() ? false : "weed not installed",
}, async () => {
  const weed = await startWeed();
  const src = makeTempGitRepo();
  const consumer = makeTempGitRepo();
  try {
    await weed.createBucket("mtrack-import");
    const env = { ...src.env, ...S3_ENV, AWS_ENDPOINT_URL: weed.endpoint };
    const cli = (args: string[], cwd: string) =>
      runCli([...args, "--json"], { cwd, env, timeoutMs: 120_000 });
    const ok = async (args: string[], cwd: string) => {
      const r = await cli(args, cwd);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
      return r.json as Json;
    };
    src.write({ "data/a.txt": "a\n", "data/b.txt": "b\n" });
    await ok(["init"], src.dir);
    await ok(["add", "data"], src.dir);
    await ok(["remote", "add", "store", "s3://mtrack-import/registry", "--default"], src.dir);
    await ok(["remote", "modify", "store", "endpoint", weed.endpoint], src.dir);
    src.commit("v1");
    await ok(["push"], src.dir);

    consumer.write({ "x.txt": "x" });
    consumer.commit("init");
    await ok(["init"], consumer.dir);
    const imp = await ok(["import", src.dir, "data", "-o", "imported"], consumer.dir);
    assert.ok(imp.downloaded > 0);
    assert.equal(fs.readFileSync(path.join(consumer.dir, "imported", "b.txt"), "utf8"), "b\n");

    const put = (body: string) =>
      weed.client.send(new PutObjectCommand({ Bucket: "mtrack-import", Key: "raw/events.csv", Body: body }));
    await put("e1\n");
    const u = await ok(["import-url", "s3://mtrack-import/raw/events.csv", "events.csv"], consumer.dir);
    assert.ok(u.source.etag, "the object's ETag is recorded");
    assert.equal(fs.readFileSync(path.join(consumer.dir, "events.csv"), "utf8"), "e1\n");
    assert.equal((await ok(["update", "events.csv"], consumer.dir)).updated[0].changed, false);
    await put("e1\ne2\n");
    assert.equal((await cli(["status", "--check-updates"], consumer.dir)).code, 1);
    assert.equal((await ok(["update", "events.csv"], consumer.dir)).updated[0].changed, true);
    assert.equal(fs.readFileSync(path.join(consumer.dir, "events.csv"), "utf8"), "e1\ne2\n");
    const missing = await cli(["import-url", "s3://mtrack-import/raw/none.csv", "none.csv"], consumer.dir);
    assert.equal(missing.code, 2);
    assert.equal(errorCode(missing), "ERR_MTRACK_URL_NOT_FOUND");
    assert.ok(!fs.existsSync(path.join(consumer.dir, "none.csv")));
  } finally {
    src.cleanup();
    consumer.cleanup();
    await weed.stop();
  }
});
