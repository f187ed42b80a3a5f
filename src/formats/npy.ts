/**
 * NumPy `.npy` version 1.0 codec for the dtypes our datasets use. Writes C-order little-endian arrays;
 * reads `<f4 <f8 <i8 <i4 |u1 |b1` (C order only).
 */
import { MtrackError } from "../errors.js";

/** The dtypes we read and write, spelled as NumPy's `descr`. */
export type NpyDtype = "<f4" | "<f8" | "<i8" | "<i4" | "|u1" | "|b1";

/** The typed array that holds each dtype's elements (`|b1` is one byte per element, 0 or 1). */
export interface NpyDataTypes {
  "<f4": Float32Array;
  "<f8": Float64Array;
  "<i8": BigInt64Array;
  "<i4": Int32Array;
  "|u1": Uint8Array;
  "|b1": Uint8Array;
}

/** An n-dimensional array in C (row-major) order. */
export type NpyArray = {
  [D in NpyDtype]: { dtype: D; shape: number[]; data: NpyDataTypes[D] };
}[NpyDtype];

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const ITEM_SIZE: Record<NpyDtype, number> = { "<f4": 4, "<f8": 8, "<i8": 8, "<i4": 4, "|u1": 1, "|b1": 1 };

function invalid(member: string, problem: string, data: Record<string, unknown> = {}): MtrackError {
  return new MtrackError("ERR_MTRACK_FORMAT_INVALID", `${member}: ${problem}`, {
    data: { member, ...data },
    hint: "Write the array with numpy.save/savez (C order, dtype float32/float64/int64/int32/uint8/bool) or regenerate the file.",
  });
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * The header dict exactly as NumPy 1.x/2.x writes it, padded with spaces and a final newline so that
 * magic + version + length + header is a multiple of 64 bytes.
 *
 * @example
 * npyHeader("<f4", [2, 3]) // "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + spaces + "\n"
 */
export function npyHeader(dtype: NpyDtype, shape: readonly number[]): string {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${dims}, }`;
  const unpadded = 10 + dict.length + 1;
  return dict + " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
}

/**
 * Serialises an array as `.npy` v1.0.
 *
 * @example
 * encodeNpy({ dtype: "<f4", shape: [2], data: new Float32Array([1, 2]) })
 */
export function encodeNpy(array: NpyArray): Uint8Array {
  if (array.data.length !== elementCount(array.shape)) {
    throw new MtrackError(
      "ERR_MTRACK_INVALID_ARGUMENT",
      `array data has ${array.data.length} elements but shape (${array.shape.join(", ")}) needs ${elementCount(array.shape)}`,
      { data: { shape: array.shape, length: array.data.length } },
    );
  }
  const header = npyHeader(array.dtype, array.shape);
  if (header.length > 0xffff) throw invalid("array", "header too long for .npy version 1.0");
  const body = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const out = new Uint8Array(10 + header.length + body.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  // Typed arrays are host-endian; every platform Node supports in practice is little-endian, which the
  // `<` in the descr promises.
  out.set(body, 10 + header.length);
  return out;
}

function parseHeader(member: string, text: string): { dtype: NpyDtype; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw invalid(member, "the .npy header lacks descr, fortran_order or shape", { header: text.trim() });
  }
  if (!(descr in ITEM_SIZE)) {
    throw invalid(member, `unsupported dtype '${descr}' (supported: ${Object.keys(ITEM_SIZE).join(" ")})`, {
      dtype: descr,
    });
  }
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => {
      if (!/^\d+$/.test(s)) throw invalid(member, `bad dimension '${s}' in shape`, { shape: shapeText });
      return Number(s);
    });
  return { dtype: descr as NpyDtype, fortran: fortran === "True", shape };
}

/**
 * Parses a `.npy` file (versions 1.0, 2.0 and 3.0 headers). `member` names the array in error messages.
 * The returned data is a copy, so it is aligned and independent of `bytes`.
 *
 * @example
 * const { dtype, shape, data } = decodeNpy(fs.readFileSync("X.npy"), "X.npy");
 */
export function decodeNpy(bytes: Uint8Array, member: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    throw invalid(member, "missing the \\x93NUMPY magic");
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerAt: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerAt = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw invalid(member, "truncated header");
    headerLen = view.getUint32(8, true);
    headerAt = 12;
  } else throw invalid(member, `unsupported .npy version ${major}.${bytes[7]}`, { version: major });
  if (headerAt + headerLen > bytes.length) throw invalid(member, "truncated header");
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerAt, headerAt + headerLen),
  );
  const { dtype, fortran, shape } = parseHeader(member, text);
  if (fortran)
    throw invalid(member, "fortran_order True is not supported; save a C-ordered array", { dtype });
  const count = elementCount(shape);
  const dataAt = headerAt + headerLen;
  const byteLength = count * ITEM_SIZE[dtype];
  if (bytes.length - dataAt !== byteLength) {
    throw invalid(
      member,
      `data has ${bytes.length - dataAt} bytes, shape (${shape.join(", ")}) of ${dtype} needs ${byteLength}`,
      {
        shape,
        dtype,
      },
    );
  }
  // A copy constructor, not .slice(): Buffer#slice returns a view onto Node's shared pool.
  const copy = new Uint8Array(bytes.subarray(dataAt, dataAt + byteLength)).buffer;
  switch (dtype) {
    case "<f4":
      return { dtype, shape, data: new Float32Array(copy) };
    case "<f8":
      return { dtype, shape, data: new Float64Array(copy) };
    case "<i8":
      return { dtype, shape, data: new BigInt64Array(copy) };
    case "<i4":
      return { dtype, shape, data: new Int32Array(copy) };
    case "|u1":
      return { dtype, shape, data: new Uint8Array(copy) };
    case "|b1": {
      const data = new Uint8Array(copy);
      if (data.some((b) => b > 1))
        throw invalid(member, "bool array holds bytes other than 0 and 1", { dtype });
      return { dtype, shape, data };
    }
  }
}
