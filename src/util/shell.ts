/**
 * Quoting for the commands mtrack prints as hints, so a path with spaces or shell characters pastes as
 * one word (`git add 'my data.mtrack'`), the way `git` and `dvc` print theirs.
 */

// Words made only of these need no quotes in sh, bash, zsh or PowerShell.
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * One word for a POSIX shell: unchanged when safe, else single-quoted (a `'` inside becomes `'\''`).
 *
 * @example
 * shellQuote("data/a.csv"); // "data/a.csv"
 * shellQuote("my data.mtrack"); // "'my data.mtrack'"
 */
export function shellQuote(word: string): string {
  if (SAFE.test(word)) return word;
  return `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * Words joined with spaces, each quoted by {@link shellQuote}.
 *
 * @example
 * shellJoin(["git", "add", "my data.mtrack", ".gitignore"]); // "git add 'my data.mtrack' .gitignore"
 */
export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(" ");
}
