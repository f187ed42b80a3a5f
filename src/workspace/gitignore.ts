/**
 * Keeping tracked data out of git: each tracked path gets a `/<name>` line in the .gitignore of the
 * directory that contains it (the nearest .gitignore), as DVC does.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { type FsLike, writeFileAtomic } from "../util/fs.js";

function entryFor(name: string): string {
  // Escape the characters gitignore treats as patterns so a file named "a*b" ignores only itself.
  return `/${name.replace(/([\\*?[\]!#])/g, "\\$1")}`;
}

function readLines(file: string, fs: FsLike): string[] | undefined {
  try {
    return fs.readFileSync(file, "utf8").split("\n");
  } catch {
    return undefined;
  }
}

/** Adds `/<basename>` to `<dir>/.gitignore` unless present. Returns true when the file changed. */
export function addToGitignore(absPath: string, fs: FsLike = nodeFs): boolean {
  const file = path.join(path.dirname(absPath), ".gitignore");
  const line = entryFor(path.basename(absPath));
  const lines = readLines(file, fs) ?? [];
  if (lines.includes(line)) return false;
  const text = lines.join("\n");
  const prefix = text.length === 0 || text.endsWith("\n") ? text : `${text}\n`;
  writeFileAtomic(file, `${prefix}${line}\n`, { fs });
  return true;
}

/** Removes the line added by addToGitignore (and the file, if that leaves it empty). */
export function removeFromGitignore(absPath: string, fs: FsLike = nodeFs): boolean {
  const file = path.join(path.dirname(absPath), ".gitignore");
  const line = entryFor(path.basename(absPath));
  const lines = readLines(file, fs);
  if (!lines?.includes(line)) return false;
  const kept = lines.filter((l) => l !== line);
  if (kept.every((l) => l.trim() === "")) fs.unlinkSync(file);
  else writeFileAtomic(file, kept.join("\n"), { fs });
  return true;
}
