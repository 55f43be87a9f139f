// Errors as typed exceptions. Every failure the server reports carries one
// of the protocol's error codes (PROTOCOL.md, "Conventions").

/** The protocol's error codes. */
export const ERROR_CODES = [
  "bad_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "too_large",
  "rate_limited",
  "unavailable",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The `error` object of a failed reply, an `error` event or an HTTP answer. */
export interface ProtocolError {
  code: ErrorCode;
  message: string;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}

/** Codes worth retrying: the request was not accepted, or may not have been. */
export function isRetryable(code: ErrorCode): boolean {
  return code === "unavailable" || code === "rate_limited" || code === "internal";
}

/**
 * The server answered with an error. `code` is the protocol's code; `status`
 * is the HTTP status for HTTP answers and refused WebSocket upgrades; `op` is
 * the WebSocket request that failed.
 */
export class ParleyError extends Error {
  override readonly name = "ParleyError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { status?: number; op?: string } = {},
  ) {
    super(message);
  }

  get status(): number | undefined {
    return this.details.status;
  }

  get op(): string | undefined {
    return this.details.op;
  }

  /** Builds one from a wire `error` object, tolerating a malformed one. */
  static from(error: unknown, details: { status?: number; op?: string } = {}): ParleyError {
    const e = (typeof error === "object" && error !== null ? error : {}) as Record<string, unknown>;
    const code = isErrorCode(e.code) ? e.code : "internal";
    const message = typeof e.message === "string" ? e.message : `malformed error: ${JSON.stringify(error)}`;
    return new ParleyError(code, message, details);
  }
}

/** The connection closed (or the client was closed) before a reply came. */
export class ConnectionClosedError extends Error {
  override readonly name = "ConnectionClosedError";
}

/** No reply (or event) within the time allowed. */
export class TimeoutError extends Error {
  override readonly name = "TimeoutError";
}
