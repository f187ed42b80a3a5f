/**
 * User and token management of a team server over HTTP (`/api/mtrack/admin/...`), the same operations as
 * `mtrack server user add|list|remove|token --db` over the same PgUsers. Every route needs a token of a
 * user with role admin: read and write tokens get 403, no token 401.
 *
 * - `GET    /api/mtrack/admin/users` → `{users: [{name, role, created}]}`
 * - `POST   /api/mtrack/admin/users` `{name, role}` → `{user}`
 * - `DELETE /api/mtrack/admin/users/<name>` → `{removed: name}` (and the user's tokens)
 * - `GET    /api/mtrack/admin/tokens[?user=NAME]` → `{tokens: [{id, user, name, created, revoked}]}`
 * - `POST   /api/mtrack/admin/tokens` `{user, name?}` → `{token, id, user, name}` (the token shown once)
 * - `DELETE /api/mtrack/admin/tokens/<id>` → `{id, revoked: boolean}`
 */
import type { IncomingMessage } from "node:http";
import { isMtrackError } from "../../errors.js";
import { readBody, sendJson } from "../http-util.js";
import { type Handler, HttpError, Router } from "../router.js";
import { isRetryableDbError } from "./db.js";
import { type PgUsers, ROLES, type Role } from "./users.js";

/** Where the admin routes are served. */
export const ADMIN_PREFIX = "/api/mtrack/admin";

/** A request body is small: a name and a role. */
const BODY_LIMIT = 64 << 10;

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req, BODY_LIMIT);
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "The body is not valid JSON.");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new HttpError(400, "The body must be a JSON object.");
  return value as Record<string, unknown>;
}

function stringOf(body: Record<string, unknown>, field: string, required: true): string;
function stringOf(body: Record<string, unknown>, field: string, required?: false): string | undefined;
function stringOf(body: Record<string, unknown>, field: string, required = false): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) {
    if (required) throw new HttpError(400, `Missing field "${field}".`);
    return undefined;
  }
  if (typeof v !== "string") throw new HttpError(400, `Field "${field}" must be a string.`);
  return v;
}

/** The library's refusals as 400/404, the database restarting as a retryable 503. */
async function mapped<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (isRetryableDbError(e)) throw new HttpError(503, "The database is unavailable; retry.");
    if (isMtrackError(e)) {
      const status = /^no user /.test(e.message) ? 404 : 400;
      throw new HttpError(status, e.message, e.code);
    }
    throw e;
  }
}

/**
 * The admin routes over a database's users (mount them in the server; their access is "admin").
 *
 * @example
 * startServer({ ..., routes: adminApi(new PgUsers(pool)) });
 */
export function adminApi(users: PgUsers): Router {
  const router = new Router();
  const add = (method: string, pattern: string, handler: Handler) =>
    router.add({ method, pattern: ADMIN_PREFIX + pattern, access: "admin", handler });

  add("GET", "/users", async ({ res }) => {
    sendJson(res, 200, { users: await mapped(users.listUsers()) });
  });
  add("POST", "/users", async ({ req, res }) => {
    const body = await jsonBody(req);
    const name = stringOf(body, "name", true);
    const role = stringOf(body, "role", true);
    if (!ROLES.includes(role as Role))
      throw new HttpError(400, `Unknown role "${role}": one of ${ROLES.join(", ")}.`);
    sendJson(res, 200, { user: await mapped(users.addUser(name, role as Role)) });
  });
  add("DELETE", "/users/:name", async ({ res, params }) => {
    const name = params.name ?? "";
    await mapped(users.removeUser(name));
    sendJson(res, 200, { removed: name });
  });
  add("GET", "/tokens", async ({ res, url }) => {
    const user = url.searchParams.get("user") ?? undefined;
    sendJson(res, 200, { tokens: await mapped(users.listTokens(user)) });
  });
  add("POST", "/tokens", async ({ req, res }) => {
    const body = await jsonBody(req);
    const user = stringOf(body, "user", true);
    const { token, record } = await mapped(users.createToken(user, stringOf(body, "name") ?? ""));
    sendJson(res, 200, { token, id: record.id, user: record.user, name: record.name });
  });
  add("DELETE", "/tokens/:id", async ({ res, params }) => {
    const id = params.id ?? "";
    const n = await mapped(users.revokeToken(id));
    if (n === 0) throw new HttpError(404, `No live token ${id}.`, "ERR_MTRACK_PATH_NOT_FOUND");
    sendJson(res, 200, { id, revoked: true });
  });
  for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
    router.add({
      method,
      pattern: `${ADMIN_PREFIX}/*rest`,
      access: "admin",
      handler: async () => {
        throw new HttpError(404, "No such admin endpoint.", "ERR_MTRACK_PATH_NOT_FOUND");
      },
    });
  }
  return router;
}
