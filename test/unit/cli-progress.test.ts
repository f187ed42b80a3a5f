import assert from "node:assert/strict";
import { test } from "node:test";
import {
  addSample,
  etaSeconds,
  formatDuration,
  formatProgressLine,
  makeProgress,
  type RateSample,
  rateOf,
} from "../../cli/progress.js";

const s = (at: number, files: number, bytes: number): RateSample => ({ at, files, bytes });

test("rateOf: no rate until the samples span the minimum, then the rate across the window", () => {
  let w: RateSample[] = [];
  w = addSample(w, s(0, 0, 0));
  assert.equal(rateOf(w), undefined);
  w = addSample(w, s(500, 5, 5000));
  assert.equal(rateOf(w), undefined, "half a second is too early to say");
  w = addSample(w, s(2000, 20, 20_000));
  assert.deepEqual(rateOf(w), { files: 10, bytes: 10_000 });
});

test("addSample: old samples leave the window, so the rate follows a slowdown", () => {
  let w: RateSample[] = [];
  // Fast for 10 s (1 MB/s), then slow (1 KB/s) for 10 s.
  for (let t = 0; t <= 10_000; t += 1000) w = addSample(w, s(t, t / 1000, t * 1000), { windowMs: 5000 });
  for (let t = 11_000; t <= 20_000; t += 1000)
    w = addSample(w, s(t, 10, 10_000_000 + (t - 10_000)), { windowMs: 5000 });
  const rate = rateOf(w, { windowMs: 5000 });
  assert.ok(rate);
  assert.ok(Math.abs(rate.bytes - 1000) < 1, `rate ${rate.bytes} should be the recent 1000 B/s`);
  assert.ok(w.length <= 7, "samples older than the window are dropped");
});

test("addSample: a burst after a quiet spell keeps one anchor sample older than the window", () => {
  let w: RateSample[] = [];
  w = addSample(w, s(0, 0, 0), { windowMs: 1000 });
  w = addSample(w, s(8000, 1, 16 << 20), { windowMs: 1000 });
  assert.equal(w.length, 2);
  assert.deepEqual(rateOf(w, { windowMs: 1000 }), { files: 1 / 8, bytes: (16 << 20) / 8 });
});

test("etaSeconds: bytes decide when there are bytes, else objects; nothing without a rate or a total", () => {
  const p = { phase: "push", files: 10, filesTotal: 100, bytes: 1 << 20, bytesTotal: 10 << 20 };
  assert.equal(etaSeconds(p, { files: 5, bytes: 1 << 20 }), 9);
  assert.equal(etaSeconds(p, undefined), undefined);
  assert.equal(etaSeconds(p, { files: 5, bytes: 0 }), undefined, "a stalled transfer has no ETA");
  assert.equal(
    etaSeconds(
      { phase: "fetch", files: 10, filesTotal: 110, bytes: 0, bytesTotal: 0 },
      { files: 20, bytes: 0 },
    ),
    5,
  );
  assert.equal(etaSeconds({ phase: "add", files: 10, bytes: 100 }, { files: 5, bytes: 50 }), undefined);
  assert.equal(etaSeconds({ ...p, bytes: 20 << 20 }, { files: 1, bytes: 1 }), 0, "never negative");
});

test("formatDuration: seconds, minutes, hours", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(59.4), "59s");
  assert.equal(formatDuration(65), "1m05s");
  assert.equal(formatDuration(3 * 3600 + 7 * 60 + 30), "3h07m");
});

test("formatProgressLine: counts, bytes, rate and ETA only when known", () => {
  const p = { phase: "push", files: 50, filesTotal: 100, bytes: 512, bytesTotal: 1024 };
  const full = formatProgressLine(p, { files: 10, bytes: 100 }, 5);
  assert.match(full, /50\/100 objects/);
  assert.match(full, /100 B\/s/);
  assert.match(full, /ETA 5s/);
  const early = formatProgressLine(p, undefined, undefined);
  assert.doesNotMatch(early, /ETA|\/s/);
  assert.match(formatProgressLine({ phase: "add", files: 3, bytes: 0 }, undefined, undefined), /3 files/);
});

/** A fake TTY stream that records what is written. */
function fakeTty(isTTY = true) {
  const writes: string[] = [];
  const stream = { isTTY, write: (s: string) => writes.push(s) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

test("makeProgress: nothing on a non-TTY or when disabled", () => {
  assert.equal(makeProgress(true, fakeTty(false).stream), undefined);
  assert.equal(makeProgress(false, fakeTty().stream), undefined);
});

test("makeProgress: ETA appears once the rate is measured, throttles redraws, clears at the end", () => {
  let now = 0;
  const { stream, writes } = fakeTty();
  const p = makeProgress(true, stream, { clock: () => now, refreshMs: 0 });
  assert.ok(p);
  const total = { phase: "fetch", filesTotal: 100, bytesTotal: 100 << 10 };
  p.fn({ ...total, files: 0, bytes: 0 });
  assert.doesNotMatch(writes.at(-1)!, /ETA/);
  now = 50;
  p.fn({ ...total, files: 1, bytes: 1 << 10 });
  assert.equal(writes.length, 1, "redraws are throttled");
  now = 2000;
  p.fn({ ...total, files: 20, bytes: 20 << 10 });
  // 20 objects in 2 s → 80 left at 10/s (bytes: 10 KiB/s, 80 KiB left) → 8 s.
  assert.match(writes.at(-1)!, /ETA 8s/);
  now = 2010;
  p.fn({ ...total, files: 100, bytes: 100 << 10 });
  assert.match(writes.at(-1)!, /100\/100/, "the last update is always drawn");
  p.done();
  assert.equal(writes.at(-1), "\r\x1b[2K");
});

test("makeProgress: a new phase starts a new rate measurement", () => {
  let now = 0;
  const { stream, writes } = fakeTty();
  const p = makeProgress(true, stream, { clock: () => now, refreshMs: 0 });
  assert.ok(p);
  p.fn({ phase: "fetch", files: 0, filesTotal: 10, bytes: 0, bytesTotal: 10 });
  now = 3000;
  p.fn({ phase: "fetch", files: 5, filesTotal: 10, bytes: 5, bytesTotal: 10 });
  assert.match(writes.at(-1)!, /ETA/);
  now = 3200;
  p.fn({ phase: "checkout", files: 1, filesTotal: 10, bytes: 1, bytesTotal: 10 });
  assert.doesNotMatch(writes.at(-1)!, /ETA/);
  p.done();
});
