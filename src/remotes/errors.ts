/**
 * The failures every backend reports the same way. Each error carries `data.reason` ("auth",
 * "unreachable", "not-found", "protocol", "corrupt") so callers and tests can tell them apart without
 * reading messages.
 */
import { type ErrorCode, MtrackError } from "../errors.js";

/** Why a remote operation failed. */
export type RemoteFailure = "auth" | "unreachable" | "not-found" | "protocol" | "rejected";

const CODES: Record<RemoteFailure, ErrorCode> = {
  auth: "ERR_MTRACK_REMOTE_AUTH",
  unreachable: "ERR_MTRACK_REMOTE_UNREACHABLE",
  "not-found": "ERR_MTRACK_REMOTE_NOT_FOUND",
  protocol: "ERR_MTRACK_IO",
  rejected: "ERR_MTRACK_INVALID_ARGUMENT",
};

const HINTS: Record<RemoteFailure, string> = {
  auth: "Check the credentials: for `mtrack server` set `remote.<name>.token` in config.local.yaml (or MTRACK_REMOTE_TOKEN); for S3 the AWS credential chain or `remote.<name>.profile`.",
  unreachable:
    "Check the remote's url/endpoint (`mtrack remote list`) and that the server is running; rerun the command to resume.",
  "not-found": "Check the remote's url (`mtrack remote list`): the bucket or directory must exist.",
  protocol: "The remote answered something unexpected; rerun the command (it resumes where it stopped).",
  rejected: "The remote refused the request; see the message.",
};

/**
 * Builds the error for a failed remote operation.
 *
 * @example
 * throw remoteError("auth", "s3://bucket/x refused the credentials (403).", { url, status: 403 });
 */
export function remoteError(
  reason: RemoteFailure,
  message: string,
  data: Record<string, unknown> = {},
  cause?: unknown,
): MtrackError {
  return new MtrackError(CODES[reason], message, { hint: HINTS[reason], data: { reason, ...data }, cause });
}

/** True for errors worth retrying: dropped connections, timeouts, 5xx and 429 answers. */
export function isTransient(err: unknown): boolean {
  if (err instanceof MtrackError) return err.data.transient === true;
  const e = err as { code?: unknown; name?: unknown; $metadata?: { httpStatusCode?: number } } | null;
  const status = e?.$metadata?.httpStatusCode;
  if (typeof status === "number") return status >= 500 || status === 429;
  const code = typeof e?.code === "string" ? e.code : "";
  return [
    "ECONNRESET",
    "ECONNREFUSED",
    "EPIPE",
    "ETIMEDOUT",
    "ECONNABORTED",
    "EAI_AGAIN",
    "UND_ERR_SOCKET",
  ].includes(code);
}

/** How withRetry backs off. */
export interface RetryOptions {
  /** Attempts in total (default 5). */
  attempts?: number;
  /** First delay in ms; doubled each time, with jitter (default 100). */
  baseMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Runs `fn`, retrying transient failures with exponential backoff. The last error is rethrown.
 *
 * @example
 * const data = await withRetry(() => remote.readRef("runs/abc"));
 */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const baseMs = options.baseMs ?? 100;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !isTransient(err)) throw err;
      await sleep(baseMs * 2 ** (i - 1) * (0.5 + Math.random()));
    }
  }
}
