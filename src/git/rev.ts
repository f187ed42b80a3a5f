/**
 * Pure parsing of git revision expressions (`HEAD~2^2`, `v1.0~1`, `abc1234^`) into a base name plus
 * navigation steps. Resolving the base against refs and objects is the repository's job (repo.ts).
 */

/** One navigation step: `~n` follows the first parent n times, `^n` takes the n-th parent (`^0`: itself). */
export interface RevStep {
  kind: "~" | "^";
  n: number;
}

/** A revision split into the name to look up and the steps to apply to the commit it names. */
export interface ParsedRev {
  base: string;
  steps: RevStep[];
}

/**
 * Splits a revision into its base and `~N` / `^N` suffixes; `~` and `^` alone mean 1. Returns null when
 * the base is empty (e.g. `~1`).
 *
 * @example
 * parseRev("HEAD~2^2") // { base: "HEAD", steps: [{ kind: "~", n: 2 }, { kind: "^", n: 2 }] }
 */
export function parseRev(rev: string): ParsedRev | null {
  const match = /^(.*?)((?:[~^][0-9]*)*)$/.exec(rev);
  const base = match?.[1] ?? "";
  if (base === "") return null;
  const steps: RevStep[] = [];
  for (const step of (match?.[2] ?? "").matchAll(/([~^])([0-9]*)/g)) {
    const digits = step[2] ?? "";
    steps.push({ kind: step[1] as "~" | "^", n: digits === "" ? 1 : Number.parseInt(digits, 10) });
  }
  return { base, steps };
}

/**
 * True when `name` could be a ref name as git allows it (a subset of `git check-ref-format`). Names are
 * also file paths under `.git/`, so anything that could escape it or name a non-ref file is refused
 * before it reaches the filesystem.
 *
 * @example
 * isPlausibleRefName("feature/x") // true
 * isPlausibleRefName("../config") // false
 */
export function isPlausibleRefName(name: string): boolean {
  if (name === "" || name.startsWith("/") || name.endsWith("/") || name.startsWith("-")) return false;
  if (name.endsWith(".") || name.endsWith(".lock") || name.includes("..") || name.includes("//"))
    return false;
  if (name.includes("@{") || name === "@") return false;
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  return name.split("/").every((part) => !part.startsWith("."));
}

/** True when `s` looks like an abbreviated or full object id (4 to 40 lowercase or uppercase hex digits). */
export function isHexPrefix(s: string): boolean {
  return /^[0-9a-fA-F]{4,40}$/.test(s);
}
