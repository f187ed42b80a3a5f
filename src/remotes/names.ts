/**
 * Names that cross the wire: object ids and ref names. Everything a remote or the server receives is
 * checked here before it becomes part of a path or key, so `../` can never escape the store.
 */
import { MtrackError } from "../errors.js";
import { isHash } from "../store/hash.js";
import type { Hash } from "../store/types.js";

/**
 * The kinds of refs that travel (one folder each on the remote). `annotations/<runId>.<id>` holds one
 * annotation of a sealed run (tags and inputs added after it ended, src/tracking/annotations.ts);
 * `registry/<eventId>` one model registry event (src/registry/registry.ts, src/transfer/registry.ts).
 */
export const REF_KINDS = ["runs", "runcache", "annotations", "registry"] as const;
export type RefKind = (typeof REF_KINDS)[number];

const REF_ID = /^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$/;

/** True for `<kind>/<id>` with a known kind and an id of safe characters (no slash, no leading dot). */
export function isRefName(name: string): boolean {
  const slash = name.indexOf("/");
  if (slash < 0) return false;
  const kind = name.slice(0, slash);
  const id = name.slice(slash + 1);
  return (REF_KINDS as readonly string[]).includes(kind) && REF_ID.test(id) && !id.includes("..");
}

/** True for a known ref kind. */
export function isRefKind(kind: string): kind is RefKind {
  return (REF_KINDS as readonly string[]).includes(kind);
}

/**
 * Throws ERR_MTRACK_INVALID_NAME unless `name` is a valid ref name.
 *
 * @example
 * checkRefName("runs/0f3a..."); // ok
 * checkRefName("runs/../../etc"); // throws
 */
export function checkRefName(name: string): string {
  if (!isRefName(name)) {
    throw new MtrackError("ERR_MTRACK_INVALID_NAME", `Invalid ref name ${JSON.stringify(name)}.`, {
      hint: `Ref names are <kind>/<id> with kind one of ${REF_KINDS.join(", ")} and an id of letters, digits, '.', '_' or '-'.`,
      data: { name },
    });
  }
  return name;
}

/** Throws ERR_MTRACK_INVALID_NAME unless `hash` is a well-formed object id. */
export function checkHash(value: string): Hash {
  const hash = String(value);
  if (!isHash(value)) {
    throw new MtrackError(
      "ERR_MTRACK_INVALID_NAME",
      `Invalid object id ${JSON.stringify(hash.slice(0, 80))}.`,
      {
        hint: "Object ids are 64 lowercase hex characters.",
        data: { hash: hash.slice(0, 80) },
      },
    );
  }
  return hash;
}
