/**
 * Typed errors with stable codes. The CLI maps them to exit codes and prints `hint` under the message;
 * tests assert on `code`, never on message text.
 *
 * @example
 * throw new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", "data/x does not exist", { hint: "Check the path." });
 */

/** Every stable error code the library throws. Add new codes here; never rename one. */
export const ERROR_CODES = [
  "ERR_MTRACK_NOT_A_GIT_REPO",
  "ERR_MTRACK_NOT_INITIALIZED",
  "ERR_MTRACK_ALREADY_INITIALIZED",
  "ERR_MTRACK_PATH_NOT_FOUND",
  "ERR_MTRACK_PATH_OUTSIDE_REPO",
  "ERR_MTRACK_PATH_RESERVED",
  "ERR_MTRACK_PATH_IGNORED",
  "ERR_MTRACK_TRACKED_BY_GIT",
  "ERR_MTRACK_SYMLINK_OUTSIDE_REPO",
  "ERR_MTRACK_NOT_TRACKED",
  "ERR_MTRACK_OVERLAPPING_TARGETS",
  "ERR_MTRACK_POINTER_INVALID",
  "ERR_MTRACK_MANIFEST_INVALID",
  "ERR_MTRACK_OBJECT_MISSING",
  "ERR_MTRACK_OBJECT_CORRUPT",
  "ERR_MTRACK_FILE_CHANGED",
  "ERR_MTRACK_WOULD_OVERWRITE",
  "ERR_MTRACK_LOCKED",
  "ERR_MTRACK_NO_SPACE",
  "ERR_MTRACK_IO",
  "ERR_MTRACK_CONFIG_INVALID",
  "ERR_MTRACK_CONFIG_KEY_UNKNOWN",
  "ERR_MTRACK_GIT_REV_NOT_FOUND",
  "ERR_MTRACK_GIT",
  "ERR_MTRACK_INVALID_ARGUMENT",
  "ERR_MTRACK_PIPELINE_INVALID",
  "ERR_MTRACK_PARAMS_INVALID",
  "ERR_MTRACK_STAGE_FAILED",
  "ERR_MTRACK_INTERRUPTED",
  "ERR_MTRACK_RUN_NOT_FOUND",
  "ERR_MTRACK_RUN_AMBIGUOUS",
  "ERR_MTRACK_PARAM_IMMUTABLE",
  "ERR_MTRACK_INVALID_NAME",
  "ERR_MTRACK_SEARCH_SYNTAX",
  "ERR_MTRACK_RUN_NOT_ACTIVE",
  "ERR_MTRACK_DATASET_INVALID",
  "ERR_MTRACK_FORMAT_INVALID",
  "ERR_MTRACK_PIPELINE_CYCLE",
  "ERR_MTRACK_PIPELINE_DUPLICATE_OUTPUT",
  "ERR_MTRACK_PIPELINE_OVERLAPPING_OUTPUT",
  "ERR_MTRACK_PIPELINE_MISSING_DEP",
  "ERR_MTRACK_PARAM_MISSING",
  "ERR_MTRACK_INTERPOLATION",
  "ERR_MTRACK_STAGE_NOT_FOUND",
  "ERR_MTRACK_LOCKFILE_INVALID",
  "ERR_MTRACK_EXP_PARAM_UNKNOWN",
  "ERR_MTRACK_EXP_SET_INVALID",
  "ERR_MTRACK_EXP_EXISTS",
  "ERR_MTRACK_EXP_NOT_FOUND",
  "ERR_MTRACK_EXP_DIRTY_WORKSPACE",
  "ERR_MTRACK_EXP_NO_BASELINE",
  "ERR_MTRACK_EXP_GIT_REMOTE_INVALID",
  "ERR_MTRACK_EXP_QUEUE_BUSY",
  "ERR_MTRACK_EXP_NOT_RUNNING",
  "ERR_MTRACK_EXP_RUNNING",
  "ERR_MTRACK_EXPERIMENT_NOT_FOUND",
  "ERR_MTRACK_EXPERIMENT_EXISTS",
  "ERR_MTRACK_EXPERIMENT_NOT_ACTIVE",
  "ERR_MTRACK_TAG_NOT_FOUND",
  "ERR_MTRACK_ARTIFACT_NOT_FOUND",
  "ERR_MTRACK_RUN_LOG_CORRUPT",
  "ERR_MTRACK_REMOTE_AUTH",
  "ERR_MTRACK_REMOTE_UNREACHABLE",
  "ERR_MTRACK_REMOTE_NOT_FOUND",
  "ERR_MTRACK_SOURCE_INVALID",
  "ERR_MTRACK_SOURCE_NO_REMOTE",
  "ERR_MTRACK_NOT_AN_IMPORT",
  "ERR_MTRACK_URL_INVALID",
  "ERR_MTRACK_URL_NOT_FOUND",
  "ERR_MTRACK_URL_UNREACHABLE",
  "ERR_MTRACK_URL_CHANGED",
  "ERR_MTRACK_GIT_REV_AMBIGUOUS",
  "ERR_MTRACK_GC_UNSAFE",
  "ERR_MTRACK_MODEL_NOT_FOUND",
  "ERR_MTRACK_MODEL_EXISTS",
  "ERR_MTRACK_MODEL_URI_INVALID",
  "ERR_MTRACK_MODEL_SOURCE_NOT_FOUND",
  "ERR_MTRACK_NOT_A_MODEL",
  "ERR_MTRACK_SCORING_INPUT_INVALID",
  "ERR_MTRACK_SCORING_CONTENT_TYPE",
  "ERR_MTRACK_SCORING_BODY_TOO_LARGE",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface MtrackErrorOptions {
  /** What the user can do about it, printed under the message. */
  hint?: string;
  /** Machine-readable details (paths, hashes, line numbers), included in `--json` output. */
  data?: Record<string, unknown>;
  cause?: unknown;
  /** Process exit code the CLI uses; default 2 (1 is reserved for "changes found" answers like status). */
  exitCode?: number;
}

export class MtrackError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown>;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options: MtrackErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MtrackError";
    this.code = code;
    this.hint = options.hint;
    this.data = options.data ?? {};
    this.exitCode = options.exitCode ?? 2;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, data: this.data };
  }
}

/** True when `err` is an MtrackError, optionally with the given code. */
export function isMtrackError(err: unknown, code?: ErrorCode): err is MtrackError {
  return err instanceof MtrackError && (code === undefined || err.code === code);
}

/** The errno code of a Node.js system error (`ENOENT`, `ENOSPC`, ...), or undefined. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/**
 * Wraps a low-level I/O failure in an MtrackError that says what was being done; ENOSPC gets its own code.
 *
 * @example
 * try { fs.writeFileSync(p, data) } catch (e) { throw ioError(e, `writing ${p}`) }
 */
export function ioError(err: unknown, doing: string): MtrackError {
  if (err instanceof MtrackError) return err;
  const errno = errnoCode(err);
  if (errno === "ENOSPC" || errno === "EDQUOT") {
    return new MtrackError("ERR_MTRACK_NO_SPACE", `No space left on device while ${doing}.`, {
      hint: "Free disk space (e.g. `mtrack gc`) and run the command again; nothing partial was kept.",
      cause: err,
      data: { errno },
    });
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new MtrackError("ERR_MTRACK_IO", `I/O error while ${doing}: ${msg}`, {
    cause: err,
    data: { errno },
  });
}
