/**
 * `import-url` outputs that were never pushed: `pull` in a clone downloads them from their URL again (as
 * DVC does), verified to be the version the pointer records (ETag, size, hash) — a URL that changed is
 * ERR_MTRACK_URL_CHANGED and writes nothing. Downloads report progress (the CLI draws it on a TTY);
 * `update --rev` of a URL import is refused. A local HTTP server plays the URL. Needs a build.
 */
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { test } from "node:test";
import { Repo } from "../../src/repo.js";
import { importUrl } from "../../src/sources/url.js";
import type { Progress } from "../../src/workspace/scan.js";
import { errorCode, runCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";

// biome-ignore lint/suspicious/noExplicitAny: --json output is read field by field
type Json = any;

test("pull of an import-url output on no remote downloads it from its URL; a changed URL is refused", async () => {
  let body = crypto.randomBytes(3 << 20);
  let gets = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== "/big.bin") {
      res.writeHead(404).end();
      return;
    }
    const etag = `"${crypto.createHash("sha1").update(body).digest("hex")}"`;
    res.writeHead(200, { etag, "content-length": String(body.length) });
    if (req.method === "HEAD") res.end();
    else {
      gets++;
      res.end(body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/big.bin`;
  const repo = makeTempGitRepo();
  const clones = makeTempDir();
  try {
    const cli = (args: string[], cwd = repo.dir) =>
      runCli([...args, "--json"], { cwd, env: repo.env, timeoutMs: 60_000 });
    const ok = async (args: string[], cwd = repo.dir) => {
      const r = await cli(args, cwd);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
      return r.json as Json;
    };
    repo.write({ "x.txt": "x" });
    repo.commit("init");
    await ok(["init"]);

    // The download streams with progress: byte counts rising to the size.
    const events: Progress[] = [];
    const lib = Repo.open({ cwd: repo.dir });
    await lib.withLock("import-url", () =>
      importUrl(lib, url, repo.abs("data/big.bin"), { env: repo.env, onProgress: (p) => events.push(p) }),
    );
    const downloads = events.filter((e) => e.phase === "download");
    assert.ok(downloads.length > 2, `progress events: ${downloads.length}`);
    assert.equal(downloads.at(-1)?.bytes, body.length);
    assert.ok(downloads.every((e, i) => i === 0 || e.bytes >= downloads[i - 1]!.bytes));
    repo.git("add", "-A");
    repo.commit("import big.bin");

    // --rev means nothing for a URL: refused, nothing changed.
    const pointerBefore = fs.readFileSync(repo.abs("data/big.bin.mtrack"), "utf8");
    const rev = await cli(["update", "data/big.bin", "--rev", "v2"]);
    assert.equal(rev.code, 2);
    assert.equal(errorCode(rev), "ERR_MTRACK_INVALID_ARGUMENT");
    assert.equal(fs.readFileSync(repo.abs("data/big.bin.mtrack"), "utf8"), pointerBefore);

    // A clone with no remote at all: pull downloads it from the URL.
    const c1 = path.join(clones, "c1");
    repo.git("clone", "-q", repo.dir, c1);
    const getsBefore = gets;
    const p = await ok(["pull"], c1);
    assert.equal(gets, getsBefore + 1);
    assert.equal(p.objects.objects, 1);
    assert.ok(fs.readFileSync(path.join(c1, "data", "big.bin")).equals(body));
    assert.equal((await ok(["status"], c1)).clean, true);

    // The URL moved on: the old version is gone, pull says so, writes nothing and stores nothing.
    body = crypto.randomBytes(1 << 20);
    const c2 = path.join(clones, "c2");
    repo.git("clone", "-q", repo.dir, c2);
    const changed = await cli(["pull"], c2);
    assert.equal(changed.code, 2, changed.stdout);
    assert.equal(errorCode(changed), "ERR_MTRACK_URL_CHANGED");
    assert.ok(!fs.existsSync(path.join(c2, "data", "big.bin")));
    const tmp = path.join(c2, ".mtrack", "tmp");
    assert.deepEqual(
      fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((n) => n.includes("import-url")) : [],
      [],
    );
    const fsck = (await cli(["fsck"], c2)).json as Json;
    assert.equal(fsck.objects, 0, "the changed download was not stored");
  } finally {
    server.close();
    repo.cleanup();
    removeTempDir(clones);
  }
});
