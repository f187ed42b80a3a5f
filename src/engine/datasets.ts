/**
 * The five synthetic binary-classification problems (EXPERIMENT.md §1). Same shapes, label balance and
 * distributions as the original; the random numbers come from our own seeded PRNG, so values are not
 * bit-identical to numpy/sklearn.
 */
import { MtrackError } from "../errors.js";
import type { NpyArray } from "../formats/npz.js";
import { type DatasetConfig, validateDatasetConfig } from "./config.js";
import { Rng } from "./random.js";

/** A dataset: X row-major float32 [rows, cols], labels 0/1 as int32 [rows]. */
export interface Dataset {
  X: Float32Array;
  y: Int32Array;
  rows: number;
  cols: number;
}

/** Rows kept as plain arrays while generating; converted once at the end. */
interface Points {
  pts: number[][];
  labels: number[];
}

function toDataset({ pts, labels }: Points, cols: number): Dataset {
  const rows = pts.length;
  const X = new Float32Array(rows * cols);
  pts.forEach((p, i) => {
    X.set(p, i * cols);
  });
  return { X, y: Int32Array.from(labels), rows, cols };
}

/** Appends `inputDim - 2` standard-normal columns, drawn after every other draw (as the original). */
function pad(points: Points, inputDim: number, rng: Rng): Points {
  if (inputDim <= 2) return points;
  for (const p of points.pts) for (let j = 2; j < inputDim; j++) p.push(rng.normal());
  return points;
}

function permute(points: Points, order: Int32Array): Points {
  return {
    pts: Array.from(order, (i) => points.pts[i]!),
    labels: Array.from(order, (i) => points.labels[i]!),
  };
}

function linspace(start: number, stop: number, n: number): number[] {
  if (n === 1) return [start];
  return Array.from({ length: n }, (_, i) => start + ((stop - start) * i) / (n - 1));
}

/**
 * Two point-reflected spiral arms, `n_samples // 2` points each (class 0 first, then class 1), with
 * UNIFORM [0, noise) jitter as in the original.
 *
 * @example
 * const d = createSpirals({ nSamples: 2000, noise: 0.25, rotations: 4, inputDim: 3 }, new Rng(42)); // 2000×3
 */
export function createSpirals(
  o: { nSamples: number; noise: number; rotations: number; inputDim: number },
  rng: Rng,
): Dataset {
  const h = Math.floor(o.nSamples / 2);
  const n = Array.from({ length: h }, () => Math.sqrt(rng.random()) * o.rotations * 2 * Math.PI);
  const dx = n.map((t) => Math.cos(t) * t + rng.random() * o.noise);
  const dy = n.map((t) => Math.sin(t) * t + rng.random() * o.noise);
  const pts = [...dx.map((x, i) => [x, dy[i]!]), ...dx.map((x, i) => [-x, -dy[i]!])];
  const labels = [...new Array<number>(h).fill(0), ...new Array<number>(h).fill(1)];
  return toDataset(pad({ pts, labels }, o.inputDim, rng), Math.max(2, o.inputDim));
}

/** sklearn's `make_moons`: outer moon (label 0) and inner moon (label 1), shuffled, plus N(0, noise). */
function makeMoons(nSamples: number, noise: number, rng: Rng): Points {
  const nOut = Math.floor(nSamples / 2);
  const nIn = nSamples - nOut;
  const outer = linspace(0, Math.PI, nOut).map((t) => [Math.cos(t), Math.sin(t)]);
  const inner = linspace(0, Math.PI, nIn).map((t) => [1 - Math.cos(t), 1 - Math.sin(t) - 0.5]);
  const labels = [...new Array<number>(nOut).fill(0), ...new Array<number>(nIn).fill(1)];
  const shuffled = permute({ pts: [...outer, ...inner], labels }, rng.permutation(nSamples));
  for (const p of shuffled.pts) {
    p[0] = p[0]! + rng.normal(0, noise);
    p[1] = p[1]! + rng.normal(0, noise);
  }
  return shuffled;
}

/**
 * Two interleaving half circles (make_moons semantics), x stretched by `1 + moon_sep`.
 *
 * @example
 * createMoons({ nSamples: 100, moonNoise: 0.1, moonSep: 0.5, inputDim: 2 }, new Rng(42)).rows // 100
 */
export function createMoons(
  o: { nSamples: number; moonNoise: number; moonSep: number; inputDim: number },
  rng: Rng,
): Dataset {
  const moons = makeMoons(o.nSamples, o.moonNoise, rng);
  for (const p of moons.pts) p[0] = p[0]! * (o.moonSep + 1);
  return toDataset(pad(moons, o.inputDim, rng), Math.max(2, o.inputDim));
}

/** A 2-D multivariate normal draw via the Cholesky factor of [[a, b], [b, a]]. */
function mvn2(rng: Rng, mean: readonly [number, number], a: number, b: number): number[] {
  const l11 = Math.sqrt(a);
  const l21 = b / l11;
  const l22 = Math.sqrt(a - l21 * l21);
  const z1 = rng.normal();
  const z2 = rng.normal();
  return [mean[0] + l11 * z1, mean[1] + l21 * z1 + l22 * z2];
}

/**
 * Half the points from make_moons, the rest from two tilted Gaussian clusters at (2,2) (label 0) and
 * (-2,-2) (label 1); all shuffled, then padded.
 *
 * @example
 * createComplexMoons({ nSamples: 2000, noise: 0.1, inputDim: 2 }, new Rng(42)).rows // 2000
 */
export function createComplexMoons(
  o: { nSamples: number; noise: number; inputDim: number },
  rng: Rng,
): Dataset {
  const nMoons = Math.floor(o.nSamples / 2);
  const moons = makeMoons(nMoons, o.noise, rng);
  const nC = o.nSamples - nMoons;
  const c0 = Math.floor(nC / 2);
  const pts = [...moons.pts];
  const labels = [...moons.labels];
  for (let i = 0; i < nC; i++) {
    if (i < c0) pts.push(mvn2(rng, [2, 2], 0.5, 0.1));
    else pts.push(mvn2(rng, [-2, -2], 0.5, -0.1));
    labels.push(i < c0 ? 0 : 1);
  }
  const shuffled = permute({ pts, labels }, rng.permutation(pts.length));
  return toDataset(pad(shuffled, o.inputDim, rng), Math.max(2, o.inputDim));
}

/**
 * `clusterCount` Gaussian blobs (make_blobs semantics) around centres spread on a circle/sphere of
 * radius `clusterSep`; label = cluster index % 2. Works directly in `inputDim` dimensions (no padding).
 *
 * @example
 * createClusters({ clusterCount: 2, clusterSize: 50, clusterStd: 0.5, clusterSep: 3, inputDim: 3 }, new Rng(42)).rows // 100
 */
export function createClusters(
  o: { clusterCount: number; clusterSize: number; clusterStd: number; clusterSep: number; inputDim: number },
  rng: Rng,
): Dataset {
  const k = o.clusterCount;
  const d = o.inputDim;
  const centres: number[][] = [];
  for (let i = 0; i < k; i++) {
    const a = (2 * Math.PI * i) / k;
    if (d === 2) centres.push([Math.cos(a), Math.sin(a)].map((v) => o.clusterSep * v));
    else if (d === 3) {
      const phi = (Math.PI * i) / k;
      centres.push(
        [Math.cos(a) * Math.sin(phi), Math.sin(a) * Math.sin(phi), Math.cos(phi)].map(
          (v) => o.clusterSep * v,
        ),
      );
    } else {
      const tail = Array.from({ length: d - 2 }, () => rng.normal());
      centres.push([Math.cos(a), Math.sin(a), ...tail].map((v) => o.clusterSep * v));
    }
  }
  const total = k * o.clusterSize;
  const pts: number[][] = [];
  const labels: number[] = [];
  centres.forEach((centre, i) => {
    const count = Math.floor(total / k) + (i < total % k ? 1 : 0);
    for (let n = 0; n < count; n++) {
      pts.push(centre.map((c) => rng.normal(c, o.clusterStd)));
      labels.push(i % 2);
    }
  });
  return toDataset(permute({ pts, labels }, rng.permutation(pts.length)), d);
}

/**
 * Concentric shells of the given radii (`sphereSize` points each, label = shell index % 2), with
 * N(0, sphereNoise) per coordinate, shuffled. Works directly in `inputDim` dimensions.
 *
 * @example
 * createSpheres({ sphereCount: 2, sphereSize: 50, sphereRadii: [1, 2], sphereNoise: 0.05, inputDim: 3 }, new Rng(42)).rows // 100
 */
export function createSpheres(
  o: {
    sphereCount: number;
    sphereSize: number;
    sphereRadii: readonly number[];
    sphereNoise: number;
    inputDim: number;
  },
  rng: Rng,
): Dataset {
  if (o.sphereRadii.length !== o.sphereCount) {
    throw new MtrackError(
      "ERR_MTRACK_DATASET_INVALID",
      `Number of radii (${o.sphereRadii.length}) must match sphere_count (${o.sphereCount})`,
      {
        data: { key: "sphere_radii", radii: o.sphereRadii, sphere_count: o.sphereCount },
        hint: "Give exactly one radius per sphere, e.g. --sphere_count 3 --sphere_radii 1 2 3.",
      },
    );
  }
  const d = o.inputDim;
  const pts: number[][] = [];
  const labels: number[] = [];
  o.sphereRadii.forEach((r, i) => {
    for (let n = 0; n < o.sphereSize; n++) {
      let unit: number[];
      if (d === 2) {
        const theta = rng.uniform(0, 2 * Math.PI);
        unit = [Math.cos(theta), Math.sin(theta)];
      } else if (d === 3) {
        const theta = 2 * Math.PI * rng.random();
        const phi = Math.acos(2 * rng.random() - 1);
        unit = [Math.sin(phi) * Math.cos(theta), Math.sin(phi) * Math.sin(theta), Math.cos(phi)];
      } else {
        let v: number[];
        let norm: number;
        do {
          v = Array.from({ length: d }, () => rng.normal());
          norm = Math.hypot(...v);
        } while (norm === 0);
        unit = v.map((x) => x / norm);
      }
      pts.push(unit.map((u) => u * r + (o.sphereNoise > 0 ? rng.normal(0, o.sphereNoise) : 0)));
      labels.push(i % 2);
    }
  });
  return toDataset(permute({ pts, labels }, rng.permutation(pts.length)), d);
}

/**
 * Validates the config and dispatches to the generator, calling it the way the original runner does
 * (`cluster_size = n_samples // cluster_count`, `sphere_size = n_samples // sphere_count`, complex_moons
 * noise from `moon_noise`). Deterministic per `config.seed`.
 *
 * @example
 * const d = generateDataset({ ...DEFAULT_DATASET_CONFIG, problem_type: "moons" });
 */
export function generateDataset(config: DatasetConfig): Dataset {
  validateDatasetConfig(config);
  const rng = new Rng(config.seed);
  const c = config;
  switch (c.problem_type) {
    case "spirals":
      return createSpirals(
        { nSamples: c.n_samples, noise: c.noise, rotations: c.rotations, inputDim: c.input_dim },
        rng,
      );
    case "moons":
      return createMoons(
        { nSamples: c.n_samples, moonNoise: c.moon_noise, moonSep: c.moon_sep, inputDim: c.input_dim },
        rng,
      );
    case "complex_moons":
      return createComplexMoons({ nSamples: c.n_samples, noise: c.moon_noise, inputDim: c.input_dim }, rng);
    case "clusters":
      return createClusters(
        {
          clusterCount: c.cluster_count,
          clusterSize: Math.floor(c.n_samples / c.cluster_count),
          clusterStd: c.cluster_std,
          clusterSep: c.cluster_sep,
          inputDim: c.input_dim,
        },
        rng,
      );
    case "spheres":
      return createSpheres(
        {
          sphereCount: c.sphere_count,
          sphereSize: Math.floor(c.n_samples / c.sphere_count),
          sphereRadii: c.sphere_radii,
          sphereNoise: c.sphere_noise,
          inputDim: c.input_dim,
        },
        rng,
      );
  }
}

/**
 * The arrays `numpy.savez(path, X=X, y=y)` would write: X float32 [N, D], y int64 [N].
 *
 * @example
 * fs.writeFileSync("data/spirals.npz", encodeNpz(datasetToArrays(d)));
 */
export function datasetToArrays(d: Dataset): Record<string, NpyArray> {
  return {
    X: { dtype: "<f4", shape: [d.rows, d.cols], data: d.X },
    y: { dtype: "<i8", shape: [d.rows], data: BigInt64Array.from(d.y, (v) => BigInt(v)) },
  };
}

function datasetError(source: string, problem: string, data: Record<string, unknown> = {}): MtrackError {
  return new MtrackError("ERR_MTRACK_DATASET_INVALID", `${source}: ${problem}`, {
    data: { file: source, ...data },
    hint: "Regenerate the data (the generate_data stage) or save X as a 2-D float array and y as 0/1 labels.",
  });
}

/**
 * Turns the arrays of an `.npz` into a Dataset, checking that X is a 2-D float array and y a matching
 * vector of 0/1 labels. `source` names the file in errors (ERR_MTRACK_DATASET_INVALID).
 *
 * @example
 * const d = datasetFromArrays(decodeNpz(fs.readFileSync(p)), p);
 */
export function datasetFromArrays(arrays: Record<string, NpyArray>, source: string): Dataset {
  const x = arrays["X"];
  const y = arrays["y"];
  if (!x) throw datasetError(source, "has no array X", { member: "X.npy", arrays: Object.keys(arrays) });
  if (!y) throw datasetError(source, "has no array y", { member: "y.npy", arrays: Object.keys(arrays) });
  if (x.shape.length !== 2 || (x.dtype !== "<f4" && x.dtype !== "<f8")) {
    throw datasetError(
      source,
      `X must be a 2-D float array, got ${x.dtype} with shape (${x.shape.join(", ")})`,
      {
        member: "X.npy",
      },
    );
  }
  const [rows = 0, cols = 0] = x.shape;
  if (y.shape.length !== 1 || y.shape[0] !== rows) {
    throw datasetError(source, `y must have shape (${rows},), got (${y.shape.join(", ")})`, {
      member: "y.npy",
    });
  }
  const X = Float32Array.from(x.data as ArrayLike<number>);
  if (!X.every(Number.isFinite))
    throw datasetError(source, "X holds NaN or infinite values", { member: "X.npy" });
  if (y.dtype === "<f4" || y.dtype === "<f8") {
    throw datasetError(source, `y must hold integer labels, got ${y.dtype}`, { member: "y.npy" });
  }
  const labels = Int32Array.from(y.data as ArrayLike<number | bigint>, (v) => Number(v));
  const bad = labels.findIndex((v) => v !== 0 && v !== 1);
  if (bad >= 0) {
    throw datasetError(source, `labels must be 0 or 1, y[${bad}] is ${labels[bad]}`, {
      member: "y.npy",
      index: bad,
    });
  }
  return { X, y: labels, rows, cols };
}
