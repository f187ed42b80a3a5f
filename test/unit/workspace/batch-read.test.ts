/**
 * Adding many small files reads them in batches through the native addon (when built): the result must
 * be the JavaScript path's, byte for byte, and a file that changes between the listing and the read must
 * still be refused.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { setConfigValue } from "../../../src/config.js";
import { initRepo, Repo } from "../../../src/repo.js";
import { fastFs } from "../../../src/util/native.js";
import { addPaths } from "../../../src/workspace/add.js";
import { checkoutPaths } from "../../../src/workspace/checkout.js";
import { fsckStore } from "../../../src/workspace/fsck.js";
import { hashFiles, walkDir } from "../../../src/workspace/scan.js";
import { StatCache } from "../../../src/workspace/statcache.js";
import { statusPaths } from "../../../src/workspace/status.js";
import { withTempDir } from "../../helpers/tmp.js";

/** Node's fs under another identity: the library then takes its JavaScript paths. */
const jsOnlyFs = { ...fs } as typeof fs;

function makeRepo(root: string, n: number): void {
  fs.mkdirSync(path.join(root, ".git"), { recursive: true });
  initRepo({ cwd: root });
  for (let i = 0; i < n; i++) {
    const file = path.join(root, "data", `d${i % 5}`, `f${i}.bin`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `file ${i} `.repeat(1 + (i % 50)));
  }
  fs.writeFileSync(path.join(root, "data", "big.bin"), Buffer.alloc(300 << 10, 7)); // above the batch size
}

test("batch-read add (native) and the JavaScript add store the same tree; status and fsck agree", () =>
  withTempDir(async (dir) => {
    if (process.env.MTRACK_REQUIRE_NATIVE === "1") assert.ok(fastFs(), "dist/native/fastfs.node must load");
    const a = path.join(dir, "a");
    const b = path.join(dir, "b");
    makeRepo(a, 300);
    makeRepo(b, 300);
    const [viaNative] = await addPaths(Repo.open({ cwd: a, fs }), [path.join(a, "data")]);
    const [viaJs] = await addPaths(Repo.open({ cwd: b, fs: jsOnlyFs }), [path.join(b, "data")]);
    assert.equal(viaNative!.hash, viaJs!.hash);
    assert.equal(viaNative!.files, 301);
    assert.equal((await statusPaths(Repo.open({ cwd: a }), ["data"])).clean, true);
    const check = await fsckStore(Repo.open({ cwd: a }));
    assert.equal(check.ok, true);
    assert.equal(check.objects, 302, "301 files and the manifest");
  }));

test("a file that grows between the listing and the batch read is refused, in both paths", () =>
  withTempDir(async (dir) => {
    for (const impl of [fs, jsOnlyFs]) {
      const root = path.join(dir, impl === fs ? "native" : "js");
      makeRepo(root, 200);
      const repo = Repo.open({ cwd: root, fs: impl });
      const files = walkDir(path.join(root, "data"), root, impl);
      fs.appendFileSync(path.join(root, "data", "d3", "f133.bin"), "more");
      await assert.rejects(
        hashFiles(files, "data", {
          fs: impl,
          cache: StatCache.load(repo.paths.stateDir, impl),
          store: repo.store,
        }),
        (e: { code?: string; message: string }) =>
          e.code === "ERR_MTRACK_FILE_CHANGED" && e.message.includes("f133.bin"),
      );
    }
  }));

for (const linkMode of ["copy", "hardlink"] as const) {
  test(`batch checkout (native, ${linkMode}) restores the same bytes and modes as the JavaScript checkout`, () =>
    withTempDir(async (dir) => {
      const results: Array<Map<string, string>> = [];
      for (const impl of [fs, jsOnlyFs]) {
        const root = path.join(dir, impl === fs ? "native" : "js");
        makeRepo(root, 300);
        setConfigValue(path.join(root, ".mtrack"), "cache.type", linkMode);
        fs.chmodSync(path.join(root, "data", "d1", "f6.bin"), 0o755);
        await addPaths(Repo.open({ cwd: root, fs: impl }), [path.join(root, "data")]);
        fs.rmSync(path.join(root, "data"), { recursive: true });
        const r = await checkoutPaths(Repo.open({ cwd: root, fs: impl }), ["data"]);
        assert.equal(r.ok, true);
        assert.equal(r.paths[0]!.written, 301);
        const seen = new Map<string, string>();
        for (const f of walkDir(path.join(root, "data"), root, fs)) {
          const st = fs.statSync(f.abs);
          const links = linkMode === "hardlink" && !f.executable ? st.nlink > 1 : st.nlink === 1;
          assert.ok(links, `${f.rel}: ${linkMode} mode, nlink ${st.nlink}`);
          seen.set(f.rel, `${(st.mode & 0o111).toString(8)} ${fs.readFileSync(f.abs).toString("base64")}`);
        }
        results.push(seen);
        assert.equal((await statusPaths(Repo.open({ cwd: root, fs: impl }), ["data"])).clean, true);
      }
      assert.deepEqual(results[0], results[1]);
      assert.match(results[0]!.get("d1/f6.bin")!, /^111 /, "the executable bit came back");
    }));
}
