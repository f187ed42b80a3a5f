/**
 * `.mtrackignore`: gitignore-syntax files (at the repository root and in any subfolder) naming paths
 * mtrack never stores, hashes or reports. Parsing and matching are pure; loading reads the files.
 *
 * Semantics follow gitignore(5): `#` comments, `!` negation, a leading or middle `/` anchors the
 * pattern to the directory of its file, a trailing `/` matches directories only, `*` `?` `[...]` do not
 * cross `/`, `**` spans directories, `\` escapes; the last matching rule wins, rules of deeper files
 * after those of shallower ones; a file inside an ignored directory cannot be re-included (the
 * directory is never entered).
 */
import * as path from "node:path";
import { errnoCode, ioError } from "../errors.js";
import type { FsLike } from "../util/fs.js";

/** The ignore file's name. */
export const IGNORE_FILE = ".mtrackignore";

/** One pattern line of an ignore file. */
export interface IgnoreRule {
  /** The line as written (trailing spaces removed). */
  pattern: string;
  /** Repo-relative posix path of the ignore file. */
  source: string;
  /** 1-based line number in `source`. */
  line: number;
  /** The directory the rule is relative to (repo-relative posix, "" for the root). */
  base: string;
  negate: boolean;
  dirOnly: boolean;
  /** Matches the path relative to `base`. */
  regex: RegExp;
  /** The literal name when the rule is a plain name (no slash, no wildcard): it may prune a walk anywhere. */
  name?: string;
}

/** Converts one glob (already stripped of `!`, leading and trailing `/`) to a regex source. */
function globToRegex(glob: string): string {
  let re = "";
  let i = 0;
  const n = glob.length;
  while (i < n) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const atStart = i === 0 || glob[i - 1] === "/";
        const atEnd = i + 2 === n || glob[i + 2] === "/";
        if (atStart && atEnd) {
          if (i + 2 === n) {
            // "x/**": everything inside; "**" alone: everything
            re += ".*";
            i += 2;
          } else {
            // "**/": zero or more directories
            re += "(?:.*/)?";
            i += 3;
          }
          continue;
        }
        // any other "**" is an ordinary "*"
        while (glob[i] === "*") i++;
        re += "[^/]*";
        continue;
      }
      re += "[^/]*";
      i++;
    } else if (c === "?") {
      re += "[^/]";
      i++;
    } else if (c === "[") {
      const close = classEnd(glob, i);
      if (close < 0) {
        re += "\\[";
        i++;
        continue;
      }
      let body = glob.slice(i + 1, close);
      let neg = false;
      if (body[0] === "!" || body[0] === "^") {
        neg = true;
        body = body.slice(1);
      }
      let cls = "";
      for (let k = 0; k < body.length; k++) {
        const b = body[k]!;
        if (b === "\\" && k + 1 < body.length) cls += escapeClass(body[++k]!);
        else if (b === "-" && k > 0 && k < body.length - 1) cls += "-";
        else cls += escapeClass(b);
      }
      re += neg ? `[^/${cls}]` : `[${cls}]`;
      i = close + 1;
    } else if (c === "\\" && i + 1 < n) {
      re += escapeRegex(glob[i + 1]!);
      i += 2;
    } else {
      re += escapeRegex(c);
      i++;
    }
  }
  return re;
}

/** Index of the `]` closing the class opened at `open`, or -1 (then `[` is literal). */
function classEnd(glob: string, open: number): number {
  let k = open + 1;
  if (glob[k] === "!" || glob[k] === "^") k++;
  if (glob[k] === "]") k++; // a leading "]" is a member
  for (; k < glob.length; k++) {
    if (glob[k] === "\\") k++;
    else if (glob[k] === "]") return k;
  }
  return -1;
}

function escapeRegex(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

function escapeClass(c: string): string {
  return /[\]\\^-]/.test(c) ? `\\${c}` : c;
}

/**
 * The rules of one ignore file's text. `source` names the file (repo-relative), `base` its directory.
 *
 * @example
 * parseIgnore("*.tmp\n!keep.tmp\n", ".mtrackignore", "").length // 2
 */
export function parseIgnore(text: string, source: string, base: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  const lines = text.split(/\r?\n/);
  for (let ln = 0; ln < lines.length; ln++) {
    let line = lines[ln]!;
    if (ln === 0 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    // Trailing spaces are dropped unless escaped ("a\ " keeps one).
    let end = line.length;
    while (end > 0 && line[end - 1] === " " && !(end >= 2 && line[end - 2] === "\\")) end--;
    line = line.slice(0, end);
    if (line === "" || line.startsWith("#")) continue;
    let p = line;
    let negate = false;
    if (p.startsWith("!")) {
      negate = true;
      p = p.slice(1);
    } else if (p.startsWith("\\!") || p.startsWith("\\#")) {
      p = p.slice(1);
    }
    let dirOnly = false;
    if (p.endsWith("/") && !p.endsWith("\\/")) {
      dirOnly = true;
      p = p.replace(/\/+$/, "");
    }
    if (p === "") continue;
    const anchored = p.includes("/");
    if (p.startsWith("/")) p = p.slice(1);
    if (p === "") continue;
    const body = globToRegex(p);
    const regex = new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`);
    const rule: IgnoreRule = { pattern: line, source, line: ln + 1, base, negate, dirOnly, regex };
    if (!anchored && !/[*?[\\]/.test(p)) rule.name = p;
    rules.push(rule);
  }
  return rules;
}

/** The rule deciding `rel` (repo-relative posix), or undefined when none matches. */
function lastMatch(rules: readonly IgnoreRule[], rel: string, isDir: boolean): IgnoreRule | undefined {
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i]!;
    if (r.dirOnly && !isDir) continue;
    let sub: string;
    if (r.base === "") sub = rel;
    else if (rel.length > r.base.length && rel.startsWith(r.base) && rel[r.base.length] === "/")
      sub = rel.slice(r.base.length + 1);
    else continue;
    if (r.regex.test(sub)) return r;
  }
  return undefined;
}

/** Why a path is (or is not) ignored: the deciding rule, and whether it was a parent directory's. */
export interface IgnoreVerdict {
  ignored: boolean;
  /** The rule that decided; undefined when no rule matched. */
  rule?: IgnoreRule;
  /** Set when an ignored parent directory decided (`rule` is then that directory's rule). */
  dir?: string;
}

/**
 * A set of ignore rules, ordered shallow to deep. Directories' answers are memoised, so filtering 100k
 * paths costs one regex run per rule per distinct directory plus one per file.
 */
export class IgnoreMatcher {
  readonly rules: IgnoreRule[];
  readonly #dirs = new Map<string, IgnoreVerdict>();

  constructor(rules: readonly IgnoreRule[] = []) {
    this.rules = [...rules];
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** Adds the rules of a deeper ignore file (its directory must not be shallower than any before). */
  add(rules: readonly IgnoreRule[]): void {
    if (rules.length === 0) return;
    this.rules.push(...rules);
    this.#dirs.clear();
  }

  /**
   * Whether `rel` (repo-relative posix) is ignored, by its own rule or a parent directory's.
   *
   * @example
   * new IgnoreMatcher(parseIgnore("tmp/\n", ".mtrackignore", "")).check("data/tmp/a.csv", false).ignored // true
   */
  check(rel: string, isDir: boolean): IgnoreVerdict {
    const slash = rel.lastIndexOf("/");
    if (slash > 0) {
      const parent = this.checkDir(rel.slice(0, slash));
      if (parent.ignored) return parent;
    }
    const rule = lastMatch(this.rules, rel, isDir);
    return rule ? { ignored: !rule.negate, rule } : { ignored: false };
  }

  /** check() for a directory, memoised. */
  checkDir(rel: string): IgnoreVerdict {
    const known = this.#dirs.get(rel);
    if (known) return known;
    const v = this.check(rel, true);
    const verdict = v.ignored && v.dir === undefined ? { ...v, dir: rel } : v;
    this.#dirs.set(rel, verdict);
    return verdict;
  }

  /** Whether `rel` is ignored. */
  ignores(rel: string, isDir = false): boolean {
    return this.check(rel, isDir).ignored;
  }

  /**
   * Plain names (`tmp`, `tmp/`) that are ignored wherever they appear, for a walk to skip without
   * entering: only when no rule re-includes anything (a `!` rule could un-ignore such a name).
   */
  prunableNames(): string[] {
    if (this.rules.some((r) => r.negate)) return [];
    const out: string[] = [];
    for (const r of this.rules) if (r.name !== undefined) out.push(r.dirOnly ? `${r.name}/` : r.name);
    return [...new Set(out)];
  }
}

/** Reads one ignore file's rules; none when it does not exist. */
export function readIgnoreFile(absFile: string, source: string, base: string, fs: FsLike): IgnoreRule[] {
  let text: string;
  try {
    text = fs.readFileSync(absFile, "utf8");
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return [];
    throw ioError(err, `reading ${absFile}`);
  }
  return parseIgnore(text, source, base);
}

/**
 * The rules that apply inside `relDir` (repo-relative posix, "" for the root) from the ignore files of
 * the root and every directory down to `relDir` itself (not below it). A file in an ignored directory
 * is not read, as git does not read one there.
 *
 * @example
 * ancestorIgnores("/repo", "data/images", fs).ignores("data/images/x.tmp")
 */
export function ancestorIgnores(root: string, relDir: string, fs: FsLike): IgnoreMatcher {
  const m = new IgnoreMatcher();
  const parts = relDir === "" ? [] : relDir.split("/");
  for (let i = 0; i <= parts.length; i++) {
    const dir = parts.slice(0, i).join("/");
    if (dir !== "" && m.checkDir(dir).ignored) break;
    const source = dir === "" ? IGNORE_FILE : `${dir}/${IGNORE_FILE}`;
    m.add(readIgnoreFile(path.join(root, ...source.split("/")), source, dir, fs));
  }
  return m;
}

/** What `isIgnored` needs of a repository. */
export interface IgnoreContext {
  root: string;
  fs: FsLike;
}

/**
 * Whether the repo-relative path `rel` is ignored by the `.mtrackignore` files above it (and, through
 * its parent directories, by theirs), with the deciding rule. Directories are told from files on disk;
 * a path that does not exist is judged as a file.
 *
 * @example
 * isIgnored(repo, "data/tmp/x.log") // { ignored: true, rule: { source: ".mtrackignore", line: 2, ... } }
 */
export function isIgnored(repo: IgnoreContext, rel: string): IgnoreVerdict {
  const slash = rel.lastIndexOf("/");
  const parent = slash < 0 ? "" : rel.slice(0, slash);
  let isDir = false;
  try {
    isDir = repo.fs.statSync(path.join(repo.root, ...rel.split("/"))).isDirectory();
  } catch {
    // missing: judged as a file
  }
  return ancestorIgnores(repo.root, parent, repo.fs).check(rel, isDir);
}

/** One answer of `mtrack check-ignore`. */
export interface CheckIgnoreResult {
  /** Repo-relative posix path. */
  path: string;
  ignored: boolean;
  /** The deciding rule (also for a path a `!` rule re-included); undefined when no rule matched. */
  source?: string;
  line?: number;
  pattern?: string;
}

/**
 * `mtrack check-ignore`: for each repo-relative path, whether it is ignored and by which rule.
 *
 * @example
 * checkIgnorePaths(repo, ["data/x.tmp"]) // [{ path: "data/x.tmp", ignored: true, source: ".mtrackignore", line: 1, pattern: "*.tmp" }]
 */
export function checkIgnorePaths(repo: IgnoreContext, rels: readonly string[]): CheckIgnoreResult[] {
  return rels.map((rel) => {
    const v = isIgnored(repo, rel);
    const r: CheckIgnoreResult = { path: rel, ignored: v.ignored };
    if (v.rule) Object.assign(r, { source: v.rule.source, line: v.rule.line, pattern: v.rule.pattern });
    return r;
  });
}
