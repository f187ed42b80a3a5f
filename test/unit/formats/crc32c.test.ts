import assert from "node:assert/strict";
import { test } from "node:test";
import { crc32c, maskedCrc32c } from "../../../src/formats/crc32c.js";

const enc = new TextEncoder();

test("crc32c check value of '123456789' is 0xE3069283", () => {
  assert.equal(crc32c(enc.encode("123456789")), 0xe3069283);
});

test("crc32c of nothing is 0 and results are unsigned", () => {
  assert.equal(crc32c(new Uint8Array(0)), 0);
  const c = crc32c(new Uint8Array(32).fill(0xff));
  assert.ok(c >= 0 && c <= 0xffffffff);
  // RFC 3720 B.4 test vector: 32 bytes of 0xFF
  assert.equal(c, 0x62a8ab43);
});

test("crc32c continues over pieces", () => {
  const all = enc.encode("hello, tensorboard");
  assert.equal(crc32c(all.subarray(7), crc32c(all.subarray(0, 7))), crc32c(all));
});

test("maskedCrc32c matches the FORMATS.md worked example", () => {
  assert.equal(maskedCrc32c(Uint8Array.from([0x18, 0, 0, 0, 0, 0, 0, 0])), 0x224b7fa3);
  const data = Buffer.from("09000000000000f03f1a0d627261696e2e4576656e743a32", "hex");
  assert.equal(maskedCrc32c(data), 0x7a57bf86);
});
