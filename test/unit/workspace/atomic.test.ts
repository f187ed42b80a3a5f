import assert from "node:assert/strict";
import realFs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { type FsLike, writeFileAtomic } from "../../../src/util/fs.js";
import { diskFullFs, enospc } from "../../helpers/fault-fs.js";
import { withTempDir } from "../../helpers/tmp.js";

test("writeFileAtomic replaces the content and leaves no temp file", () =>
  withTempDir((dir) => {
    const file = path.join(dir, "a.mtrack");
    writeFileAtomic(file, "one\n");
    writeFileAtomic(file, Buffer.from("two\n"));
    assert.equal(realFs.readFileSync(file, "utf8"), "two\n");
    assert.deepEqual(realFs.readdirSync(dir), ["a.mtrack"]);
  }));

test("a failing write keeps the old content, removes its temp file and reports ERR_MTRACK_NO_SPACE", () =>
  withTempDir((dir) => {
    const file = path.join(dir, "a.mtrack");
    realFs.writeFileSync(file, "old content\n");
    const throwing = {
      ...realFs,
      writeSync: () => {
        throw enospc();
      },
    } as unknown as FsLike;
    assert.throws(
      () => writeFileAtomic(file, "new content that will not fit\n", { fs: throwing }),
      (e: { code?: string }) => e.code === "ERR_MTRACK_NO_SPACE",
    );
    assert.equal(realFs.readFileSync(file, "utf8"), "old content\n");
    assert.deepEqual(realFs.readdirSync(dir), ["a.mtrack"]);
  }));

test("a write that runs out of space half-way keeps the old content too", () =>
  withTempDir((dir) => {
    const file = path.join(dir, "a.mtrack");
    realFs.writeFileSync(file, "old\n");
    const { fs, tripped } = diskFullFs(5);
    assert.equal(tripped, false);
    assert.throws(
      () => writeFileAtomic(file, "0123456789".repeat(10), { fs }),
      (e: { code?: string }) => e.code === "ERR_MTRACK_NO_SPACE",
    );
    assert.equal(realFs.readFileSync(file, "utf8"), "old\n");
    assert.deepEqual(realFs.readdirSync(dir), ["a.mtrack"]);
  }));

test("a failing rename (other I/O error) is ERR_MTRACK_IO and keeps the old content", () =>
  withTempDir((dir) => {
    const file = path.join(dir, "a.mtrack");
    realFs.writeFileSync(file, "old\n");
    const failingRename = {
      ...realFs,
      renameSync: () => {
        throw Object.assign(new Error("EIO"), { code: "EIO" });
      },
    } as unknown as FsLike;
    assert.throws(
      () => writeFileAtomic(file, "new\n", { fs: failingRename }),
      (e: { code?: string }) => e.code === "ERR_MTRACK_IO",
    );
    assert.equal(realFs.readFileSync(file, "utf8"), "old\n");
    assert.deepEqual(realFs.readdirSync(dir), ["a.mtrack"]);
  }));
