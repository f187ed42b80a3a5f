/**
 * Stage program `generate_data`: writes one synthetic dataset as `.npz` (X float32 [N, D], y int64 [N]),
 * like the seed's scripts/generate_data.py.
 *
 *   node dist/src/engine/cli/generate-data.js --problem_type spirals --n_samples 2000 --input_dim 3 --output data/spirals
 */
import fs from "node:fs";
import path from "node:path";
import { ioError } from "../../errors.js";
import { encodeNpz } from "../../formats/npz.js";
import { type DatasetConfig, DEFAULT_DATASET_CONFIG, PROBLEM_TYPES } from "../config.js";
import { datasetToArrays, generateDataset } from "../datasets.js";
import {
  type FlagSpec,
  helpText,
  isEntryPoint,
  parseFlags,
  reportError,
  type Writer,
  writeFileAtomic,
} from "./args.js";

const D = DEFAULT_DATASET_CONFIG;

/** The flags of generate_data.py, same names and defaults (plus --seed for our PRNG). */
export const GENERATE_FLAGS: readonly FlagSpec[] = [
  { name: "problem_type", kind: "string", choices: PROBLEM_TYPES, help: "Which dataset to generate." },
  {
    name: "n_samples",
    kind: "int",
    default: D.n_samples,
    help:
      "Number of points, split evenly between the classes (spirals, moons) or the clusters/spheres: " +
      "spirals, clusters and spheres round it down to a multiple of 2 / the count (the output says so).",
  },
  {
    name: "output",
    kind: "string",
    help: "Output path; the suffix is replaced by .npz (data/spirals → data/spirals.npz).",
  },
  {
    name: "input_dim",
    kind: "int",
    default: D.input_dim,
    help: "Number of features (>= 2); 2-D problems get N(0,1) padding columns.",
  },
  { name: "seed", kind: "int", default: D.seed, help: "Seed of the data PRNG." },
  { name: "noise", kind: "float", default: D.noise, help: "spirals: uniform jitter amplitude." },
  { name: "rotations", kind: "float", default: D.rotations, help: "spirals: number of turns." },
  {
    name: "moon_noise",
    kind: "float",
    default: D.moon_noise,
    help: "moons, complex_moons: Gaussian noise std.",
  },
  { name: "moon_sep", kind: "float", default: D.moon_sep, help: "moons: x is stretched by 1 + moon_sep." },
  { name: "cluster_count", kind: "int", default: D.cluster_count, help: "clusters: number of blobs." },
  { name: "cluster_std", kind: "float", default: D.cluster_std, help: "clusters: blob std." },
  {
    name: "cluster_sep",
    kind: "float",
    default: D.cluster_sep,
    help: "clusters: distance of blob centres from the origin.",
  },
  { name: "sphere_count", kind: "int", default: D.sphere_count, help: "spheres: number of shells." },
  {
    name: "sphere_radii",
    kind: "floatList",
    default: D.sphere_radii,
    help: "spheres: one radius per shell (1 2 or 1,2).",
  },
  {
    name: "sphere_noise",
    kind: "float",
    default: D.sphere_noise,
    help: "spheres: Gaussian noise std per coordinate.",
  },
];

/** Options of {@link main}: where to print and which directory relative paths start from. */
export interface GenerateDataIo {
  stdout?: Writer;
  stderr?: Writer;
  cwd?: string;
}

/** `Path(output).with_suffix(".npz")`: replaces the last suffix of the file name, or appends one. */
export function npzPath(output: string): string {
  const parsed = path.parse(output);
  return path.join(parsed.dir, `${parsed.ext ? parsed.name : parsed.base}.npz`);
}

/**
 * Runs the program; returns the exit code (0 ok, 2 bad arguments or data, 1 unexpected).
 *
 * @example
 * await main(["--problem_type", "moons", "--output", "data/moons"], { stdout, stderr, cwd: dir }) // 0
 */
export async function main(argv: readonly string[], io: GenerateDataIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  try {
    const { help, values } = parseFlags(argv, GENERATE_FLAGS);
    if (help) {
      stdout.write(
        helpText(
          "generate-data --problem_type <type> --output <path> [flags]",
          "Generates a synthetic binary-classification dataset and saves it as .npz (X float32 [N, D], y int64 [N]).",
          GENERATE_FLAGS,
          [
            "generate-data --problem_type spirals --n_samples 2000 --input_dim 3 --output data/spirals",
            "generate-data --problem_type spheres --sphere_count 3 --sphere_radii 1 2 3 --output data/spheres",
          ],
        ),
      );
      return 0;
    }
    const config: DatasetConfig = { ...D };
    for (const key of Object.keys(D) as (keyof DatasetConfig)[]) {
      const v = values[key];
      if (v !== undefined) (config as unknown as Record<string, unknown>)[key] = v;
    }
    const data = generateDataset(config);
    const target = path.resolve(io.cwd ?? process.cwd(), npzPath(String(values["output"])));
    try {
      writeFileAtomic(target, encodeNpz(datasetToArrays(data)));
    } catch (err) {
      throw ioError(err, `writing ${target}`);
    }
    if (data.rows !== config.n_samples) {
      // The original runner splits with `//`: keep its data, but do not drop points without saying so.
      stderr.write(
        `Note: ${config.problem_type} splits --n_samples ${config.n_samples} evenly, so it has ${data.rows} rows ` +
          `(${config.n_samples - data.rows} fewer).\n`,
      );
    }
    const ones = data.y.reduce((n, v) => n + v, 0);
    const relative = path.relative(io.cwd ?? process.cwd(), target);
    const shown = relative.startsWith("..") || path.isAbsolute(relative) ? target : relative;
    stdout.write(
      `Wrote ${shown}: ${config.problem_type}, X float32 (${data.rows}, ${data.cols}), y int64 (${data.rows},), ` +
        `${data.rows - ones} of class 0 / ${ones} of class 1, ${fs.statSync(target).size} bytes\n`,
    );
    return 0;
  } catch (err) {
    return reportError(err, stderr);
  }
}

if (isEntryPoint(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
