/**
 * The filesystem view handed to isomorphic-git. isomorphic-git looks every object up from scratch: it
 * stats the git directory, tries the loose file (a failed open plus an exception), then lists
 * objects/pack. Walking all of history reads tens of thousands of objects, so this view memoizes those
 * listings. A memo can go stale when git writes or repacks objects meanwhile; callers then call
 * `refresh()` and retry once whenever an object is reported missing (see repo.ts).
 */

import path from "node:path";
import type { NodeFs } from "./root.js";

/** An fs for isomorphic-git plus a way to drop its memoized listings. */
export interface ObjectDbFs {
  /** Pass as isomorphic-git's `fs`; only its promise API is used. */
  fs: { promises: NodeFs["promises"] };
  /** Forgets every memoized listing, so that objects written since are seen. */
  refresh(): void;
}

/**
 * Wraps `fs` so that repeated object lookups in `gitDir/objects` cost no directory listing and no failed
 * open, and the git directory itself is stat-ed once. Everything else passes straight through.
 *
 * @example
 * const view = createObjectDbFs(fs, "/repo/.git");
 * await git.readCommit({ fs: view.fs, gitdir: "/repo/.git", oid });
 */
export function createObjectDbFs(fs: NodeFs, gitDir: string): ObjectDbFs {
  const real = fs.promises;
  const listings = new Map<string, Promise<string[]>>();
  const looseNames = new Map<string, Promise<Set<string>>>();
  const root = path.resolve(gitDir);
  const prefix = path.join(root, "objects") + path.sep;
  // isomorphic-git stats the git directory on every call to tell a .git file from a directory.
  let rootStat: ReturnType<typeof real.stat> | undefined;
  // One shared error: isomorphic-git only checks that the read failed, and building a fresh Error
  // (with its stack trace) for every packed object was a visible share of a history walk.
  const missing = Object.assign(new Error("ENOENT: object not stored loose"), { code: "ENOENT" });

  const list = (dir: string): Promise<string[]> => {
    let names = listings.get(dir);
    if (names === undefined) {
      names = real.readdir(dir).catch(() => []);
      listings.set(dir, names);
    }
    return names;
  };

  const promises = {
    ...real,
    stat: ((file: string, options?: unknown) => {
      if (options !== undefined || typeof file !== "string" || path.resolve(file) !== root) {
        return real.stat(file, options as never);
      }
      rootStat ??= real.stat(root);
      return rootStat;
    }) as typeof real.stat,
    readdir: ((dir: string, options?: unknown) =>
      options === undefined && isInside(prefix, dir)
        ? list(dir)
        : real.readdir(dir, options as never)) as typeof real.readdir,
    readFile: (async (file: string, options?: unknown) => {
      const name = typeof file === "string" ? looseObjectName(prefix, file) : null;
      if (name !== null) {
        let names = looseNames.get(name.dir);
        if (names === undefined) {
          names = list(name.dir).then((entries) => new Set(entries));
          looseNames.set(name.dir, names);
        }
        if (!(await names).has(name.file)) throw missing;
      }
      return real.readFile(file, options as never);
    }) as typeof real.readFile,
  };
  return {
    fs: { promises },
    refresh: () => {
      rootStat = undefined;
      listings.clear();
      looseNames.clear();
    },
  };
}

function isInside(prefix: string, dir: string): boolean {
  return typeof dir === "string" && path.resolve(dir).startsWith(prefix);
}

/** Splits `<objects>/ab/cdef…` into its fan-out directory and file name, or null for any other path. */
function looseObjectName(prefix: string, file: string): { dir: string; file: string } | null {
  const resolved = path.resolve(file);
  if (!resolved.startsWith(prefix)) return null;
  const rest = resolved.slice(prefix.length).split(path.sep);
  if (rest.length !== 2 || !/^[0-9a-f]{2}$/.test(rest[0]!) || !/^[0-9a-f]{38}$/.test(rest[1]!)) return null;
  return { dir: prefix + rest[0], file: rest[1]! };
}
