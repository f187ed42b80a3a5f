import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { HASH_CHUNK, hashBytes, hashFileSync, isHash } from "../../../src/store/hash.js";
import { withTempDir } from "../../helpers/tmp.js";

/** The official BLAKE3 test-vector input: bytes 0, 1, ..., 250, 0, 1, ... */
function vectorInput(len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = i % 251;
  return b;
}

// From BLAKE3-team/BLAKE3 test_vectors/test_vectors.json (first 32 bytes of each extended output).
const VECTORS: Array<[number, string]> = [
  [0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"],
  [1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"],
  [1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"],
  [1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"],
  [102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085"],
];

test("hashBytes matches the official BLAKE3 test vectors", () => {
  for (const [len, expected] of VECTORS) {
    assert.equal(hashBytes(vectorInput(len)), expected, `input_len ${len}`);
  }
});

test("hashBytes accepts any Uint8Array view, not only Buffers", () => {
  const backing = new Uint8Array(1030);
  backing.set(vectorInput(1024), 3);
  assert.equal(hashBytes(backing.subarray(3, 3 + 1024)), VECTORS[2]![1]);
});

test("a streamed multi-chunk file hashes like the same bytes in one shot", () =>
  withTempDir((dir) => {
    // 3.5 chunks: several full reads and a partial last one.
    const data = Buffer.alloc(HASH_CHUNK * 3 + HASH_CHUNK / 2);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    const file = path.join(dir, "big.bin");
    fs.writeFileSync(file, data);
    const streamed = hashFileSync(file);
    assert.equal(streamed.size, data.length);
    assert.equal(streamed.hash, hashBytes(data));
    const empty = path.join(dir, "empty");
    fs.writeFileSync(empty, "");
    assert.deepEqual(hashFileSync(empty), { hash: VECTORS[0]![1], size: 0 });
  }));

test("isHash accepts only 64 lowercase hex characters", () => {
  assert.equal(isHash(VECTORS[0]![1]), true);
  assert.equal(isHash(VECTORS[0]![1].toUpperCase()), false);
  assert.equal(isHash(VECTORS[0]![1].slice(1)), false);
  assert.equal(isHash(`${VECTORS[0]![1]}0`), false);
  assert.equal(isHash(`g${VECTORS[0]![1].slice(1)}`), false);
  assert.equal(isHash(42), false);
});
