/** Durations written by people on the command line: `90s`, `30m`, `2h`, `7d`, `0`. */
import { MtrackError } from "../errors.js";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Milliseconds of a duration: a number with a unit (ms, s, m, h, d; `1.5h` is fine), or a bare `0`.
 * Throws ERR_MTRACK_INVALID_ARGUMENT for anything else.
 *
 * @example
 * parseDuration("30m") // 1_800_000
 */
export function parseDuration(text: string, what = "duration"): number {
  const t = text.trim();
  if (t === "0") return 0;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(t);
  if (!m) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `Invalid ${what} ${JSON.stringify(text)}.`, {
      hint: "Write a number and a unit: 90s, 30m, 2h, 7d (or 0).",
      data: { value: text },
    });
  }
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}
