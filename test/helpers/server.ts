/**
 * A real `mtrack server` child process for end-to-end tests: started through the built CLI, ready once it
 * prints its "listening on" line; stopped with a signal.
 */
import type { ChildProcess } from "node:child_process";
import { startCli } from "./cli.js";

/** Starts `mtrack server --store <storeDir>` (port 0: any free one) and waits until it listens. */
export async function startServerProcess(
  storeDir: string,
  env: NodeJS.ProcessEnv,
  options: { port?: number | string; readOnly?: boolean } = {},
): Promise<{ url: string; child: ChildProcess }> {
  const args = ["server", "--store", storeDir, "--port", String(options.port ?? 0)];
  if (options.readOnly) args.push("--read-only");
  return startListening(args, storeDir, env);
}

/**
 * Starts `mtrack <args>` (a server: `server ...`, `ui ...`) in `cwd` and waits until it prints the URL it
 * listens on ("listening on http://..." or "mtrack ui: http://...").
 */
export async function startListening(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ url: string; child: ChildProcess }> {
  const child = startCli(args, { cwd, env });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 20_000);
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /(?:listening on|mtrack ui:) (http:\/\/[^\s/]+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", () => reject(new Error(`server exited: ${out}`)));
  });
  return { url, child };
}

/** Stops a child process (SIGTERM unless told otherwise) and waits for it to exit. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once("exit", r));
  child.kill(signal);
  await done;
}
