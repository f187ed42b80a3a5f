/**
 * CRC-32C (Castagnoli), the checksum TensorBoard/TFRecord files use, and TFRecord's masked form.
 *
 * @example
 * crc32c(new TextEncoder().encode("123456789")) // 0xe3069283
 */

/** Reflected Castagnoli polynomial. */
const POLY = 0x82f63b78;

function makeTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

// Built once at load and never written again: it is a constant, not state.
const TABLE = makeTable();

/**
 * CRC-32C of `bytes` as an unsigned 32-bit number. Pass a previous result as `crc` to continue a
 * checksum over data that arrives in pieces.
 *
 * @example
 * crc32c(new TextEncoder().encode("123456789")) === 0xe3069283
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** The constant TFRecord adds after rotating, so a CRC of data that embeds CRCs stays well distributed. */
const MASK_DELTA = 0xa282ead8;

/**
 * TFRecord's masked CRC-32C: rotate right by 15 bits, then add 0xA282EAD8 (mod 2^32).
 *
 * @example
 * maskedCrc32c(new Uint8Array([0x18, 0, 0, 0, 0, 0, 0, 0])) // 0x224b7fa3
 */
export function maskedCrc32c(bytes: Uint8Array): number {
  const x = crc32c(bytes);
  return (((x >>> 15) | (x << 17)) + MASK_DELTA) >>> 0;
}
