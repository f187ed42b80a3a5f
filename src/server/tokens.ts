/**
 * Bearer tokens of `mtrack server`, kept in a server-side JSON file as SHA-256 hashes only: reading the
 * file does not reveal a usable token. A token is shown once, when created.
 */
import * as crypto from "node:crypto";
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { MtrackError } from "../errors.js";
import { type FsLike, writeFileAtomic } from "../util/fs.js";

/** What a token may do. */
export type TokenScope = "read" | "write";

/** One stored token (never the token itself). */
export interface TokenRecord {
  id: string;
  name: string;
  scope: TokenScope;
  sha256: string;
  created: string;
}

interface TokenFile {
  version: 1;
  tokens: TokenRecord[];
}

function sha256(token: string): string {
  return crypto.createHash("sha256").update(token).digest("hex");
}

function load(file: string, fs: FsLike): TokenFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return { version: 1, tokens: [] };
  }
  try {
    const parsed = JSON.parse(text) as TokenFile;
    if (!Array.isArray(parsed.tokens)) throw new Error("no tokens array");
    return parsed;
  } catch (err) {
    throw new MtrackError("ERR_MTRACK_CONFIG_INVALID", `Token file ${file} is damaged.`, {
      hint: "Delete it and create tokens again with `mtrack server token create`.",
      data: { file },
      cause: err,
    });
  }
}

/**
 * Creates a token and stores its hash. Returns the token (shown once) and its record.
 *
 * @example
 * const { token } = createToken("/srv/store/tokens.json", { name: "ci", scope: "write" });
 */
export function createToken(
  file: string,
  options: { name: string; scope?: TokenScope; fs?: FsLike; clock?: () => number },
): { token: string; record: TokenRecord } {
  const fs = options.fs ?? nodeFs;
  const data = load(file, fs);
  const id = crypto.randomBytes(4).toString("hex");
  const token = `mtk_${id}_${crypto.randomBytes(24).toString("base64url")}`;
  const record: TokenRecord = {
    id,
    name: options.name,
    scope: options.scope ?? "write",
    sha256: sha256(token),
    created: new Date((options.clock ?? Date.now)()).toISOString(),
  };
  data.tokens.push(record);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, `${JSON.stringify(data, null, 2)}\n`, { fs, mode: 0o600 });
  return { token, record };
}

/** Removes tokens by id or name; returns how many were removed. */
export function revokeToken(file: string, idOrName: string, options: { fs?: FsLike } = {}): number {
  const fs = options.fs ?? nodeFs;
  const data = load(file, fs);
  const kept = data.tokens.filter((t) => t.id !== idOrName && t.name !== idOrName);
  const removed = data.tokens.length - kept.length;
  if (removed === 0) {
    throw new MtrackError(
      "ERR_MTRACK_INVALID_ARGUMENT",
      `No token with id or name ${JSON.stringify(idOrName)}.`,
      {
        hint: "List them with `mtrack server token list`.",
        data: { token: idOrName },
      },
    );
  }
  writeFileAtomic(file, `${JSON.stringify({ ...data, tokens: kept }, null, 2)}\n`, { fs, mode: 0o600 });
  return removed;
}

/** The stored tokens (hashes only). */
export function listTokens(file: string, options: { fs?: FsLike } = {}): TokenRecord[] {
  return load(file, options.fs ?? nodeFs).tokens;
}

/**
 * Checks a presented token against the file (reread on every call so revocation is immediate; the file
 * is tiny). Returns the scope it grants, or undefined.
 */
export function checkToken(
  file: string,
  token: string,
  options: { fs?: FsLike } = {},
): TokenScope | undefined {
  return findToken(file, token, options)?.scope;
}

/**
 * The record of a presented token (its name says who is calling), or undefined.
 *
 * @example
 * findToken(tokensFile, "mtk_...")?.name; // "trainer"
 */
export function findToken(
  file: string,
  token: string,
  options: { fs?: FsLike } = {},
): TokenRecord | undefined {
  const want = Buffer.from(sha256(token), "hex");
  for (const t of load(file, options.fs ?? nodeFs).tokens) {
    const have = Buffer.from(t.sha256, "hex");
    if (have.length === want.length && crypto.timingSafeEqual(have, want)) return t;
  }
  return undefined;
}
