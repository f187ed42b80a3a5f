/**
 * The page of `mtrack ui`: index.html and the bundled assets, served from the built dist/ui folder that
 * ships in the package (so the UI needs no network). Asset paths are confined to dist/ui/assets.
 */

import fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The CSP of the page itself: only its own scripts and styles, never framed. */
export const PAGE_CSP =
  "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'";

const ASSET_TYPES: Readonly<Record<string, string>> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".html": "text/html; charset=utf-8",
};

/**
 * Where the built page lives: `dist/ui` next to the compiled module (dist/src/ui → dist/ui), or, when
 * running from source (tsx, src/ui), the build output of the same checkout (dist/ui).
 *
 * @example
 * defaultUiDir(); // "/usr/lib/node_modules/mtrack/dist/ui"
 */
export function defaultUiDir(moduleUrl: string = import.meta.url): string {
  const here = path.dirname(fileURLToPath(moduleUrl));
  const up2 = path.resolve(here, "..", "..");
  return path.basename(up2) === "dist" ? path.join(up2, "ui") : path.join(up2, "dist", "ui");
}

/**
 * The file an `/assets/<rest>` request names, or undefined when `rest` is not a plain relative path
 * inside the assets folder (`..`, absolute, backslashes, NUL, empty segments).
 *
 * @example
 * assetPath("/srv/dist/ui", "app.js");     // "/srv/dist/ui/assets/app.js"
 * assetPath("/srv/dist/ui", "../x.js");    // undefined
 */
export function assetPath(uiDir: string, rest: string): string | undefined {
  if (rest === "" || rest.includes("\\") || rest.includes("\0") || rest.startsWith("/")) return undefined;
  if (rest.split("/").some((s) => s === "" || s === "." || s === "..")) return undefined;
  const base = path.join(uiDir, "assets");
  const file = path.join(base, ...rest.split("/"));
  return file.startsWith(base + path.sep) ? file : undefined;
}

function sendText(res: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(text);
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": body.length,
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
  });
  res.end(body);
}

/** Serves index.html (or, when the UI was not built, a plain note saying how to build it). */
export function serveIndex(uiDir: string, req: IncomingMessage, res: ServerResponse): void {
  let body: Buffer;
  try {
    body = fs.readFileSync(path.join(uiDir, "index.html"));
  } catch {
    sendText(
      res,
      503,
      `The mtrack web UI is not built (no ${path.join(uiDir, "index.html")}).\nRun \`npm run build\` in the mtrack package, then reload.\nThe JSON API is available under /api/v1/.\n`,
    );
    return;
  }
  res.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "content-length": body.length,
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    "content-security-policy": PAGE_CSP,
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

/** Serves one asset, or 404 when the path is refused or names no file. */
export function serveAsset(uiDir: string, rest: string, req: IncomingMessage, res: ServerResponse): void {
  const file = assetPath(uiDir, rest);
  let body: Buffer | undefined;
  if (file !== undefined) {
    try {
      body = fs.readFileSync(file);
    } catch {
      body = undefined;
    }
  }
  if (body === undefined) {
    sendText(res, 404, "No such asset.\n");
    return;
  }
  const type = ASSET_TYPES[path.extname(file!).toLowerCase()] ?? "application/octet-stream";
  const headers: Record<string, string | number> = {
    "content-type": type,
    "content-length": body.length,
    "x-content-type-options": "nosniff",
    // Assets change only with a rebuild; revalidating keeps a reload after `npm run build` correct.
    "cache-control": "no-cache",
  };
  if (type.startsWith("text/html")) headers["content-security-policy"] = PAGE_CSP;
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : body);
}
