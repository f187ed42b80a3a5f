/**
 * Errors of the MLflow-compatible API, in MLflow's own shape: a body `{"error_code", "message"}` and the
 * HTTP status MLflow's client expects for that code. The client retries 5xx answers, so everything a
 * caller can fix (validation, unknown ids, limits) must map to a 4xx here.
 */
import type { ServerResponse } from "node:http";
import { isMtrackError } from "../../errors.js";
import { HttpError } from "../router.js";

/** The MLflow error codes this API answers with, and their HTTP status (MLflow's ERROR_CODE_TO_HTTP_STATUS). */
export const MLFLOW_ERROR_STATUS = {
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  INTERNAL_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  /** A backend that may recover (the database restarting): the client retries 503. */
  TEMPORARILY_UNAVAILABLE: 503,
} as const;

/** One of the MLflow error codes above. */
export type MlflowErrorCode = keyof typeof MLFLOW_ERROR_STATUS;

/**
 * An error answered in MLflow's format. Thrown by the request mapping; `status` follows from the code.
 *
 * @example
 * throw new MlflowApiError("RESOURCE_DOES_NOT_EXIST", `Run '${runId}' not found`);
 */
export class MlflowApiError extends Error {
  readonly status: number;
  constructor(
    readonly errorCode: MlflowErrorCode,
    message: string,
  ) {
    super(message);
    this.status = MLFLOW_ERROR_STATUS[errorCode];
  }
}

/** Shorthand for the most common error: a request field is missing or has a bad value. */
export function invalidParam(message: string): MlflowApiError {
  return new MlflowApiError("INVALID_PARAMETER_VALUE", message);
}

/** Library error codes → MLflow codes; anything not listed is an INTERNAL_ERROR (a server-side fault). */
const FROM_MTRACK: Record<string, MlflowErrorCode> = {
  ERR_MTRACK_RUN_NOT_FOUND: "RESOURCE_DOES_NOT_EXIST",
  ERR_MTRACK_EXPERIMENT_NOT_FOUND: "RESOURCE_DOES_NOT_EXIST",
  ERR_MTRACK_ARTIFACT_NOT_FOUND: "RESOURCE_DOES_NOT_EXIST",
  ERR_MTRACK_PATH_NOT_FOUND: "RESOURCE_DOES_NOT_EXIST",
  ERR_MTRACK_RUN_AMBIGUOUS: "INVALID_PARAMETER_VALUE",
  ERR_MTRACK_PARAM_IMMUTABLE: "INVALID_PARAMETER_VALUE",
  ERR_MTRACK_INVALID_ARGUMENT: "INVALID_PARAMETER_VALUE",
  ERR_MTRACK_INVALID_NAME: "INVALID_PARAMETER_VALUE",
  ERR_MTRACK_SEARCH_SYNTAX: "INVALID_PARAMETER_VALUE",
  ERR_MTRACK_RUN_NOT_ACTIVE: "INVALID_PARAMETER_VALUE",
  ERR_MTRACK_FORMAT_INVALID: "INVALID_PARAMETER_VALUE",
  ERR_MTRACK_EXPERIMENT_EXISTS: "RESOURCE_ALREADY_EXISTS",
  ERR_MTRACK_EXPERIMENT_NOT_ACTIVE: "INVALID_PARAMETER_VALUE",
  ERR_MTRACK_TAG_NOT_FOUND: "RESOURCE_DOES_NOT_EXIST",
  ERR_MTRACK_MODEL_NOT_FOUND: "RESOURCE_DOES_NOT_EXIST",
  ERR_MTRACK_MODEL_EXISTS: "RESOURCE_ALREADY_EXISTS",
  ERR_MTRACK_MODEL_URI_INVALID: "INVALID_PARAMETER_VALUE",
  ERR_MTRACK_MODEL_SOURCE_NOT_FOUND: "INVALID_PARAMETER_VALUE",
  ERR_MTRACK_NOT_A_MODEL: "INVALID_PARAMETER_VALUE",
};

/** HTTP statuses raised by the shared server layer (auth, routing, body limits) → MLflow codes. */
const FROM_STATUS: Record<number, MlflowErrorCode> = {
  400: "BAD_REQUEST",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "ENDPOINT_NOT_FOUND",
  405: "ENDPOINT_NOT_FOUND",
  413: "INVALID_PARAMETER_VALUE",
  503: "TEMPORARILY_UNAVAILABLE",
};

/**
 * Any thrown value as an MLflow error answer. Pure, so the mapping is unit-tested without sockets.
 *
 * @example
 * toMlflowError(new HttpError(401, "A valid bearer token is required."));
 * // { status: 401, body: { error_code: "UNAUTHENTICATED", message: "A valid bearer token is required." } }
 */
export function toMlflowError(err: unknown): {
  status: number;
  body: { error_code: MlflowErrorCode; message: string };
} {
  if (err instanceof MlflowApiError) {
    return { status: err.status, body: { error_code: err.errorCode, message: err.message } };
  }
  if (err instanceof HttpError) {
    const code = FROM_STATUS[err.status] ?? (err.status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST");
    // Keep the shared layer's status (413 stays 413), the body says what it means in MLflow's terms.
    return { status: err.status, body: { error_code: code, message: err.message } };
  }
  if (isMtrackError(err)) {
    const code = FROM_MTRACK[err.code] ?? "INTERNAL_ERROR";
    const hint = err.hint ? ` ${err.hint}` : "";
    return {
      status: MLFLOW_ERROR_STATUS[code],
      body: { error_code: code, message: `${err.message}${hint}` },
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, body: { error_code: "INTERNAL_ERROR", message } };
}

/** True for the paths the MLflow API owns, whose errors must use MLflow's body. */
export function isMlflowPath(pathname: string): boolean {
  return (
    pathname.startsWith("/api/2.0/mlflow") ||
    pathname.startsWith("/ajax-api/2.0/mlflow") ||
    pathname.startsWith("/api/2.0/mlflow-artifacts")
  );
}

/**
 * Sends an error in MLflow's body shape. A refused request may still be sending its body, so auth and
 * size refusals close the connection rather than drain it (as the store API does).
 */
export function sendMlflowError(
  res: ServerResponse,
  status: number,
  body: { error_code: string; message: string },
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string | number> = { "content-type": "application/json" };
  if (status === 401) headers["www-authenticate"] = 'Bearer realm="mtrack"';
  if (status === 413 || status === 401 || status === 403) headers.connection = "close";
  const bytes = Buffer.from(JSON.stringify(body));
  headers["content-length"] = bytes.length;
  res.writeHead(status, headers);
  res.end(bytes);
}
