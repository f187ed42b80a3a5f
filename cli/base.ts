/**
 * The base of every mtrack command: `--json`, repository opening, progress, the one place where
 * library errors become messages and exit codes, and the one Ctrl-C / SIGTERM handler.
 */
import { Command } from "@oclif/core";
import { isMtrackError, MtrackError } from "../src/errors.js";
import { Repo } from "../src/repo.js";
import { removeOwnTmpFiles } from "../src/util/fs.js";
import { shellJoin } from "../src/util/shell.js";
import type { ProgressFn } from "../src/workspace/scan.js";
import { makeProgress } from "./progress.js";

/** The command this process runs, for the interrupt message (one per process in the CLI). */
let running: MtrackCommand | undefined;
let handlerInstalled = false;

/** Exit codes of a process ended by a signal, as shells report them (128 + n). */
const SIGNAL_EXIT: Record<"SIGINT" | "SIGTERM", number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Ctrl-C (SIGINT) or SIGTERM: say what did not finish, remove this process's own temp files from the
 * scratch directories its stores registered (`.mtrack/tmp`), and exit 130 / 143. Exiting at once is safe
 * because every write is crash-safe (the kill -9 loops of test/reliability prove it): objects appear
 * under their names only when complete, pointers only after their data; a checkout's in-place writes
 * keep their marker so the rerun replaces them. The lock is released by its `exit` listener.
 *
 * A command that handles the signal itself (`run` forwards it to its command, `repro` stops its stages
 * and records nothing for them, the servers close) has its own listener while it does: then this one
 * steps aside.
 */
function onSignal(signal: "SIGINT" | "SIGTERM"): void {
  if (process.listenerCount(signal) > 1) return;
  const code = SIGNAL_EXIT[signal];
  removeTmpFilesSettled();
  const what = running ? running.commandLine() : "mtrack";
  const message = `interrupted (${signal}): \`${what}\` did not finish; run it again to resume (what it already stored is kept).`;
  // A progress bar may be drawn on the current line: start a clean one.
  process.stderr.write(`${process.stderr.isTTY ? "\r\x1b[K" : ""}${message}\n`);
  if (running?.jsonOn()) {
    const err = new MtrackError("ERR_MTRACK_INTERRUPTED", message, {
      hint: `Run \`${what}\` again.`,
      data: { signal },
      exitCode: code,
    });
    process.stdout.write(`${JSON.stringify({ error: err.toJSON() }, null, 2)}\n`);
  }
  process.exit(code);
}

/**
 * Removes this process's temp files, then again until none appear for a while (at most 1 s): copies
 * already queued on libuv's thread pool (a pull copies several objects at once) create their temp files
 * when a thread takes them, possibly after the first sweep. JavaScript is blocked meanwhile, so no new
 * work starts. What a copy still creates later is a dead process's file, which `gc` removes at once.
 */
function removeTmpFilesSettled(): void {
  removeOwnTmpFiles();
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const until = Date.now() + 1000;
  for (let quiet = 0; quiet < 3 && Date.now() < until; ) {
    Atomics.wait(nap, 0, 0, 25);
    quiet = removeOwnTmpFiles() === 0 ? quiet + 1 : 0;
  }
}

function installSignalHandler(): void {
  if (handlerInstalled) return;
  handlerInstalled = true;
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // Temp files of this process are never meant to outlive it: an error exit leaves none either.
  process.on("exit", () => {
    removeOwnTmpFiles();
  });
}

export abstract class MtrackCommand extends Command {
  static override enableJsonFlag = true;

  protected override async init(): Promise<void> {
    await super.init();
    running = this;
    installSignalHandler();
  }

  /** `mtrack <command> <args>` as typed (quoted to paste back), for the interrupt message. */
  commandLine(): string {
    return shellJoin([this.config.bin, ...(this.id?.split(":") ?? []), ...this.argv]);
  }

  /** Whether --json is on (public for the signal handler). */
  jsonOn(): boolean {
    try {
      return this.jsonEnabled();
    } catch {
      return false;
    }
  }

  /** The repository around the current directory. */
  protected openRepo(): Repo {
    return Repo.open({ cwd: process.cwd() });
  }

  /** Runs `fn` with a progress callback that draws on stderr when it is a TTY and --json is off. */
  protected async withProgress<T>(fn: (onProgress: ProgressFn | undefined) => Promise<T>): Promise<T> {
    const p = makeProgress(!this.jsonEnabled());
    try {
      return await fn(p?.fn);
    } finally {
      p?.done();
    }
  }

  /**
   * --json output. oclif colour-tokenises the JSON with a regex per token even when nothing will be
   * coloured (stdout not a terminal): 2.5 s of a 100k-entry `ls -R --json`, 17 ms of `exp show -A` over
   * 500 experiments. Off a terminal the text is
   * the same as oclif's (JSON.stringify with 2 spaces), written at once.
   */
  override logJson(json: unknown): void {
    if (process.stdout.isTTY) {
      super.logJson(json);
      return;
    }
    let text: string;
    try {
      text = JSON.stringify(json, null, 2);
    } catch {
      super.logJson(json); // a cycle: oclif's serializer marks it instead of throwing
      return;
    }
    process.stdout.write(`${text}\n`);
  }

  /** Prints a line to stdout unless --json is on (then only the returned value is printed). */
  protected say(line = ""): void {
    if (!this.jsonEnabled()) this.log(line);
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (isMtrackError(err)) {
      if (this.jsonEnabled()) {
        this.logJson({ error: err.toJSON() });
      } else {
        this.logToStderr(`Error [${err.code}]: ${err.message}`);
        if (err.hint) this.logToStderr(`Hint: ${err.hint}`);
      }
      process.exitCode = err.exitCode;
      // exit() throws oclif's ExitError, which ends the command with this code and prints nothing more.
      this.exit(err.exitCode);
    }
    return super.catch(err);
  }
}
