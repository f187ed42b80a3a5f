/**
 * Which files a repro leaves for git: the lock, the `.gitignore` files that keep cached outputs out of
 * git, and the outputs git keeps (`cache: false` metrics and plots). `repro`'s `git add` hint names
 * those whose content git's index does not hold yet, so it pastes as is and adds nothing spurious.
 */
import * as path from "node:path";
import { errnoCode, ioError } from "../errors.js";
import { gitBlobOidOfFile } from "../git/blob-hash.js";
import type { Repo } from "../repo.js";
import type { LoadedPipeline } from "./load.js";
import { repoRelative } from "./parse.js";

/** Regular files under `rel` (itself, if it is a file), repo-relative; none when it does not exist. */
function filesUnder(repo: Repo, rel: string): string[] {
  let st: import("node:fs").Stats;
  try {
    st = repo.fs.lstatSync(repo.abs(rel));
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return [];
    throw ioError(err, `reading ${rel}`);
  }
  if (st.isFile()) return [rel];
  if (!st.isDirectory()) return [];
  return repo.fs
    .readdirSync(repo.abs(rel))
    .sort()
    .flatMap((name) => filesUnder(repo, `${rel}/${name}`));
}

/**
 * The files of a pipeline that belong in git and whose workspace content differs from git's index (or
 * that git does not track yet): its lock file, the `.gitignore` beside each cached output, and each
 * `cache: false` output (a directory is named when any file in it changed). Repo-relative posix paths,
 * sorted; quote them with shellJoin before printing.
 *
 * @example
 * filesForGit(repo, loaded) // → ["metrics.json", "pipeline.lock"] after a repro that changed the metrics
 */
export function filesForGit(
  repo: Repo,
  loaded: Pick<LoadedPipeline, "pipeline" | "dirRel" | "lockFile">,
): string[] {
  const wanted = new Set<string>([path.posix.normalize(loaded.lockFile)]);
  for (const stage of loaded.pipeline.stages) {
    for (const out of stage.outs) {
      const rel = repoRelative(loaded.dirRel, out.path);
      if (rel === null || rel === "") continue;
      const dir = path.posix.dirname(rel);
      wanted.add(out.cache ? (dir === "." ? ".gitignore" : `${dir}/.gitignore`) : rel);
    }
  }
  const staged = repo.git().stagedBlobs();
  const changed = (file: string) => {
    const oid = staged.get(file);
    return oid === undefined || gitBlobOidOfFile(repo.abs(file), repo.fs) !== oid;
  };
  return [...wanted].filter((rel) => filesUnder(repo, rel).some(changed)).sort();
}
