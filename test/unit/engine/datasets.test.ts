import assert from "node:assert/strict";
import { test } from "node:test";
import { type DatasetConfig, DEFAULT_DATASET_CONFIG } from "../../../src/engine/config.js";
import {
  type Dataset,
  datasetFromArrays,
  datasetToArrays,
  generateDataset,
} from "../../../src/engine/datasets.js";
import { isMtrackError } from "../../../src/errors.js";
import { decodeNpz, encodeNpz } from "../../../src/formats/npz.js";

function gen(patch: Partial<DatasetConfig>): Dataset {
  return generateDataset({ ...DEFAULT_DATASET_CONFIG, ...patch });
}

function row(d: Dataset, i: number): number[] {
  return [...d.X.subarray(i * d.cols, (i + 1) * d.cols)];
}

function count(d: Dataset, label: number): number {
  return d.y.filter((v) => v === label).length;
}

function columnStats(d: Dataset, j: number): { mean: number; std: number } {
  let s = 0;
  let q = 0;
  for (let i = 0; i < d.rows; i++) s += d.X[i * d.cols + j]!;
  const mean = s / d.rows;
  for (let i = 0; i < d.rows; i++) q += (d.X[i * d.cols + j]! - mean) ** 2;
  return { mean, std: Math.sqrt(q / d.rows) };
}

test("spirals: shape, dtypes, balance, padding, determinism", () => {
  const d = gen({ problem_type: "spirals", n_samples: 2000, input_dim: 5 });
  assert.equal(d.rows, 2000);
  assert.equal(d.cols, 5);
  assert.ok(d.X instanceof Float32Array && d.y instanceof Int32Array);
  assert.equal(count(d, 0), 1000);
  assert.equal(count(d, 1), 1000);
  for (const j of [2, 3, 4]) {
    const { mean, std } = columnStats(d, j);
    assert.ok(Math.abs(mean) < 0.1 && Math.abs(std - 1) < 0.1, `padding column ${j}: ${mean} ${std}`);
  }
  assert.deepEqual(gen({ problem_type: "spirals", input_dim: 5 }), d);
  assert.notDeepEqual(gen({ problem_type: "spirals", input_dim: 5, seed: 7 }).X, d.X);
  assert.equal(gen({ problem_type: "spirals", n_samples: 11, input_dim: 3 }).rows, 10);
});

test("spirals: the second arm is the point reflection and the radius grows with the angle", () => {
  const d = gen({ problem_type: "spirals", n_samples: 1000, input_dim: 2 });
  const h = 500;
  let maxR = 0;
  let consistent = 0;
  for (let i = 0; i < h; i++) {
    const [x = 0, y = 0] = row(d, i);
    assert.deepEqual(row(d, h + i), [-x, -y]);
    assert.equal(d.y[i], 0);
    const r = Math.hypot(x, y);
    maxR = Math.max(maxR, r);
    if (r < 2) continue;
    // On an Archimedean spiral x = t·cos t, y = t·sin t the polar angle equals the radius mod 2π.
    const diff = Math.abs(((r - Math.atan2(y, x)) % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
    if (Math.min(diff, 2 * Math.PI - diff) < 0.6) consistent++;
  }
  assert.ok(maxR > 20 && maxR < 4 * 2 * Math.PI + 1, `max radius ${maxR}`);
  const withR = Array.from({ length: h }, (_, i) => Math.hypot(...row(d, i))).filter((r) => r >= 2).length;
  assert.ok(consistent / withR > 0.95, `${consistent}/${withR} points on the spiral`);
});

test("moons: shape, balance, stretch by 1 + moon_sep, padding", () => {
  const d = gen({ problem_type: "moons", n_samples: 100, input_dim: 2 });
  assert.equal(d.rows, 100);
  assert.equal(d.cols, 2);
  assert.equal(count(d, 0), 50);
  const xs = Array.from({ length: d.rows }, (_, i) => d.X[i * 2]!);
  assert.ok(Math.min(...xs) < -1.2 && Math.max(...xs) > 2.5, "x stretched by 1.5");
  const outer = Array.from({ length: d.rows }, (_, i) => i).filter((i) => d.y[i] === 0);
  for (const i of outer) assert.ok(d.X[i * 2 + 1]! > -0.5, "outer moon lies above");
  assert.equal(gen({ problem_type: "moons", n_samples: 100, input_dim: 4 }).cols, 4);
});

test("complex_moons: shape, labels, spread", () => {
  const d = gen({ problem_type: "complex_moons", n_samples: 2000, input_dim: 4 });
  assert.equal(d.rows, 2000);
  assert.equal(d.cols, 4);
  assert.deepEqual(new Set(d.y), new Set([0, 1]));
  const { mean, std } = columnStats(d, 0);
  assert.ok(std > 0.5 && Math.abs(mean) < 2);
});

test("clusters: N // k points per centre, labels by index parity, points near their centre", () => {
  const d = gen({ problem_type: "clusters", n_samples: 150, cluster_count: 3, input_dim: 2 });
  assert.equal(d.rows, 150);
  assert.equal(d.cols, 2);
  assert.equal(count(d, 0), 100); // clusters 0 and 2
  const three = gen({ problem_type: "clusters", n_samples: 100, input_dim: 3 });
  assert.equal(three.cols, 3);
  // With k = 2 in 3-D the centres are sep·(0,0,1) (label 0) and sep·(-1,0,0) (label 1).
  for (let i = 0; i < three.rows; i++) {
    const centre = three.y[i] === 0 ? [0, 0, 3] : [-3, 0, 0];
    const dist = Math.hypot(...row(three, i).map((v, j) => v - centre[j]!));
    assert.ok(dist < 2.5, `point ${i} is ${dist} from its centre`);
  }
  assert.equal(gen({ problem_type: "clusters", n_samples: 100, input_dim: 6 }).cols, 6);
});

test("spheres: shells at the given radii ± noise, labels by shell parity", () => {
  for (const dim of [2, 3, 5]) {
    const d = gen({
      problem_type: "spheres",
      n_samples: 90,
      sphere_count: 3,
      sphere_radii: [1, 2, 3],
      sphere_noise: 0.05,
      input_dim: dim,
    });
    assert.equal(d.rows, 90);
    assert.equal(d.cols, dim);
    assert.equal(count(d, 0), 60);
    for (let i = 0; i < d.rows; i++) {
      const r = Math.hypot(...row(d, i));
      const shell = [1, 2, 3].reduce((best, s) => (Math.abs(s - r) < Math.abs(best - r) ? s : best));
      assert.ok(Math.abs(r - shell) < 0.05 * 4 * Math.sqrt(dim), `radius ${r}`);
      assert.equal(d.y[i], (shell - 1) % 2);
    }
  }
});

test("dataset errors use ERR_MTRACK_DATASET_INVALID", () => {
  for (const patch of [
    { problem_type: "spheres" as const, sphere_radii: [1] },
    { n_samples: 1 },
    { problem_type: "nope" as unknown as "spirals" },
  ]) {
    assert.throws(
      () => gen(patch),
      (e) => isMtrackError(e, "ERR_MTRACK_DATASET_INVALID"),
    );
  }
});

test("a dataset survives the .npz round trip with y as int64, and bad arrays are rejected", () => {
  const d = gen({ problem_type: "moons", n_samples: 50 });
  const arrays = decodeNpz(encodeNpz(datasetToArrays(d)));
  assert.equal(arrays["y"]?.dtype, "<i8");
  assert.deepEqual(datasetFromArrays(arrays, "m.npz"), d);
  const badLabels = datasetToArrays(d);
  (badLabels["y"]!.data as BigInt64Array)[3] = 2n;
  assert.throws(
    () => datasetFromArrays(badLabels, "m.npz"),
    (e) => isMtrackError(e, "ERR_MTRACK_DATASET_INVALID"),
  );
  const { X } = datasetToArrays(d);
  assert.throws(
    () => datasetFromArrays({ X: X! }, "m.npz"),
    (e) => isMtrackError(e, "ERR_MTRACK_DATASET_INVALID"),
  );
});
