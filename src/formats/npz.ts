/**
 * NumPy `.npz` archives: a zip of `.npy` members named `<array>.npy`, as `numpy.savez` writes them.
 */
import { MtrackError } from "../errors.js";
import { decodeNpy, encodeNpy, type NpyArray } from "./npy.js";
import { readZip, writeZip } from "./zip.js";

export type { NpyArray, NpyDtype } from "./npy.js";

/**
 * Builds an `.npz` (stored, uncompressed, byte-identical for identical input) from named arrays.
 *
 * @example
 * fs.writeFileSync("d.npz", encodeNpz({ X: { dtype: "<f4", shape: [n, 2], data: xs }, y: { dtype: "<i8", shape: [n], data: ys } }));
 */
export function encodeNpz(arrays: Record<string, NpyArray>): Uint8Array {
  return writeZip(
    Object.entries(arrays).map(([name, array]) => ({ name: `${name}.npy`, data: encodeNpy(array) })),
  );
}

/**
 * Reads every array of an `.npz` (stored or deflated members, as `savez` and `savez_compressed` write).
 * Keys are the array names without `.npy`. Throws ERR_MTRACK_FORMAT_INVALID naming the broken member.
 *
 * @example
 * const { X, y } = decodeNpz(fs.readFileSync("data/spirals.npz"));
 */
export function decodeNpz(bytes: Uint8Array): Record<string, NpyArray> {
  const out: Record<string, NpyArray> = {};
  for (const entry of readZip(bytes)) {
    if (!entry.name.endsWith(".npy")) {
      throw new MtrackError("ERR_MTRACK_FORMAT_INVALID", `${entry.name}: .npz members must be .npy files`, {
        data: { member: entry.name },
        hint: "Write the archive with numpy.savez or mtrack's encodeNpz.",
      });
    }
    out[entry.name.slice(0, -4)] = decodeNpy(entry.data, entry.name);
  }
  return out;
}
