// Errors in words a user can act on.

import { ConnectionClosedError, ParleyError, TimeoutError } from "@parley/client";

const BY_CODE: Record<string, string> = {
  unauthorized: "Wrong username or password.",
  forbidden: "You are not allowed to do that here.",
  not_found: "Not found.",
  conflict: "That already exists or conflicts with something.",
  rate_limited: "Slow down a little, then try again.",
  too_large: "That is too long.",
  unavailable: "The server is busy or restarting; try again in a moment.",
  internal: "The server hit an error. Try again.",
};

export function describeError(e: unknown): string {
  if (e instanceof ParleyError) {
    // The server's own message is specific ("username is taken", "the group is
    // full: …"): prefer it, with the general sense as a fallback.
    const general = BY_CODE[e.code] ?? "Something went wrong.";
    if (e.code === "unauthorized" && e.status !== undefined) return general;
    return e.message && !/^HTTP \d+/.test(e.message) ? capitalise(e.message) : general;
  }
  if (e instanceof TimeoutError) return "The server did not answer in time. Check your connection.";
  if (e instanceof ConnectionClosedError) return "Not connected: it will be sent once the connection is back.";
  if (e instanceof TypeError && /fetch/i.test(e.message)) return "Cannot reach the server. Check your connection.";
  if (e instanceof Error) return e.message;
  return String(e);
}

function capitalise(s: string): string {
  const t = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(t) ? t : `${t}.`;
}
