/**
 * The closed set of errors the API returns, each with exactly one HTTP status. Handlers throw
 * `ApiError`; one middleware renders it as RFC 9457 problem+json.
 */
export const apiErrorStatus = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ApiErrorCode = keyof typeof apiErrorStatus;

/** The problem+json `title` of each code. */
export const apiErrorTitles: Record<ApiErrorCode, string> = {
  invalid_request: 'Invalid request',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  conflict: 'Conflict',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  rate_limited: 'Too many requests',
  internal: 'Internal error',
  unavailable: 'Service unavailable',
};

/** One offending field: `path` is dotted (`input.text`, `metadata.team`). */
export interface FieldError {
  path: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly fieldErrors: FieldError[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = apiErrorStatus[code];
  }
}

/**
 * Why a job failed, as stored on the job (`error.code`). `retryable` errors send the job back to
 * the queue while attempts remain.
 */
export const jobErrorCodes = [
  'upstream_error',
  'upstream_timeout',
  'upstream_rate_limited',
  'upstream_rejected',
  'model_error',
  'attempts_exhausted',
  'timeout',
] as const;
export type JobErrorCode = (typeof jobErrorCodes)[number];

export class JobError extends Error {
  constructor(
    readonly code: JobErrorCode,
    message: string,
    readonly retryable: boolean,
    /** When the upstream said how long to wait (Retry-After). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'JobError';
  }
}
