// What survives a reload: the session (token, user, device) and this
// browser's device id, in localStorage. The token is the only secret kept;
// logging out forgets it.

import { randomId, type Session } from "@parley/client";

const SESSION_KEY = "parley.session";
const DEVICE_KEY = "parley.device";

export interface StoredSession extends Session {
  username: string;
}

export function loadSession(): StoredSession | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Partial<StoredSession>;
    if (typeof s.token !== "string" || typeof s.user_id !== "string" || typeof s.username !== "string") return null;
    return { token: s.token, user_id: s.user_id, device_id: String(s.device_id ?? ""), username: s.username };
  } catch {
    return null;
  }
}

export function saveSession(s: StoredSession): void {
  localStorage.setItem(SESSION_KEY, JSON.stringify(s));
}

export function clearSession(): void {
  localStorage.removeItem(SESSION_KEY);
}

/**
 * This browser's device id: one per browser profile, kept across logins, so
 * that the server's cursor for it (what this device has seen) carries over a
 * reload. Not crypto.randomUUID: browsers only have it on https pages.
 */
export function deviceId(): string {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id) {
    id = `web-${randomId(12)}`;
    localStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}
