import assert from "node:assert/strict";
import { test } from "node:test";
import { Packr } from "msgpackr";
import { hashBytes } from "../../../src/store/hash.js";
import { decodeTree, encodeTree, type TreeEntry } from "../../../src/store/tree.js";

const H1 = hashBytes(Buffer.from("one"));
const H2 = hashBytes(Buffer.from("two"));
const RAW1 = Buffer.from(H1, "hex");

// Plain msgpack, as mtrack writes it: a hostile manifest is just different rows in the same shape.
const packr = new Packr({ useRecords: false, variableMapSize: true });
const manifest = (rows: unknown[], v: unknown = 1) => packr.pack({ v, entries: rows });
const row = (p: unknown, h: unknown = RAW1, size: unknown = 3, flags: unknown = 0) => [p, h, size, flags];

function isInvalid(err: unknown): boolean {
  return (err as { code?: string }).code === "ERR_MTRACK_MANIFEST_INVALID";
}

const ENTRIES: TreeEntry[] = [
  { path: "b/c.txt", hash: H2, size: 3, executable: false },
  { path: "a.txt", hash: H1, size: 3, executable: true },
  { path: "b/a b.bin", hash: H1, size: 3, executable: false },
  { path: "é/ü.txt", hash: H2, size: 0, executable: false },
];

test("encodeTree/decodeTree round-trip, sorted by path", () => {
  const decoded = decodeTree(encodeTree(ENTRIES));
  const sorted = [...ENTRIES].sort((a, b) => (a.path < b.path ? -1 : 1));
  assert.deepEqual(decoded, sorted);
});

test("encoding is deterministic: same entries in any order give identical bytes", () => {
  const a = encodeTree(ENTRIES);
  const b = encodeTree([...ENTRIES].reverse());
  assert.deepEqual(a, b);
  assert.equal(hashBytes(a), hashBytes(b));
  // And any change in content, size or mode changes the bytes.
  const flipped = ENTRIES.map((e, i) => (i === 0 ? { ...e, executable: true } : e));
  assert.notDeepEqual(encodeTree(flipped), a);
  const resized = ENTRIES.map((e, i) => (i === 0 ? { ...e, size: 4 } : e));
  assert.notDeepEqual(encodeTree(resized), a);
});

test("an empty directory has a valid manifest", () => {
  assert.deepEqual(decodeTree(encodeTree([])), []);
});

test("decodeTree accepts a hand-crafted well-formed manifest", () => {
  assert.deepEqual(decodeTree(manifest([row("x/y", RAW1, 3, 1)])), [
    { path: "x/y", hash: H1, size: 3, executable: true },
  ]);
});

const HOSTILE: Array<[string, Buffer]> = [
  ["parent escape ../x", manifest([row("../x")])],
  ["nested parent escape a/../../x", manifest([row("a/../../x")])],
  ["a/../b", manifest([row("a/../b")])],
  ["trailing ..", manifest([row("a/..")])],
  ["absolute /abs", manifest([row("/etc/passwd")])],
  ["windows drive C:x", manifest([row("C:/x")])],
  [".git/config", manifest([row(".git/config")])],
  ["nested .git", manifest([row("sub/.git/hooks/pre-commit")])],
  [".mtrack/config.yaml", manifest([row(".mtrack/config.yaml")])],
  ["./a", manifest([row("./a")])],
  ["empty path", manifest([row("")])],
  ["empty segment a//b", manifest([row("a//b")])],
  ["trailing slash", manifest([row("a/")])],
  ["NUL in path", manifest([row("a\0b")])],
  ["duplicate entries", manifest([row("a"), row("a", Buffer.from(H2, "hex"))])],
  ["file and directory prefix", manifest([row("a"), row("a/b")])],
  ["deep file and directory prefix", manifest([row("x/y/z"), row("x/y")])],
  ["a file, then a folder of that name", manifest([row("a"), row("a.txt"), row("a/x"), row("a/y")])],
  [
    "a folder's files, then the folder as a file",
    manifest([row("d/e/f"), row("d/e/g"), row("q/r"), row("d/e")]),
  ],
  ["a deep folder under a file", manifest([row("a"), row("a-b/c"), row("a/b/c/d")])],
  ["reserved segment deep down", manifest([row("x/y/.mtrack")])],
  ["reserved segment in another case (macOS, Windows)", manifest([row(".GIT/hooks/x")])],
  ["reserved .mtrack in another case", manifest([row("a/.MTrack/cache")])],
  [".. after a long segment", manifest([row("abc/def/..")])],
  ["short hash", manifest([row("a", RAW1.subarray(0, 31))])],
  ["hex string hash", manifest([row("a", H1)])],
  ["negative size", manifest([row("a", RAW1, -1)])],
  ["fractional size", manifest([row("a", RAW1, 1.5)])],
  ["string size", manifest([row("a", RAW1, "3")])],
  ["path not a string", manifest([row(42)])],
  ["row too short", manifest([["a", RAW1, 3]])],
  ["row not an array", manifest([{ path: "a" }])],
  ["unknown version", manifest([row("a")], 2)],
  ["missing entries", packr.pack({ v: 1 })],
  ["not a map", packr.pack([1, 2, 3])],
  ["not msgpack", Buffer.from([0xc1, 0xc1, 0xc1])],
];

for (const [name, bytes] of HOSTILE) {
  test(`decodeTree rejects a hostile or malformed manifest: ${name}`, () => {
    assert.throws(() => decodeTree(bytes), isInvalid);
  });
}

test("names that only look like reserved ones are fine (..., .gitignore, .mtrackx, a..b)", () => {
  const names = ["...", ".gitignore", ".mtrackx", "a..b", "x/.git-keep", "d/.../e"];
  const entries = names.map((p) => ({ path: p, hash: H1, size: 1, executable: false }));
  assert.deepEqual(
    decodeTree(encodeTree(entries)).map((e) => e.path),
    [...names].sort(),
  );
});

test("encodeTree refuses to write unsafe entries too", () => {
  for (const p of ["../x", "/abs", "a/../b", ".git/config"]) {
    assert.throws(() => encodeTree([{ path: p, hash: H1, size: 1, executable: false }]), isInvalid, p);
  }
  assert.throws(
    () =>
      encodeTree([
        { path: "a", hash: H1, size: 1, executable: false },
        { path: "a", hash: H2, size: 1, executable: false },
      ]),
    isInvalid,
  );
});
