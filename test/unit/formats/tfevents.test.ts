import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { isMtrackError } from "../../../src/errors.js";
import {
  decodeEvent,
  EventFileWriter,
  encodeEvent,
  eventFileName,
  FILE_VERSION,
  frameRecord,
  readEventFile,
  SOURCE_WRITER,
} from "../../../src/formats/tfevents.js";
import { pythonHas, testPython } from "../../helpers/python.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function withTempDir(fn: (dir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
  try {
    fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("the worked example: 24-byte file_version event, header and both masked CRCs", () => {
  const data = encodeEvent({ wallTime: 1.0, fileVersion: "brain.Event:2" });
  assert.equal(hex(data), "09000000000000f03f1a0d627261696e2e4576656e743a32");
  assert.equal(data.length, 24);
  const rec = frameRecord(data);
  assert.equal(hex(rec.subarray(0, 8)), "1800000000000000");
  assert.equal(Buffer.from(rec).readUInt32LE(8), 0x224b7fa3);
  assert.equal(hex(rec.subarray(12, 36)), hex(data));
  assert.equal(Buffer.from(rec).readUInt32LE(36), 0x7a57bf86);
  assert.equal(rec.length, 40);
});

test("a scalar event's exact bytes", () => {
  const data = encodeEvent({ wallTime: 1.5, step: 3, summary: [{ tag: "loss", simpleValue: 0.5 }] });
  // 09 <f64 1.5> 10 03 2a 0d [0a 0b [0a 04 "loss" 15 <f32 0.5>]]
  assert.equal(hex(data), "09000000000000f83f" + "1003" + "2a0d" + "0a0b" + "0a046c6f7373" + "150000003f");
});

test("proto3 defaults: step 0 omitted, simple_value 0 kept (oneof), negative step is a 10-byte varint", () => {
  assert.equal(
    hex(encodeEvent({ wallTime: 1, step: 0, summary: [{ tag: "a", simpleValue: 0 }] })),
    "09000000000000f03f" + "2a0a0a080a0161" + "1500000000",
  );
  const neg = encodeEvent({ wallTime: 1, step: -1 });
  assert.equal(hex(neg), "09000000000000f03f" + "10ffffffffffffffffff01");
  assert.equal(decodeEvent(neg).step, -1);
  const big = encodeEvent({ wallTime: 1, step: 300 });
  assert.equal(hex(big).slice(18), "10ac02");
});

test("a text event: plugin 'text' and a scalar DT_STRING tensor", () => {
  const data = encodeEvent({ wallTime: 2, step: 1, summary: [{ tag: "t", text: "hi" }] });
  const value =
    "0a0174" + // tag "t"
    "4208" +
    "0807" +
    "1200" +
    "42026869" + // tensor: dtype 7, shape {}, string_val "hi"
    "4a08" +
    "0a06" +
    "0a0474657874"; // metadata.plugin_data.plugin_name "text"
  const summaryValue = `0a${(value.length / 2).toString(16).padStart(2, "0")}${value}`;
  assert.equal(
    hex(data),
    `0900000000000000401001` + `2a${(summaryValue.length / 2).toString(16)}${summaryValue}`,
  );
  const ev = decodeEvent(data);
  assert.equal(ev.summary?.[0]?.pluginName, "text");
  assert.equal(ev.summary?.[0]?.text, "hi");
  assert.deepEqual(ev.summary?.[0]?.tensor?.shape, []);
});

test("eventFileName follows TensorBoard's pattern", () => {
  assert.equal(eventFileName(1_700_000_000_999, "box", 42, 0), "events.out.tfevents.1700000000.box.42.0");
  assert.equal(eventFileName(5_000, "h", 1, 3, ".v2"), "events.out.tfevents.0000000005.h.1.3.v2");
});

test("writer: first record is TensorBoard's file_version event; scalars and text round-trip", () => {
  withTempDir((dir) => {
    let now = 1_700_000_000_250;
    const clock = () => now;
    const tbDir = path.join(dir, "tb");
    const w = EventFileWriter.open(tbDir, { clock, hostname: "host", pid: 7 });
    assert.equal(path.basename(w.path), "events.out.tfevents.1700000000.host.7.0");
    const first = frameRecord(
      encodeEvent({ wallTime: 1_700_000_000.25, fileVersion: FILE_VERSION, sourceWriter: SOURCE_WRITER }),
    );
    assert.equal(hex(fs.readFileSync(w.path).subarray(0, first.length)), hex(first));

    for (let step = 0; step < 5; step++) {
      now += 10;
      w.addScalar("loss/train", 1 / (step + 1), step);
      w.addScalar("acc", step / 10, step, 123.5);
    }
    w.addText("phase/transitions", "phase_1 → phase_2", 4);
    w.close();
    w.close(); // harmless

    const events = readEventFile(fs.readFileSync(w.path), { file: w.path });
    assert.equal(events[0]?.fileVersion, FILE_VERSION);
    assert.equal(events[0]?.sourceWriter, SOURCE_WRITER);
    const loss = events.flatMap((e) =>
      (e.summary ?? []).filter((v) => v.tag === "loss/train").map((v) => [e.step, v.scalar]),
    );
    assert.deepEqual(
      loss,
      [0, 1, 2, 3, 4].map((s) => [s, Math.fround(1 / (s + 1))]),
    );
    const acc = events.filter((e) => e.summary?.[0]?.tag === "acc");
    assert.deepEqual(
      acc.map((e) => e.wallTime),
      [123.5, 123.5, 123.5, 123.5, 123.5],
    );
    assert.equal(events.find((e) => e.summary?.[0]?.tag === "loss/train")?.wallTime, 1_700_000_000.26);
    const text = events.at(-1)?.summary?.[0];
    assert.equal(text?.text, "phase_1 → phase_2");
    assert.equal(events.length, 1 + 10 + 1);
  });
});

test("writer never overwrites: a second file in the same second gets the next counter", () => {
  withTempDir((dir) => {
    const opts = { clock: () => 5_000, hostname: "h", pid: 1 };
    const a = EventFileWriter.open(dir, opts);
    const b = EventFileWriter.open(dir, opts);
    assert.notEqual(a.path, b.path);
    assert.ok(b.path.endsWith(".h.1.1"));
    a.close();
    b.close();
  });
});

test("writer buffers until the buffer fills, the interval passes, or flush()", () => {
  withTempDir((dir) => {
    let now = 0;
    const w = EventFileWriter.open(dir, { clock: () => now, hostname: "h", pid: 1, flushIntervalMs: 1000 });
    const size0 = fs.statSync(w.path).size;
    w.addScalar("x", 1, 1);
    assert.equal(fs.statSync(w.path).size, size0);
    w.flush();
    const size1 = fs.statSync(w.path).size;
    assert.ok(size1 > size0);
    w.addScalar("x", 2, 2);
    assert.equal(fs.statSync(w.path).size, size1);
    now = 1500;
    w.addScalar("x", 3, 3);
    assert.ok(fs.statSync(w.path).size > size1);
    w.close();
  });
});

test("writer rejects non-integer steps and use after close", () => {
  withTempDir((dir) => {
    const w = EventFileWriter.open(dir, { hostname: "h", pid: 1 });
    assert.throws(
      () => w.addScalar("x", 1, 1.5),
      (e: unknown) => isMtrackError(e, "ERR_MTRACK_INVALID_ARGUMENT"),
    );
    w.close();
    assert.throws(
      () => w.addText("x", "t", 1),
      (e: unknown) => isMtrackError(e, "ERR_MTRACK_INVALID_ARGUMENT"),
    );
  });
});

test("writer uses an injected fs", () => {
  const files = new Map<string, Buffer>();
  const fds = new Map<number, string>();
  const fake = {
    mkdirSync: () => undefined,
    openSync: (file: string, flags: string) => {
      if (flags === "wx" && files.has(file)) throw Object.assign(new Error("exists"), { code: "EEXIST" });
      files.set(file, Buffer.alloc(0));
      fds.set(fds.size + 3, file);
      return fds.size + 2;
    },
    writeSync: (fd: number, data: Uint8Array, offset: number, length: number) => {
      const f = fds.get(fd)!;
      files.set(f, Buffer.concat([files.get(f)!, data.subarray(offset, offset + length)]));
      return length;
    },
    closeSync: () => undefined,
  };
  const w = EventFileWriter.open("/virtual", { fs: fake, clock: () => 1000, hostname: "h", pid: 2 });
  w.addScalar("m", 0.5, 1);
  w.close();
  const events = readEventFile(files.get(w.path)!);
  assert.equal(events.length, 2);
  assert.equal(events[1]?.summary?.[0]?.scalar, 0.5);
});

test("reader rejects a flipped byte, a bad length CRC and a truncated record", () => {
  const rec = Buffer.concat([
    frameRecord(encodeEvent({ wallTime: 1, fileVersion: FILE_VERSION })),
    frameRecord(encodeEvent({ wallTime: 2, step: 1, summary: [{ tag: "a", simpleValue: 1 }] })),
  ]);
  assert.equal(readEventFile(rec).length, 2);
  const bad = (bytes: Buffer, offset: number) =>
    assert.throws(
      () => readEventFile(bytes),
      (e: unknown) => isMtrackError(e, "ERR_MTRACK_FORMAT_INVALID") && e.data.offset === offset,
    );
  for (const i of [0, 8, 12, 30, 39, 40 + 20]) {
    const flipped = Buffer.from(rec);
    flipped[i]! ^= 0x01;
    bad(flipped, i < 40 ? 0 : 40);
  }
  bad(rec.subarray(0, rec.length - 1), 40);
  bad(rec.subarray(0, 45), 40);
  // a file still being written ends mid-record: allowPartialTail keeps the complete records
  assert.equal(readEventFile(rec.subarray(0, 45), { allowPartialTail: true }).length, 1);
  assert.equal(readEventFile(rec.subarray(0, rec.length - 1), { allowPartialTail: true }).length, 1);
  const flipped = Buffer.from(rec);
  flipped[20]! ^= 0x10;
  assert.throws(
    () => readEventFile(flipped, { allowPartialTail: true }),
    (e: unknown) => isMtrackError(e, "ERR_MTRACK_FORMAT_INVALID"),
  );
});

test("reader decodes TF2-style tensor scalars (packed float_val and tensor_content)", () => {
  // Summary.Value{tag "s", tensor{dtype DT_FLOAT, tensor_shape {}, float_val [0.25]}, metadata{plugin "scalars"}}
  const tensorA = "0801" + "1200" + "2a040000803e";
  const tensorB = "0802" + "1200" + "2208000000000000e03f"; // DT_DOUBLE, tensor_content 0.5
  for (const [tensor, expected] of [
    [tensorA, 0.25],
    [tensorB, 0.5],
  ] as const) {
    const value = `0a0173` + `42${(tensor.length / 2).toString(16).padStart(2, "0")}${tensor}`;
    const summary = `0a${(value.length / 2).toString(16).padStart(2, "0")}${value}`;
    const event =
      `09000000000000f03f1005` + `2a${(summary.length / 2).toString(16).padStart(2, "0")}${summary}`;
    const ev = decodeEvent(Buffer.from(event, "hex"));
    assert.equal(ev.step, 5);
    assert.equal(ev.summary?.[0]?.scalar, expected);
  }
});

test("interop: Python's tensorboard EventAccumulator reads our file", (t) => {
  if (!pythonHas(["tensorboard.backend.event_processing.event_accumulator"], t)) return;
  withTempDir((dir) => {
    const w = EventFileWriter.open(dir, { hostname: "h", pid: 3 });
    w.addScalar("loss", 0.5, 1);
    w.addScalar("loss", 0.25, 2);
    w.addText("notes", "hello **tb**", 2);
    w.close();
    const script = `
import json, sys
from tensorboard.backend.event_processing import event_accumulator as ea
acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
acc.Reload()
print(json.dumps({
  "version": acc.file_version,
  "scalars": [[e.step, e.value] for e in acc.Scalars("loss")],
  "text": [t.tensor_proto.string_val[0].decode() for t in acc.Tensors("notes")],
}))
`;
    const r = spawnSync(testPython(), ["-c", script, dir], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    assert.equal(out.version, 2);
    assert.deepEqual(out.scalars, [
      [1, 0.5],
      [2, 0.25],
    ]);
    assert.deepEqual(out.text, ["hello **tb**"]);
  });
});
