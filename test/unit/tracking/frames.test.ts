import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import {
  appendFrames,
  decodeFrames,
  encodeFrame,
  newPackr,
  readFrameFile,
} from "../../../src/tracking/frames.js";
import { replayRunLog } from "../../../src/tracking/runlog.js";

const p = (s: string) => Buffer.from(s);

test("frames round-trip", () => {
  const buf = Buffer.concat([encodeFrame(p("a")), encodeFrame(p("")), encodeFrame(p("ccc"))]);
  const out = decodeFrames(buf);
  assert.deepEqual(
    out.payloads.map((x) => x.toString()),
    ["a", "", "ccc"],
  );
  assert.equal(out.torn, false);
});

test("a torn final frame is detected and ignored; everything before it reads", () => {
  const whole = Buffer.concat([encodeFrame(p("one")), encodeFrame(p("two"))]);
  for (let cut = 1; cut < encodeFrame(p("two")).length; cut++) {
    const out = decodeFrames(whole.subarray(0, whole.length - cut));
    assert.deepEqual(
      out.payloads.map((x) => x.toString()),
      ["one"],
    );
    assert.equal(out.torn, true);
  }
});

test("a corrupted frame in the middle is skipped and later frames still read", () => {
  const bad = encodeFrame(p("bad!"));
  bad.writeUInt8(bad.readUInt8(bad.length - 1) ^ 0xff, bad.length - 1);
  const out = decodeFrames(Buffer.concat([encodeFrame(p("1")), bad, encodeFrame(p("3"))]));
  assert.deepEqual(
    out.payloads.map((x) => x.toString()),
    ["1", "3"],
  );
  assert.ok(out.skippedBytes > 0);
});

test("a run log with a torn tail replays up to the last intact record", () => {
  const packr = newPackr();
  const start = {
    t: "start",
    runId: "a".repeat(32),
    experimentId: "0",
    experimentName: "Default",
    name: "r",
    startTime: 1,
    git: { commit: null, branch: null, dirty: false },
    command: [],
    host: "h",
    pid: 1,
    mtrackVersion: "x",
  };
  const tags = encodeFrame(packr.pack({ t: "tags", p: { a: "1" } }));
  const torn = encodeFrame(packr.pack({ t: "tags", p: { a: "2" } })).subarray(0, 9);
  const state = replayRunLog(Buffer.concat([encodeFrame(packr.pack(start)), tags, torn]), packr);
  assert.equal(state.start?.runId, "a".repeat(32));
  assert.deepEqual(state.tags, { a: "1" });
  assert.equal(state.torn, true);
});

test("appendFrames appends whole frames; a missing file reads as empty", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
  try {
    const file = path.join(tmp, "x.log");
    assert.deepEqual(readFrameFile(file).payloads, []);
    appendFrames(file, [p("a"), p("b")]);
    appendFrames(file, [p("c")]);
    assert.deepEqual(
      readFrameFile(file).payloads.map((x) => x.toString()),
      ["a", "b", "c"],
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
