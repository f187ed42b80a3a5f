/**
 * Temp git repositories built with the real git CLI, isolated from the machine's git configuration.
 */

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** A temp repo: `dir` is its worktree root; `git(...)` runs the git CLI in it and returns trimmed stdout. */
export interface TempRepo {
  dir: string;
  git(...args: string[]): string;
  /** Writes files (paths relative to the repo, parents created). */
  write(files: Record<string, string>): void;
  /** Stages everything and commits; returns the new HEAD oid. */
  commit(message: string, files?: Record<string, string>): string;
  cleanup(): void;
}

/** Creates an empty repo (branch `main`) in a fresh temp dir with user.name/email configured. */
export function makeRepo(): TempRepo {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
  const dir = path.join(home, "repo");
  fs.mkdirSync(dir);
  const env = {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: path.join(home, ".gitconfig"),
    HOME: home,
    XDG_CONFIG_HOME: home,
    GIT_AUTHOR_DATE: "2024-01-01T00:00:00Z",
    GIT_COMMITTER_DATE: "2024-01-01T00:00:00Z",
  };
  const git = (...args: string[]): string =>
    execFileSync("git", args, { cwd: dir, env, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] }).trim();
  git("init", "-q", "-b", "main");
  // Appended directly rather than with `git config`: each spawned git costs tens of ms on a busy machine.
  fs.appendFileSync(
    path.join(dir, ".git", "config"),
    "[user]\n\tname = Test\n\temail = test@example.com\n[commit]\n\tgpgsign = false\n",
  );
  const write = (files: Record<string, string>): void => {
    for (const [rel, content] of Object.entries(files)) {
      const file = path.join(dir, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
    }
  };
  let counter = 0;
  const commit = (message: string, files: Record<string, string> = {}): string => {
    write(files);
    git("add", "-A");
    // Distinct timestamps keep commits with equal trees distinct and ordered.
    counter++;
    const date = `2024-01-01T00:00:${String(counter % 60).padStart(2, "0")}Z`;
    execFileSync("git", ["commit", "-q", "--allow-empty", "-m", message], {
      cwd: dir,
      env: { ...env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    });
    return git("rev-parse", "HEAD");
  };
  return {
    dir,
    git,
    write,
    commit,
    cleanup: () => fs.rmSync(home, { recursive: true, force: true }),
  };
}
