/**
 * Opening a remote from its configuration: the one place that knows which backend serves which url.
 */
import * as crypto from "node:crypto";
import * as path from "node:path";
import type { RemoteSpec } from "./config.js";
import { HttpRemote } from "./http.js";
import { LocalRemote } from "./local.js";
import type { Remote } from "./types.js";

export { type RemoteSpec, resolveRemote } from "./config.js";
export type { ObjectData, ObjectSpec, Remote } from "./types.js";

/**
 * Opens the backend for a resolved remote. `stateDir` (`.mtrack/state`) holds per-remote caches such as
 * S3 pack indexes.
 *
 * @example
 * const remote = await openRemote(resolveRemote(repo.config, { root: repo.root }), { stateDir: repo.paths.stateDir });
 */
export async function openRemote(
  spec: RemoteSpec,
  options: { stateDir: string; jobs?: number },
): Promise<Remote> {
  const jobs = options.jobs ?? spec.jobs;
  // Keyed by url and endpoint: two remotes on one bucket name but different services never share.
  const cacheDir = () =>
    path.join(
      options.stateDir,
      "remotes",
      crypto
        .createHash("sha256")
        .update(`${spec.endpoint ?? ""} ${spec.url}`)
        .digest("hex")
        .slice(0, 16),
    );
  switch (spec.kind) {
    case "local":
      return LocalRemote.open({ dir: spec.url });
    case "http":
      return new HttpRemote({ url: spec.url, token: spec.token, jobs, cacheDir: cacheDir() });
    case "s3": {
      // The AWS SDK takes a noticeable part of a second to load: only S3 remotes pay for it.
      const { S3Remote } = await import("./s3.js");
      return new S3Remote({
        url: spec.url,
        endpoint: spec.endpoint,
        region: spec.region,
        profile: spec.profile,
        jobs,
        cacheDir: cacheDir(),
      });
    }
  }
}
