/**
 * Users, roles and tokens of a team server in PostgreSQL (tables `users`, `tokens`). A token belongs to a
 * user and grants that user's role; only its SHA-256 hash is stored (the same `mtk_<id>_<secret>` tokens
 * and hash as the file store's tokens.ts), and a revoked token stays listed with its revocation time.
 */
import crypto from "node:crypto";
import type pg from "pg";
import { MtrackError } from "../../errors.js";

export type Role = "read" | "write" | "admin";
export const ROLES: readonly Role[] = ["read", "write", "admin"];

export interface PgUser {
  name: string;
  role: Role;
  created: number;
}

export interface PgToken {
  id: string;
  user: string;
  name: string;
  created: number;
  revoked: number | null;
}

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;

function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token).digest("hex");
}

export class PgUsers {
  constructor(private readonly pool: pg.Pool) {}

  async addUser(name: string, role: Role, now = Date.now()): Promise<PgUser> {
    if (!USER_NAME.test(name)) {
      throw new MtrackError("ERR_MTRACK_INVALID_NAME", `"${name}" is not a valid user name`, {
        hint: "Use letters, digits and . _ @ - (up to 100 characters).",
      });
    }
    if (!ROLES.includes(role)) {
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `unknown role "${role}"`, {
        hint: `One of ${ROLES.join(", ")}.`,
      });
    }
    const r = await this.pool.query(
      "INSERT INTO users (name, role, created) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING name",
      [name, role, now],
    );
    if (r.rowCount === 0)
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `user "${name}" already exists`);
    return { name, role, created: now };
  }

  async listUsers(): Promise<PgUser[]> {
    const r = await this.pool.query("SELECT name, role, created FROM users ORDER BY name");
    return r.rows.map((u) => ({ name: u.name, role: u.role, created: Number(u.created) }));
  }

  /** Removes the user and their tokens. */
  async removeUser(name: string): Promise<void> {
    const r = await this.pool.query("DELETE FROM users WHERE name = $1", [name]);
    if (r.rowCount === 0) throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `no user "${name}"`);
  }

  /** A new token for `user` (returned once; only its hash is stored). */
  async createToken(user: string, name = "", now = Date.now()): Promise<{ token: string; record: PgToken }> {
    const id = crypto.randomBytes(4).toString("hex");
    const token = `mtk_${id}_${crypto.randomBytes(24).toString("base64url")}`;
    try {
      await this.pool.query(
        "INSERT INTO tokens (id, user_name, name, hash, created) VALUES ($1, $2, $3, $4, $5)",
        [id, user, name, hashToken(token), now],
      );
    } catch (e) {
      if ((e as { code?: string }).code === "23503") {
        throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `no user "${user}"`, {
          hint: "Add it first: `mtrack server user add NAME --role read|write|admin --db URL`.",
        });
      }
      throw e;
    }
    return { token, record: { id, user, name, created: now, revoked: null } };
  }

  async listTokens(user?: string): Promise<PgToken[]> {
    const r = await this.pool.query(
      "SELECT id, user_name, name, created, revoked FROM tokens WHERE $1::text IS NULL OR user_name = $1 ORDER BY created, id",
      [user ?? null],
    );
    return r.rows.map((t) => ({
      id: t.id,
      user: t.user_name,
      name: t.name,
      created: Number(t.created),
      revoked: t.revoked === null ? null : Number(t.revoked),
    }));
  }

  /** Revokes by token id (of `user` when given); returns how many were revoked (0 when none was live). */
  async revokeToken(id: string, user?: string, now = Date.now()): Promise<number> {
    const r = await this.pool.query(
      "UPDATE tokens SET revoked = $2 WHERE id = $1 AND revoked IS NULL AND ($3::text IS NULL OR user_name = $3)",
      [id, now, user ?? null],
    );
    return r.rowCount ?? 0;
  }

  /** The user and role a live token grants, or undefined. */
  async checkToken(token: string): Promise<{ user: string; role: Role } | undefined> {
    const r = await this.pool.query(
      "SELECT u.name, u.role FROM tokens t JOIN users u ON u.name = t.user_name WHERE t.hash = $1 AND t.revoked IS NULL",
      [hashToken(token)],
    );
    return r.rows[0] ? { user: r.rows[0].name, role: r.rows[0].role } : undefined;
  }
}
