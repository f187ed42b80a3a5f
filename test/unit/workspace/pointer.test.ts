import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { hashBytes } from "../../../src/store/hash.js";
import {
  dataPathFor,
  type Pointer,
  parsePointer,
  pointerPathFor,
  readPointer,
  serializePointer,
  writePointer,
} from "../../../src/workspace/pointer.js";
import { withTempDir } from "../../helpers/tmp.js";

const H = hashBytes(Buffer.from("data"));

const GOOD = `version: 1
path: data
type: directory
hash: ${H}
size: 10
files: 2
`;

/** Asserts parsePointer fails with ERR_MTRACK_POINTER_INVALID naming `file` and `line`. */
function assertInvalid(text: string, line: number | undefined, file = "data.mtrack"): void {
  assert.throws(
    () => parsePointer(text, file),
    (err: { code?: string; data?: { file?: unknown; line?: unknown } }) => {
      assert.equal(err.code, "ERR_MTRACK_POINTER_INVALID");
      assert.equal(err.data?.file, file);
      assert.equal(err.data?.line, line);
      return true;
    },
  );
}

test("serialize then parse gives the same pointer (file, directory, executable, desc)", () => {
  const pointers: Array<[string, Pointer]> = [
    ["data.mtrack", { path: "data", type: "directory", hash: H, size: 1234, files: 7 }],
    ["model.bin.mtrack", { path: "model.bin", type: "file", hash: H, size: 0 }],
    ["run.sh.mtrack", { path: "run.sh", type: "file", hash: H, size: 5, executable: true }],
    [
      "odd: name #1.mtrack",
      { path: "odd: name #1", type: "file", hash: H, size: 5, desc: 'quotes " and: colons # hash' },
    ],
    ["123.mtrack", { path: "123", type: "file", hash: H, size: 1 }],
    ["true.mtrack", { path: "true", type: "file", hash: H, size: 1 }],
  ];
  for (const [file, p] of pointers) {
    const text = serializePointer(p);
    assert.deepEqual(parsePointer(text, file), p, file);
    assert.equal(serializePointer(parsePointer(text, file)), text, "stable text");
  }
});

test("parsePointer accepts the documented format", () => {
  assert.deepEqual(parsePointer(GOOD, "data.mtrack"), {
    path: "data",
    type: "directory",
    hash: H,
    size: 10,
    files: 2,
  });
  // A display name with a revision suffix (from git history) still matches the path.
  assert.equal(parsePointer(GOOD, "sub/data.mtrack@v1").path, "data");
});

test("malformed YAML is reported with its line", () => {
  assertInvalid(`version: 1\npath: data\ntype: a: b\nhash: ${H}\n`, 3);
  assertInvalid(`version: 1\npath: data\n\t- x\nhash: ${H}\n`, 3);
  assertInvalid(`version: 1\npath: data\npath: data\n`, 3);
});

test("a document that is not a mapping is reported at line 1", () => {
  assertInvalid("- a\n- b\n", 1);
  assertInvalid("just text\n", 1);
});

test("an unknown key is reported at its line", () => {
  assertInvalid(GOOD.replace("files: 2", "files: 2\nmd5: abc"), 7);
  assertInvalid(`version: 1\nhsah: ${H}\n`, 2);
});

test("a wrong version is reported at its line", () => {
  assertInvalid(GOOD.replace("version: 1", "version: 2"), 1);
  assertInvalid(`# comment\n\n${GOOD.replace("version: 1", 'version: "1"')}`, 3);
});

test("a bad hash is reported at its line", () => {
  assertInvalid(GOOD.replace(H, H.slice(1)), 4);
  assertInvalid(GOOD.replace(H, H.toUpperCase()), 4);
  assertInvalid(GOOD.replace(H, `${H.slice(0, 63)}g`), 4);
});

test("a path that does not match the pointer file's name is reported at its line", () => {
  assertInvalid(GOOD.replace("path: data", "path: other"), 2);
  assertInvalid(GOOD.replace("path: data", "path: ../data"), 2);
  assertInvalid(GOOD.replace("path: data", "path: sub/data"), 2);
  assertInvalid(GOOD, 2, "other.mtrack");
});

test("bad type, size, files and executable values are reported at their line", () => {
  assertInvalid(GOOD.replace("type: directory", "type: symlink"), 3);
  assertInvalid(GOOD.replace("size: 10", "size: -1"), 5);
  assertInvalid(GOOD.replace("size: 10", "size: 1.5"), 5);
  assertInvalid(GOOD.replace("files: 2", "files: many"), 6);
  assertInvalid(`version: 1\npath: a\ntype: file\nhash: ${H}\nsize: 1\nexecutable: maybe\n`, 6, "a.mtrack");
});

test("a missing required key is an error", () => {
  for (const key of ["version", "path", "type", "hash", "size", "files"]) {
    const text = GOOD.split("\n")
      .filter((l) => !l.startsWith(`${key}:`))
      .join("\n");
    assert.throws(
      () => parsePointer(text, "data.mtrack"),
      (e: { code?: string }) => e.code === "ERR_MTRACK_POINTER_INVALID",
      key,
    );
  }
});

test("pointer and data paths map to each other", () => {
  assert.equal(pointerPathFor("data/images"), "data/images.mtrack");
  assert.equal(dataPathFor("data/images.mtrack"), "data/images");
});

test("writePointer/readPointer round-trip on disk; a missing pointer reads as undefined", () =>
  withTempDir((dir) => {
    const file = path.join(dir, "data.mtrack");
    const p: Pointer = { path: "data", type: "directory", hash: H, size: 3, files: 1 };
    assert.equal(readPointer(file, "data.mtrack"), undefined);
    writePointer(file, p);
    assert.deepEqual(readPointer(file, "data.mtrack"), p);
    assert.deepEqual(fs.readdirSync(dir), ["data.mtrack"], "no temp files left");
  }));

const COMMIT = "4b1f0c9d2e3a4b5c6d7e8f90a1b2c3d4e5f60718";

test("an import's source round-trips, and a pointer without one still parses", () => {
  const git: Pointer = {
    path: "data",
    type: "directory",
    hash: H,
    size: 10,
    files: 2,
    source: { kind: "git", repo: "../registry", rev: "v2", commit: COMMIT, path: "data/images" },
  };
  assert.deepEqual(parsePointer(serializePointer(git), "data.mtrack"), git);
  const url: Pointer = {
    path: "data",
    type: "file",
    hash: H,
    size: 10,
    source: {
      kind: "url",
      url: "https://example.com/a.csv",
      etag: '"abc"',
      lastModified: "Mon, 07 Dec 2026 05:00:00 GMT",
      size: 10,
    },
  };
  assert.deepEqual(parsePointer(serializePointer(url), "data.mtrack"), url);
  assert.equal(parsePointer(GOOD, "data.mtrack").source, undefined);
});

test("a malformed source names the file and the line", () => {
  const withSource = (lines: string) => `${GOOD}source:\n${lines}`;
  assertInvalid(`${GOOD}source: ../registry\n`, 7);
  assertInvalid(withSource(`  repo: ../r\n  rev: v1\n  commit: abc\n  path: data\n`), 10);
  assertInvalid(withSource(`  repo: ../r\n  rev: v1\n  path: data\n`), 7);
  assertInvalid(
    withSource(`  repo: ../r\n  rev: v1\n  commit: ${COMMIT}\n  path: data\n  colour: red\n`),
    12,
  );
  assertInvalid(withSource(`  url: https://x/y\n  size: -1\n`), 9);
  assertInvalid(withSource(`  url: 12\n`), 8);
});
