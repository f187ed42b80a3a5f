/**
 * The base of every mtrack command: `--json`, repository opening, progress, and the one place where
 * library errors become messages and exit codes.
 */
import { Command } from "@oclif/core";
import { isMtrackError } from "../src/errors.js";
import { Repo } from "../src/repo.js";
import type { ProgressFn } from "../src/workspace/scan.js";
import { makeProgress } from "./progress.js";

export abstract class MtrackCommand extends Command {
  static override enableJsonFlag = true;

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
