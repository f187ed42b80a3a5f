/**
 * Progress bars on stderr, only when stderr is a terminal (never in pipes, CI logs or --json output).
 *
 * The arithmetic (rate over a sliding window, ETA, the line itself) is pure and lives in functions the
 * unit tests call with made-up times; `makeProgress` only adds the clock, the throttle and the stream.
 */
import type { Progress, ProgressFn } from "../src/workspace/scan.js";

/**
 * Bytes in binary units, one decimal above a KiB.
 *
 * @example
 * formatBytes(1536) // "1.5 KiB"
 */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/**
 * A duration for humans: seconds below a minute, then minutes and seconds, then hours and minutes.
 *
 * @example
 * formatDuration(65) // "1m05s"
 */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
}

/** What was done by a point in time (milliseconds on the caller's clock). */
export interface RateSample {
  at: number;
  files: number;
  bytes: number;
}

/** How long a window the rate is measured over, and how much of it must be covered before it counts. */
export interface RateOptions {
  /** Samples older than this (ms) fall out of the window. */
  windowMs?: number;
  /** No rate (hence no ETA) until the samples span this long (ms): the first burst says little. */
  minSpanMs?: number;
}

const DEFAULT_WINDOW_MS = 5000;
const DEFAULT_MIN_SPAN_MS = 1000;

/**
 * Adds a sample and drops those that fell out of the window, keeping the newest one older than the
 * window: transfers report in bursts (one 16 MiB batch at a time), and without that anchor a quiet
 * window would leave a single sample and no rate at all. Returns a new array.
 *
 * @example
 * let w: RateSample[] = [];
 * w = addSample(w, { at: 0, files: 0, bytes: 0 });
 * w = addSample(w, { at: 2000, files: 10, bytes: 4096 });
 */
export function addSample(
  window: readonly RateSample[],
  sample: RateSample,
  options: RateOptions = {},
): RateSample[] {
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  const all = [...window, sample];
  let first = 0;
  while (first + 1 < all.length && all[first + 1]!.at <= sample.at - windowMs) first++;
  return all.slice(first);
}

/**
 * Files and bytes per second across the window, or undefined while the window spans less than
 * `minSpanMs` (too early to say).
 *
 * @example
 * rateOf([{ at: 0, files: 0, bytes: 0 }, { at: 2000, files: 10, bytes: 4096 }])
 * // { files: 5, bytes: 2048 }
 */
export function rateOf(
  window: readonly RateSample[],
  options: RateOptions = {},
): { files: number; bytes: number } | undefined {
  const first = window[0];
  const last = window[window.length - 1];
  if (!first || !last) return undefined;
  const span = last.at - first.at;
  if (span < (options.minSpanMs ?? DEFAULT_MIN_SPAN_MS)) return undefined;
  return {
    files: ((last.files - first.files) * 1000) / span,
    bytes: ((last.bytes - first.bytes) * 1000) / span,
  };
}

/**
 * Seconds left at the current rate, or undefined when that is not meaningful: no total, no rate yet, or
 * nothing moving. Bytes decide when there are any to move (a 1 GiB file is not one hundredth of a
 * hundred objects); otherwise the object count does.
 *
 * @example
 * etaSeconds({ phase: "push", files: 10, filesTotal: 100, bytes: 1 << 20, bytesTotal: 10 << 20 },
 *   { files: 5, bytes: 1 << 20 }) // 9
 */
export function etaSeconds(
  p: Progress,
  rate: { files: number; bytes: number } | undefined,
): number | undefined {
  if (!rate) return undefined;
  if (p.bytesTotal !== undefined && p.bytesTotal > 0) {
    if (rate.bytes <= 0) return undefined;
    return Math.max(0, p.bytesTotal - p.bytes) / rate.bytes;
  }
  if (p.filesTotal !== undefined && p.filesTotal > 0) {
    if (rate.files <= 0) return undefined;
    return Math.max(0, p.filesTotal - p.files) / rate.files;
  }
  return undefined;
}

/** Transfers count objects (a directory is many), everything else files. */
function unitOf(phase: string): string {
  return phase === "push" || phase === "fetch" ? "objects" : "files";
}

/**
 * The one progress line: phase, bar, counts, bytes, rate and (when known) ETA.
 *
 * @example
 * formatProgressLine({ phase: "push", files: 50, filesTotal: 100, bytes: 512, bytesTotal: 1024 },
 *   { files: 10, bytes: 100 }, 5)
 * // "push [############............] 50/100 objects, 512 B/1.0 KiB, 100 B/s, ETA 5s"
 */
export function formatProgressLine(
  p: Progress,
  rate: { files: number; bytes: number } | undefined,
  eta: number | undefined,
): string {
  const unit = unitOf(p.phase);
  const files = p.filesTotal !== undefined ? `${p.files}/${p.filesTotal} ${unit}` : `${p.files} ${unit}`;
  const bytes =
    p.bytesTotal !== undefined
      ? `${formatBytes(p.bytes)}/${formatBytes(p.bytesTotal)}`
      : formatBytes(p.bytes);
  const width = 24;
  const frac = p.bytesTotal ? p.bytes / p.bytesTotal : p.filesTotal ? p.files / p.filesTotal : 0;
  const bar = `[${"#".repeat(Math.round(Math.min(1, frac) * width)).padEnd(width, ".")}]`;
  const parts = [`${p.phase} ${bar} ${files}`, bytes];
  if (rate) parts.push(`${formatBytes(Math.round(rate.bytes))}/s`);
  if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
  return parts.join(", ");
}

/** Clock and window of makeProgress (tests pass a fake clock). */
export interface MakeProgressOptions extends RateOptions {
  clock?: () => number;
  /** Minimum ms between redraws. */
  throttleMs?: number;
  /** Redraw at least this often (ms) while nothing reports, so the rate and ETA do not freeze; 0 = never. */
  refreshMs?: number;
}

/**
 * A throttled single-line progress display on a terminal; undefined when disabled or not a TTY.
 *
 * @example
 * const p = makeProgress(!json); try { await push(repo, { onProgress: p?.fn }); } finally { p?.done(); }
 */
export function makeProgress(
  enabled: boolean,
  stream: NodeJS.WriteStream = process.stderr,
  options: MakeProgressOptions = {},
): { fn: ProgressFn; done: () => void } | undefined {
  if (!enabled || !stream.isTTY) return undefined;
  const clock = options.clock ?? Date.now;
  const throttleMs = options.throttleMs ?? 100;
  const refreshMs = options.refreshMs ?? 1000;
  let window: RateSample[] = [];
  let phase: string | undefined;
  let latest: Progress | undefined;
  let lastDraw = Number.NEGATIVE_INFINITY;
  let shown = false;
  const draw = (now: number) => {
    if (!latest) return;
    lastDraw = now;
    const rate = rateOf(window, options);
    stream.write(`\r\x1b[2K${formatProgressLine(latest, rate, etaSeconds(latest, rate))}`);
    shown = true;
  };
  const timer =
    refreshMs > 0
      ? setInterval(() => {
          const now = clock();
          if (!latest || now - lastDraw < refreshMs) return;
          // Nothing reported lately: the work is still going, so count the silence into the rate.
          window = addSample(window, { at: now, files: latest.files, bytes: latest.bytes }, options);
          draw(now);
        }, refreshMs)
      : undefined;
  timer?.unref();
  return {
    fn: (p) => {
      const now = clock();
      // A new phase (or a new total) is a new measurement: the old samples would skew its rate.
      if (p.phase !== phase || p.filesTotal !== latest?.filesTotal || p.bytesTotal !== latest?.bytesTotal) {
        phase = p.phase;
        window = [];
      }
      window = addSample(window, { at: now, files: p.files, bytes: p.bytes }, options);
      latest = { ...p };
      if (now - lastDraw < throttleMs && p.files !== p.filesTotal) return;
      draw(now);
    },
    done: () => {
      if (timer) clearInterval(timer);
      if (shown) stream.write("\r\x1b[2K");
    },
  };
}
