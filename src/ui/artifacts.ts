/**
 * How the UI serves a run's artifact files: which kind a file is, and the headers that keep an artifact
 * from ever running in the page's origin. Artifacts are user data: an .html or .svg file could carry
 * script, so only plain text and raster images are shown inline; everything else is a download, and every
 * answer is sandboxed by its CSP and barred from content sniffing. Pure, so the policy is unit-tested.
 */

import path from "node:path";

/** What the artifacts browser does with a file: show text, show an image, or offer a download. */
export type ArtifactKind = "text" | "image" | "binary";

const TEXT_EXTENSIONS = new Set([
  ".txt",
  ".log",
  ".md",
  ".json",
  ".yaml",
  ".yml",
  ".csv",
  ".tsv",
  ".py",
  ".ts",
  ".js",
  ".sh",
  ".toml",
  ".ini",
  ".cfg",
]);

/** Image types shown inline (by extension); SVG is not one of them: it can carry script. */
export const IMAGE_TYPES: Readonly<Record<string, string>> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
};

/** Texts larger than this are downloaded rather than shown. */
export const MAX_INLINE_TEXT_BYTES = 2 * 1024 * 1024;

/** The CSP of every artifact answer: nothing loads, and a document opened directly runs sandboxed. */
export const ARTIFACT_CSP = "default-src 'none'; sandbox";

/**
 * The kind of an artifact file, from its extension (case-insensitive). SVG, HTML and XML are binary on
 * purpose: they can carry script.
 *
 * @example
 * artifactKind("plots/loss.png"); // "image"
 * artifactKind("report.html");    // "binary"
 */
export function artifactKind(name: string): ArtifactKind {
  const ext = path.posix.extname(name).toLowerCase();
  if (TEXT_EXTENSIONS.has(ext)) return "text";
  if (Object.hasOwn(IMAGE_TYPES, ext)) return "image";
  return "binary";
}

/**
 * A Content-Disposition value for a download: an ASCII-only quoted filename (quotes, backslashes and
 * control characters replaced) plus the exact UTF-8 name as `filename*` (RFC 6266).
 *
 * @example
 * attachmentDisposition("plots/r\u00e9sum\u00e9.html"); // attachment; filename="r_sum_.html"; filename*=UTF-8''r%C3%A9sum%C3%A9.html
 */
export function attachmentDisposition(name: string): string {
  const base = path.posix.basename(name);
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base)}`;
}

/**
 * The response headers for an artifact file of `size` bytes; `download` forces an attachment.
 *
 * @example
 * artifactHeaders("notes.txt", 10, false)["content-type"]; // "text/plain; charset=utf-8"
 * artifactHeaders("x.svg", 10, false)["content-disposition"]; // attachment; filename="x.svg"; ...
 */
export function artifactHeaders(name: string, size: number, download: boolean): Record<string, string> {
  const kind = artifactKind(name);
  const headers: Record<string, string> = {
    "x-content-type-options": "nosniff",
    "content-security-policy": ARTIFACT_CSP,
    "cache-control": "no-store",
    "content-length": String(size),
  };
  let inline = false;
  if (kind === "text") {
    headers["content-type"] = "text/plain; charset=utf-8";
    inline = size <= MAX_INLINE_TEXT_BYTES;
  } else if (kind === "image") {
    headers["content-type"] = IMAGE_TYPES[path.posix.extname(name).toLowerCase()]!;
    inline = true;
  } else {
    headers["content-type"] = "application/octet-stream";
  }
  if (download || !inline) headers["content-disposition"] = attachmentDisposition(name);
  return headers;
}
