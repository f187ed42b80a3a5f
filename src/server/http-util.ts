/**
 * Request/response helpers for the server: bounded body reading and JSON/error answers.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError } from "./router.js";

/**
 * Reads a whole request body, refusing more than `limit` bytes (413) before reading it when the
 * Content-Length says so, and while reading otherwise.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    throw new HttpError(413, `Request body of ${declared} bytes is over the limit of ${limit}.`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `Request body is over the limit of ${limit} bytes.`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/**
 * A request body as a stream of chunks that stops with 413 once more than `limit` bytes arrived (or at
 * once when the Content-Length declares more), so an upload is bounded while it is streamed to disk.
 *
 * @example
 * await pipeline(limitedBody(req, 1 << 30, "Artifact"), fs.createWriteStream(tmp));
 */
export async function* limitedBody(
  req: IncomingMessage,
  limit: number,
  what = "Request body",
): AsyncGenerator<Buffer> {
  const declared = Number(req.headers["content-length"]);
  const hint = "(the server's --max-object-bytes)";
  if (Number.isFinite(declared) && declared > limit) {
    throw new HttpError(413, `${what} of ${declared} bytes is over the limit of ${limit} bytes ${hint}.`);
  }
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `${what} is over the limit of ${limit} bytes ${hint}.`);
    yield chunk;
  }
}

/** Sends a JSON answer. */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
}

/** Sends bytes. */
export function sendBytes(res: ServerResponse, body: Buffer, status = 200): void {
  res.writeHead(status, { "content-type": "application/octet-stream", "content-length": body.length });
  res.end(body);
}

/** Sends an error as `{ error: { code, message } }`. */
export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = {};
  if (status === 401) headers["www-authenticate"] = 'Bearer realm="mtrack"';
  // The client may still be sending a body we refuse to read: close instead of draining it.
  if (status === 413 || status === 401 || status === 403) headers.connection = "close";
  const body = Buffer.from(JSON.stringify({ error: { code, message } }));
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": body.length });
  res.end(body);
}
