/**
 * How every answer of the UI's JSON API is sent (shared by its route modules).
 */

import type { ServerResponse } from "node:http";

/** Sends a JSON answer with the headers every UI answer carries. */
export function sendUiJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": body.length,
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
  });
  res.end(body);
}
