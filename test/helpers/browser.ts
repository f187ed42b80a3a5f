/**
 * Real headless Chromium for the web UI's end-to-end tests and bench (Debian's `chromium` driven by
 * playwright-core), and `mtrack ui` started as a real process. When Chromium is missing the test is
 * skipped with the reason — except under MTRACK_REQUIRE_INTEROP=1 (CI), where it fails.
 */
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { type Browser, chromium } from "playwright-core";
import { packageRoot, startCli, waitCli } from "./cli.js";

/** The flags the UI tests launch Chromium with (no sandbox: CI containers run as root; no GPU; no network chatter). */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
];

/** The Chromium binary: $MTRACK_CHROMIUM, else Debian's /usr/bin/chromium; undefined when absent. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.MTRACK_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  return candidates.find((p): p is string => !!p && fs.existsSync(p));
}

/**
 * Launches headless Chromium, or returns undefined after `t.skip(reason)` when it is not installed
 * (throws instead under MTRACK_REQUIRE_INTEROP=1, so CI never silently skips).
 *
 * @example
 * const browser = await launchBrowser(t); if (!browser) return;
 * try { const page = await browser.newPage(); ... } finally { await browser.close(); }
 */
export async function launchBrowser(t?: { skip: (msg?: string) => void }): Promise<Browser | undefined> {
  const executablePath = chromiumPath();
  if (!executablePath) {
    const reason = "chromium not found (apt-get install chromium, or set MTRACK_CHROMIUM)";
    if (process.env.MTRACK_REQUIRE_INTEROP === "1") throw new Error(reason);
    t?.skip(reason);
    return undefined;
  }
  return chromium.launch({ executablePath, args: [...CHROMIUM_ARGS] });
}

/** A running `mtrack ui` child process. */
export interface UiProcess {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  child: ChildProcess;
  /** Stops the server (SIGTERM, then waits for it to exit). */
  stop(): Promise<void>;
}

/**
 * Starts the built `mtrack ui --port 0` in `cwd` and resolves with its URL once it prints it.
 *
 * @example
 * const ui = await startUi(repo.dir, repo.env); try { await page.goto(ui.url); } finally { await ui.stop(); }
 */
export async function startUi(cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<UiProcess> {
  const child = startCli(["ui", "--port", "0"], { cwd, env });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`mtrack ui printed no URL within ${timeoutMs} ms: ${out}`));
    }, timeoutMs);
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString("utf8");
      const m = /(http:\/\/[^\s]+\/)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`mtrack ui exited (${code}) before printing its URL: ${out}`));
    });
  });
  return {
    url,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await waitCli(child, 10_000);
    },
  };
}

/**
 * Where UI tests save screenshots: $MTRACK_TEST_ARTIFACTS/ui, else `<package>/test-artifacts/ui`
 * (git-ignored). Created on first use.
 */
export function screenshotDir(): string {
  const base = process.env.MTRACK_TEST_ARTIFACTS ?? path.join(packageRoot(), "test-artifacts");
  const dir = path.join(base, "ui");
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
