/**
 * `mtrack import-url <url> <out>`: a file that lives outside any repository (https://, http://, s3://, or
 * a local path) downloaded into the store, with a pointer recording the URL and what identified the
 * version fetched (ETag, Last-Modified, size). `update` downloads again when they change.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { MtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import { hashFileSync } from "../store/hash.js";
import type { TransferSummary } from "../transfer/objects.js";
import { safeUnlink, tmpName, toPosix } from "../util/fs.js";
import type { Pointer, UrlSource } from "../workspace/pointer.js";
import type { ProgressFn } from "../workspace/scan.js";
import { resolveTarget } from "../workspace/tracked.js";
import {
  checkNewTarget,
  checkUnmodified,
  type ImportCheck,
  type ImportResult,
  writeImported,
} from "./import.js";

/** What identifies one version of a URL's content. */
export interface UrlVersion {
  etag?: string;
  lastModified?: string;
  size?: number;
}

type UrlKind = "http" | "s3" | "local";

function kindOf(url: string): UrlKind {
  if (/^https?:\/\//i.test(url)) return "http";
  if (/^s3:\/\//i.test(url)) return "s3";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith("file://")) {
    throw new MtrackError("ERR_MTRACK_URL_INVALID", `Unsupported URL ${JSON.stringify(url)}.`, {
      hint: "import-url takes https://, http://, s3://bucket/key, file:// or a local path.",
      data: { url },
    });
  }
  return "local";
}

function localPath(repo: Repo, url: string): string {
  const p = url.startsWith("file://") ? decodeURIComponent(url.slice(7)) : url;
  return path.resolve(repo.root, p);
}

function notFound(url: string, detail: string): MtrackError {
  return new MtrackError("ERR_MTRACK_URL_NOT_FOUND", `${url} was not found (${detail}).`, {
    hint: "Check the URL; import-url takes a single file.",
    data: { url },
  });
}

function unreachable(url: string, detail: string): MtrackError {
  return new MtrackError("ERR_MTRACK_URL_UNREACHABLE", `Could not read ${url}: ${detail}`, {
    hint: "Check the network, the server and your credentials (for s3://, the AWS environment or profile).",
    data: { url },
  });
}

function httpVersion(res: Response): UrlVersion {
  const v: UrlVersion = {};
  const etag = res.headers.get("etag");
  if (etag) v.etag = etag;
  const lm = res.headers.get("last-modified");
  if (lm) v.lastModified = lm;
  const len = res.headers.get("content-length");
  if (len !== null && /^\d+$/.test(len)) v.size = Number(len);
  return v;
}

async function httpRequest(url: string, method: "HEAD" | "GET"): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { method, redirect: "follow" });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw unreachable(url, cause ?? (err instanceof Error ? err.message : String(err)));
  }
  if (res.status === 404 || res.status === 410) throw notFound(url, `HTTP ${res.status}`);
  if (!res.ok) throw unreachable(url, `HTTP ${res.status} ${res.statusText}`);
  return res;
}

async function s3Client(env: NodeJS.ProcessEnv) {
  // Loaded on demand: the AWS SDK is large and only s3:// URLs need it.
  const s3 = await import("@aws-sdk/client-s3");
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const client = new s3.S3Client({
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return { s3, client };
}

function s3Parts(url: string): { Bucket: string; Key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/i.exec(url);
  if (!m) {
    throw new MtrackError("ERR_MTRACK_URL_INVALID", `${url} names no object (s3://bucket/key).`, {
      hint: "import-url takes one object: s3://bucket/path/to/file.",
      data: { url },
    });
  }
  return { Bucket: m[1]!, Key: m[2]! };
}

function s3Error(url: string, err: unknown): MtrackError {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number }; message?: string };
  if (
    e.name === "NotFound" ||
    e.name === "NoSuchKey" ||
    e.name === "NoSuchBucket" ||
    e.$metadata?.httpStatusCode === 404
  )
    return notFound(url, e.name ?? "404");
  return unreachable(url, e.message ?? String(err));
}

/**
 * What the URL's content is now, without downloading it (HTTP HEAD, S3 HeadObject, a stat).
 *
 * @example
 * const v = await urlVersion(repo, "https://example.com/data.csv");
 */
export async function urlVersion(
  repo: Repo,
  url: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<UrlVersion> {
  const kind = kindOf(url);
  if (kind === "http") return httpVersion(await httpRequest(url, "HEAD"));
  if (kind === "s3") {
    const { s3, client } = await s3Client(env);
    try {
      const h = await client.send(new s3.HeadObjectCommand(s3Parts(url)));
      return {
        ...(h.ETag ? { etag: h.ETag } : {}),
        ...(h.LastModified ? { lastModified: h.LastModified.toUTCString() } : {}),
        ...(h.ContentLength !== undefined ? { size: h.ContentLength } : {}),
      };
    } catch (err) {
      throw s3Error(url, err);
    } finally {
      client.destroy();
    }
  }
  const file = localPath(repo, url);
  let st: nodeFs.Stats;
  try {
    st = nodeFs.statSync(file);
  } catch {
    throw notFound(url, "no such file");
  }
  if (!st.isFile()) throw notFound(url, "not a regular file");
  return { lastModified: st.mtime.toUTCString(), size: st.size };
}

/** A pass-through stream that reports the bytes that went by (at most every 64 KiB of progress). */
function counter(total: number | undefined, onProgress: ProgressFn | undefined): Transform {
  let bytes = 0;
  let reported = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (onProgress && bytes - reported >= 1 << 16) {
        reported = bytes;
        onProgress({ phase: "download", files: 0, filesTotal: 1, bytes, bytesTotal: total });
      }
      cb(null, chunk);
    },
    flush(cb) {
      onProgress?.({ phase: "download", files: 1, filesTotal: 1, bytes, bytesTotal: total ?? bytes });
      cb();
    },
  });
}

/**
 * Streams the URL's content into `dest` (a new file), reporting progress; returns the version the
 * response described. A body shorter or longer than the size the server announced is an error.
 */
async function download(
  repo: Repo,
  url: string,
  dest: string,
  env: NodeJS.ProcessEnv,
  onProgress?: ProgressFn,
): Promise<UrlVersion> {
  const kind = kindOf(url);
  const out = () => nodeFs.createWriteStream(dest, { flags: "wx" });
  let v: UrlVersion;
  if (kind === "http") {
    const res = await httpRequest(url, "GET");
    v = httpVersion(res);
    if (!res.body) throw unreachable(url, "empty response");
    try {
      await pipeline(
        Readable.fromWeb(res.body as import("node:stream/web").ReadableStream),
        counter(v.size, onProgress),
        out(),
      );
    } catch (err) {
      throw unreachable(url, err instanceof Error ? err.message : String(err));
    }
  } else if (kind === "s3") {
    const { s3, client } = await s3Client(env);
    try {
      const r = await client.send(new s3.GetObjectCommand(s3Parts(url)));
      v = {
        ...(r.ETag ? { etag: r.ETag } : {}),
        ...(r.LastModified ? { lastModified: r.LastModified.toUTCString() } : {}),
        ...(r.ContentLength !== undefined ? { size: r.ContentLength } : {}),
      };
      await pipeline(r.Body as Readable, counter(v.size, onProgress), out());
    } catch (err) {
      throw err instanceof MtrackError ? err : s3Error(url, err);
    } finally {
      client.destroy();
    }
  } else {
    v = await urlVersion(repo, url, env);
    await pipeline(nodeFs.createReadStream(localPath(repo, url)), counter(v.size, onProgress), out());
  }
  const got = nodeFs.statSync(dest).size;
  if (v.size !== undefined && got !== v.size)
    throw unreachable(url, `the download stopped at ${got} of ${v.size} bytes`);
  return v;
}

/** True when the source now describes another version than the one recorded. */
export function urlMoved(recorded: UrlSource, now: UrlVersion): boolean {
  if (recorded.etag !== undefined || now.etag !== undefined) return recorded.etag !== now.etag;
  if (recorded.lastModified !== now.lastModified) return true;
  return recorded.size !== undefined && now.size !== undefined && recorded.size !== now.size;
}

/** How a URL is written in the pointer: local paths relative to this repository's root. */
function recordedUrl(repo: Repo, url: string): string {
  if (kindOf(url) !== "local") return url;
  return toPosix(path.relative(repo.root, localPath(repo, url)));
}

/**
 * Downloads the URL into the store (through a temp file: a failed download leaves nothing), then writes
 * the data and its pointer. Returns the pointer written.
 */
async function downloadTo(
  repo: Repo,
  rel: string,
  url: string,
  options: { env: NodeJS.ProcessEnv; old?: Pointer; onProgress?: ProgressFn },
): Promise<{ pointer: Pointer; files: number; bytes: number; dataChanged: boolean }> {
  repo.store.init();
  const tmp = tmpName(repo.store.tmpDir, "import-url");
  let pointer: Pointer;
  try {
    const v = await download(repo, url, tmp, options.env, options.onProgress);
    const put = await repo.store.putFile(tmp);
    await repo.store.flush();
    const size = nodeFs.statSync(tmp).size;
    const source: UrlSource = { kind: "url", url: recordedUrl(repo, url), size };
    if (v.etag !== undefined) source.etag = v.etag;
    if (v.lastModified !== undefined) source.lastModified = v.lastModified;
    pointer = { path: path.posix.basename(rel), type: "file", hash: put.hash, size, source };
  } finally {
    safeUnlink(tmp);
  }
  const dataChanged = options.old?.hash !== pointer.hash;
  const files = writeImported(repo, rel, pointer, url, options.onProgress);
  return { pointer, files, bytes: pointer.size, dataChanged };
}

function result(rel: string, pointer: Pointer, extra: Partial<ImportResult>): ImportResult {
  return {
    path: rel,
    pointer: `${rel}.mtrack`,
    source: pointer.source!,
    type: pointer.type,
    hash: pointer.hash,
    size: pointer.size,
    files: 1,
    changed: true,
    dataChanged: true,
    downloaded: 1,
    downloadedBytes: pointer.size,
    ...extra,
  };
}

/**
 * `mtrack import-url`: downloads `url` to `outAbs` and records where it came from.
 *
 * @example
 * await importUrl(repo, "https://example.com/data.csv", "/repo/data/data.csv");
 */
export async function importUrl(
  repo: Repo,
  url: string,
  outAbs: string,
  options: { force?: boolean; env?: NodeJS.ProcessEnv; onProgress?: ProgressFn } = {},
): Promise<ImportResult> {
  const rel = resolveTarget(repo, outAbs);
  kindOf(url);
  checkNewTarget(repo, rel, options.force);
  const r = await downloadTo(repo, rel, url, {
    env: options.env ?? process.env,
    onProgress: options.onProgress,
  });
  return result(rel, r.pointer, {});
}

/**
 * Downloads a URL import again when its source describes another version (ETag, Last-Modified, size).
 *
 * @example
 * const r = await updateUrlImport(repo, "data.csv", pointer, {}); r.changed
 */
export async function updateUrlImport(
  repo: Repo,
  rel: string,
  pointer: Pointer & { source: UrlSource },
  options: { force?: boolean; env?: NodeJS.ProcessEnv; onProgress?: ProgressFn } = {},
): Promise<ImportResult> {
  const env = options.env ?? process.env;
  const url =
    pointer.source.kind === "url" && kindOf(pointer.source.url) === "local"
      ? localPath(repo, pointer.source.url)
      : pointer.source.url;
  const now = await urlVersion(repo, url, env);
  if (!urlMoved(pointer.source, now)) {
    return result(rel, pointer, {
      from: pointer.source,
      changed: false,
      dataChanged: false,
      downloaded: 0,
      downloadedBytes: 0,
    });
  }
  await checkUnmodified(repo, rel, pointer, options.force);
  const r = await downloadTo(repo, rel, url, { env, old: pointer, onProgress: options.onProgress });
  return result(rel, r.pointer, { from: pointer.source, dataChanged: r.dataChanged });
}

/**
 * Asks a URL import's source whether it describes another version now.
 *
 * @example
 * const c = await checkUrlImport(repo, "data.csv", pointer.source);
 */
export async function checkUrlImport(
  repo: Repo,
  rel: string,
  source: UrlSource,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ImportCheck> {
  const url = kindOf(source.url) === "local" ? localPath(repo, source.url) : source.url;
  try {
    const now = await urlVersion(repo, url, env);
    return { path: rel, source, latest: now.etag ?? now.lastModified, moved: urlMoved(source, now) };
  } catch (err) {
    if (err instanceof MtrackError) return { path: rel, source, moved: false, error: err.code };
    throw err;
  }
}

function urlChanged(rel: string, url: string, detail: string): MtrackError {
  return new MtrackError(
    "ERR_MTRACK_URL_CHANGED",
    `${rel}: ${url} no longer serves the version its pointer records (${detail}).`,
    {
      hint: "Take the new version with `mtrack update <path>` (and commit the pointer), or push the old one to a remote from a machine that has it.",
      data: { path: rel, url },
    },
  );
}

/**
 * `pull` of URL imports whose object is on no remote (never pushed): downloads each from its URL again,
 * as DVC does, with progress. The download must be the version the pointer records (its ETag when one
 * was recorded, its size, and finally its hash), else ERR_MTRACK_URL_CHANGED and nothing is stored.
 * Counts what moved into `summary` and drops the problems it fixed.
 *
 * @example
 * await fetchUrlImports(repo, [{ rel: "data.csv", pointer }], summary, { env: process.env });
 */
export async function fetchUrlImports(
  repo: Repo,
  imports: ReadonlyArray<{ rel: string; pointer: Pointer & { source: UrlSource } }>,
  summary: TransferSummary,
  options: { onProgress?: ProgressFn; env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  if (imports.length === 0) return;
  const env = options.env ?? process.env;
  repo.store.init();
  for (const { rel, pointer } of imports) {
    const recorded = pointer.source;
    const url = kindOf(recorded.url) === "local" ? localPath(repo, recorded.url) : recorded.url;
    const tmp = tmpName(repo.store.tmpDir, "import-url");
    try {
      const v = await download(repo, url, tmp, env, options.onProgress);
      if (recorded.etag !== undefined && v.etag !== undefined && v.etag !== recorded.etag)
        throw urlChanged(rel, recorded.url, `ETag ${v.etag}, recorded ${recorded.etag}`);
      // Hashed before it is stored: a changed URL leaves nothing in the store.
      const { hash, size } = hashFileSync(tmp);
      if (size !== pointer.size)
        throw urlChanged(rel, recorded.url, `${size} bytes, recorded ${pointer.size}`);
      if (hash !== pointer.hash) throw urlChanged(rel, recorded.url, "same size, other content");
      await repo.store.putFile(tmp);
      summary.objects += 1;
      summary.bytes += size;
    } finally {
      safeUnlink(tmp);
    }
  }
  await repo.store.flush();
  const store = repo.store;
  summary.missingRemote = summary.missingRemote.filter((p) => !store.has(p.hash));
}
