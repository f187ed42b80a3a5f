import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { deflateRawSync } from "node:zlib";
import { isMtrackError } from "../../../src/errors.js";
import { decodeNpy, encodeNpy, npyHeader } from "../../../src/formats/npy.js";
import { decodeNpz, encodeNpz } from "../../../src/formats/npz.js";
import { crc32, readZip, writeZip } from "../../../src/formats/zip.js";
import { pythonHas, testPython } from "../../helpers/python.js";

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
}

function sample() {
  const X = new Float32Array([0.5, -1.25, 3, 4e-8, 1e30, -0]);
  const y = new BigInt64Array([0n, 1n, -5n]);
  return {
    X: { dtype: "<f4" as const, shape: [3, 2], data: X },
    y: { dtype: "<i8" as const, shape: [3], data: y },
  };
}

test("crc32 matches the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

test("npy header for a known array is byte-exact and 64-aligned", () => {
  const bytes = encodeNpy({ dtype: "<f4", shape: [2, 3], data: new Float32Array(6) });
  const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const header = dict + " ".repeat(128 - 10 - dict.length - 1) + "\n";
  assert.equal(npyHeader("<f4", [2, 3]), header);
  assert.deepEqual([...bytes.subarray(0, 10)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 118, 0]);
  assert.equal(new TextDecoder().decode(bytes.subarray(10, 128)), header);
  assert.equal(bytes.length, 128 + 24);
  assert.equal(npyHeader("<i8", [7]).includes("'shape': (7,)"), true);
  assert.equal((10 + npyHeader("<i8", [2000]).length) % 64, 0);
});

test("npz round-trips through our reader, byte-identically when re-encoded", () => {
  const arrays = sample();
  const bytes = encodeNpz(arrays);
  const back = decodeNpz(bytes);
  assert.deepEqual(Object.keys(back), ["X", "y"]);
  assert.equal(back["X"]?.dtype, "<f4");
  assert.deepEqual(back["X"]?.shape, [3, 2]);
  assert.deepEqual([...(back["X"]!.data as Float32Array)], [...arrays.X.data]);
  assert.deepEqual([...(back["y"]!.data as BigInt64Array)], [0n, 1n, -5n]);
  assert.deepEqual(encodeNpz(back), bytes);
});

test("deflated members are read", () => {
  const npy = encodeNpy({ dtype: "<i4", shape: [3], data: new Int32Array([1, 2, 3]) });
  // Build a deflated archive by rewriting a stored one's method and payload.
  const stored = writeZip([{ name: "a.npy", data: npy }]);
  const deflated = deflateRawSync(npy);
  const name = new TextEncoder().encode("a.npy");
  const local = Buffer.alloc(30 + name.length);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(crc32(npy), 14);
  local.writeUInt32LE(deflated.length, 18);
  local.writeUInt32LE(npy.length, 22);
  local.writeUInt16LE(name.length, 26);
  Buffer.from(name).copy(local, 30);
  const cd = Buffer.from(stored.subarray(30 + name.length + npy.length, stored.length - 22));
  cd.writeUInt16LE(8, 10);
  cd.writeUInt32LE(deflated.length, 20);
  const end = Buffer.from(stored.subarray(stored.length - 22));
  end.writeUInt32LE(local.length + deflated.length, 16);
  const archive = Buffer.concat([local, deflated, cd, end]);
  assert.deepEqual(readZip(archive)[0]?.data, npy);
  assert.deepEqual([...(decodeNpz(archive)["a"]!.data as Int32Array)], [1, 2, 3]);
});

test("corrupt archives and arrays fail with ERR_MTRACK_FORMAT_INVALID naming the member", () => {
  const bytes = encodeNpz(sample());
  const flipped = bytes.slice();
  flipped[120] = (flipped[120] ?? 0) ^ 0xff; // inside X.npy's data
  assert.throws(
    () => decodeNpz(flipped),
    (e) => isMtrackError(e, "ERR_MTRACK_FORMAT_INVALID") && e.data["member"] === "X.npy",
  );
  assert.throws(
    () => decodeNpz(bytes.subarray(0, 50)),
    (e) => isMtrackError(e, "ERR_MTRACK_FORMAT_INVALID"),
  );
  const fortran = encodeNpy({ dtype: "<f4", shape: [1], data: new Float32Array(1) });
  fortran.set(new TextEncoder().encode("True "), 10 + "{'descr': '<f4', 'fortran_order': ".length);
  assert.throws(
    () => decodeNpy(fortran, "F.npy"),
    (e) => isMtrackError(e, "ERR_MTRACK_FORMAT_INVALID") && e.data["member"] === "F.npy",
  );
  const badType = encodeNpy({ dtype: "<f4", shape: [1], data: new Float32Array(1) });
  badType.set(new TextEncoder().encode("<c8"), 10 + "{'descr': '".length);
  assert.throws(
    () => decodeNpy(badType, "C.npy"),
    (e) => isMtrackError(e, "ERR_MTRACK_FORMAT_INVALID"),
  );
  const short = encodeNpy({ dtype: "<f8", shape: [2], data: new Float64Array(2) }).subarray(0, 70);
  assert.throws(
    () => decodeNpy(short, "S.npy"),
    (e) => isMtrackError(e, "ERR_MTRACK_FORMAT_INVALID"),
  );
});

test("numpy.load reads our .npz and we read numpy's savez and savez_compressed", (t) => {
  if (!pythonHas(["numpy"], t)) return;
  const dir = tmpDir();
  try {
    const ours = path.join(dir, "ours.npz");
    fs.writeFileSync(ours, encodeNpz(sample()));
    const script = [
      "import numpy as np, sys, json",
      "d = np.load(sys.argv[1])",
      "print(json.dumps({'keys': sorted(d.files), 'Xd': str(d['X'].dtype), 'yd': str(d['y'].dtype), 'shape': list(d['X'].shape), 'X': d['X'].ravel().tolist(), 'y': d['y'].tolist()}))",
      "import io; b = io.BytesIO(); np.save(b, np.zeros((2, 3), dtype=np.float32)); sys.stderr.write(b.getvalue().hex())",
      "np.savez(sys.argv[2], X=np.arange(6, dtype=np.float64).reshape(2, 3), y=np.array([1, 0], dtype=np.int64), b=np.array([True, False]), u=np.array([7], dtype=np.uint8))",
      "np.savez_compressed(sys.argv[3], X=np.ones((4, 2), dtype=np.float32), y=np.array([0, 1, 1, 0], dtype=np.int32))",
    ].join("\n");
    const run = spawnSync(
      testPython(),
      ["-c", script, ours, path.join(dir, "np.npz"), path.join(dir, "npc.npz")],
      {
        encoding: "utf8",
      },
    );
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout);
    const numpyNpy = Buffer.from(run.stderr.trim(), "hex");
    assert.deepEqual(
      Buffer.from(encodeNpy({ dtype: "<f4", shape: [2, 3], data: new Float32Array(6) })),
      numpyNpy,
    );
    assert.deepEqual(out.keys, ["X", "y"]);
    assert.equal(out.Xd, "float32");
    assert.equal(out.yd, "int64");
    assert.deepEqual(out.shape, [3, 2]);
    assert.deepEqual(out.X, [...sample().X.data]);
    assert.deepEqual(out.y, [0, 1, -5]);

    const plain = decodeNpz(fs.readFileSync(path.join(dir, "np.npz")));
    assert.equal(plain["X"]?.dtype, "<f8");
    assert.deepEqual([...(plain["X"]!.data as Float64Array)], [0, 1, 2, 3, 4, 5]);
    assert.deepEqual([...(plain["b"]!.data as Uint8Array)], [1, 0]);
    assert.deepEqual([...(plain["u"]!.data as Uint8Array)], [7]);
    const compressed = decodeNpz(fs.readFileSync(path.join(dir, "npc.npz")));
    assert.equal(compressed["y"]?.dtype, "<i4");
    assert.deepEqual([...(compressed["y"]!.data as Int32Array)], [0, 1, 1, 0]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
