/**
 * Progress bars on stderr, only when stderr is a terminal (never in pipes, CI logs or --json output).
 */
import type { Progress, ProgressFn } from "../src/workspace/scan.js";

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

/** A throttled single-line progress display; returns undefined when stderr is not a TTY. */
export function makeProgress(
  enabled: boolean,
  stream: NodeJS.WriteStream = process.stderr,
): { fn: ProgressFn; done: () => void } | undefined {
  if (!enabled || !stream.isTTY) return undefined;
  const start = Date.now();
  let last = 0;
  let shown = false;
  const render = (p: Progress) => {
    const secs = Math.max((Date.now() - start) / 1000, 0.001);
    const files = p.filesTotal !== undefined ? `${p.files}/${p.filesTotal} files` : `${p.files} files`;
    const bytes =
      p.bytesTotal !== undefined
        ? `${formatBytes(p.bytes)}/${formatBytes(p.bytesTotal)}`
        : formatBytes(p.bytes);
    const width = 24;
    const frac = p.bytesTotal ? p.bytes / p.bytesTotal : p.filesTotal ? p.files / p.filesTotal : 0;
    const bar = `[${"#".repeat(Math.round(frac * width)).padEnd(width, ".")}]`;
    stream.write(`\r\x1b[2K${p.phase} ${bar} ${files}, ${bytes}, ${formatBytes(p.bytes / secs)}/s`);
    shown = true;
  };
  return {
    fn: (p) => {
      const now = Date.now();
      if (now - last < 100 && p.files !== p.filesTotal) return;
      last = now;
      render(p);
    },
    done: () => {
      if (shown) stream.write("\r\x1b[2K");
    },
  };
}
