import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { hashBytes } from "../../../src/store/hash.js";
import { RACY_MARGIN_MS, StatCache } from "../../../src/workspace/statcache.js";
import { withTempDir } from "../../helpers/tmp.js";

const H = hashBytes(Buffer.from("x"));
const H2 = hashBytes(Buffer.from("y"));
const ST = { size: 10, mtimeMs: 1_700_000_000_000.25, ino: 42 };
const SAFE = ST.mtimeMs + RACY_MARGIN_MS + 1;

test("a recorded entry is a hit when size, mtime and inode are unchanged", () =>
  withTempDir((dir) => {
    const c = StatCache.load(dir);
    assert.equal(c.lookup("a", ST), undefined);
    c.record("a", ST, H, SAFE);
    assert.equal(c.lookup("a", ST), H);
    assert.equal(c.lookup("a", { ...ST, size: 11 }), undefined, "size changed");
    assert.equal(c.lookup("a", { ...ST, mtimeMs: ST.mtimeMs + 0.001 }), undefined, "mtime changed");
    assert.equal(c.lookup("a", { ...ST, ino: 43 }), undefined, "inode changed (file replaced)");
    assert.equal(c.lookup("b", ST), undefined, "other path");
  }));

test("racy entries (hashed within RACY_MARGIN_MS of the file's mtime) are not trusted", () =>
  withTempDir((dir) => {
    const c = StatCache.load(dir);
    c.record("same-tick", ST, H, ST.mtimeMs);
    c.record("just-inside", ST, H, ST.mtimeMs + RACY_MARGIN_MS - 1);
    c.record("before-mtime", ST, H, ST.mtimeMs - 5);
    c.record("at-margin", ST, H, ST.mtimeMs + RACY_MARGIN_MS);
    assert.equal(c.lookup("same-tick", ST), undefined);
    assert.equal(c.lookup("just-inside", ST), undefined);
    assert.equal(c.lookup("before-mtime", ST), undefined);
    assert.equal(c.lookup("at-margin", ST), H);
    // Re-recording later (the next run rehashed it) makes it trusted.
    c.record("same-tick", ST, H, SAFE);
    assert.equal(c.lookup("same-tick", ST), H);
  }));

test("the cache survives save/load; forget and forgetUnder drop entries", () =>
  withTempDir((dir) => {
    const c = StatCache.load(dir);
    c.record("data/a", ST, H, SAFE);
    c.record("data/sub/b", ST, H2, SAFE);
    c.record("data2/c", ST, H2, SAFE);
    c.record("other", ST, H, SAFE);
    c.save();
    const d = StatCache.load(dir);
    assert.equal(d.size, 4);
    assert.equal(d.lookup("data/sub/b", ST), H2);
    d.forgetUnder("data");
    d.forget("other");
    assert.equal(d.lookup("data/a", ST), undefined);
    assert.equal(d.lookup("data/sub/b", ST), undefined);
    assert.equal(d.lookup("data2/c", ST), H2, "a sibling sharing the prefix string is kept");
    d.save();
    assert.equal(StatCache.load(dir).size, 1);
  }));

test("a damaged or foreign cache file loads as an empty cache", () =>
  withTempDir((dir) => {
    fs.writeFileSync(path.join(dir, "stat-cache"), "not msgpack at all \xff\xfe");
    assert.equal(StatCache.load(dir).size, 0);
    fs.writeFileSync(path.join(dir, "stat-cache"), Buffer.from([0x93, 1, 2, 3]));
    assert.equal(StatCache.load(dir).size, 0);
  }));

test("save never throws, even when the state directory cannot be written", () =>
  withTempDir((dir) => {
    const blocker = path.join(dir, "file");
    fs.writeFileSync(blocker, "");
    const c = StatCache.load(path.join(blocker, "state"));
    c.record("a", ST, H, SAFE);
    assert.doesNotThrow(() => c.save());
  }));
