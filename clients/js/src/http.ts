// The HTTP half of the protocol: accounts, sessions, user lookup and the
// server's own endpoints (health, readiness, version, server discovery).

import { ParleyError } from "./errors.js";
import type { DeviceSession, Readiness, ServerInfo, Session, UserId, UserInfo, VersionInfo } from "./types.js";

export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<{ status: number; text(): Promise<string> }>;

export interface HttpOptions {
  /** The fetch to use; default: the global one (Node 18+, browsers). */
  fetch?: FetchLike;
  /** A session token to send as `Authorization: Bearer`. */
  token?: string;
  /** Per-request timeout, milliseconds (default 15000). */
  timeoutMs?: number;
}

/** `http://host:port` from `host:port`, `http://host:port/` or `ws://host:port/v1/ws`. */
export function normalizeBaseUrl(server: string): string {
  let url = server.trim();
  if (!/^[a-z]+:\/\//i.test(url)) url = `http://${url}`;
  url = url.replace(/^ws(s?):\/\//i, "http$1://").replace(/\/v1\/ws\/?$/, "");
  return url.replace(/\/+$/, "");
}

/** The WebSocket URL of a server given by its HTTP base URL. */
export function webSocketUrl(server: string): string {
  return `${normalizeBaseUrl(server).replace(/^http/i, "ws")}/v1/ws`;
}

/** Parley's HTTP API. Holds the session token once `logIn` succeeds. */
export class ParleyHttp {
  readonly baseUrl: string;
  token: string | undefined;
  private readonly fetchFn: FetchLike;
  private readonly timeoutMs: number;

  constructor(server: string, options: HttpOptions = {}) {
    this.baseUrl = normalizeBaseUrl(server);
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 15000;
    // Bound: browsers refuse a fetch called with another `this` ("Illegal
    // invocation"), as a field of this object would call it.
    const globalFetch = (globalThis as { fetch?: FetchLike }).fetch?.bind(globalThis);
    const f = options.fetch ?? globalFetch;
    if (f === undefined) throw new Error("no fetch available: pass options.fetch");
    this.fetchFn = f;
  }

  /** POST /v1/users. `conflict` when the name is taken. */
  async signUp(username: string, password: string): Promise<{ user_id: UserId }> {
    return this.call("POST", "/v1/users", { body: { username, password }, expect: 201 });
  }

  /** POST /v1/sessions; keeps the token for later calls. `unauthorized` on a wrong password. */
  async logIn(username: string, password: string, deviceId: string): Promise<Session> {
    const session = await this.call<Session>("POST", "/v1/sessions", {
      body: { username, password, device_id: deviceId },
    });
    this.token = session.token;
    return session;
  }

  /**
   * Forgets the session token, here only: the token still works on the
   * server. `endSession()` logs the device out on the server.
   */
  logOut(): void {
    this.token = undefined;
  }

  /**
   * DELETE /v1/sessions/current: logs this device out on the server (its
   * token is refused from now on, its connections are closed with 4001),
   * then forgets the token.
   */
  async endSession(): Promise<void> {
    await this.call("DELETE", "/v1/sessions/current", { auth: true, expect: 204 });
    this.token = undefined;
  }

  /** GET /v1/sessions: the user's logged-in devices, by device id; `current` marks this one. */
  async sessions(): Promise<DeviceSession[]> {
    return (await this.call<{ devices: DeviceSession[] }>("GET", "/v1/sessions", { auth: true })).devices;
  }

  /**
   * DELETE /v1/sessions/{deviceId}: removes one of the user's devices (its
   * sessions, cursor and push registration; its connections are closed).
   * `not_found` for a device with no session.
   */
  async removeDevice(deviceId: string): Promise<void> {
    await this.call("DELETE", `/v1/sessions/${encodeURIComponent(deviceId)}`, { auth: true, expect: 204 });
  }

  /**
   * POST /v1/users/me/password: changes the password and ends every other
   * session of the user (this one stays). `forbidden` on a wrong old
   * password, `bad_request` on a new one outside the sign-up rules.
   */
  async changePassword(oldPassword: string, newPassword: string): Promise<void> {
    await this.call("POST", "/v1/users/me/password", {
      auth: true,
      body: { old_password: oldPassword, new_password: newPassword },
      expect: 204,
    });
  }

  /** GET /v1/users/by-name/{username} (needs a token). `not_found` for no such user. */
  async userByName(username: string): Promise<UserInfo> {
    return this.call("GET", `/v1/users/by-name/${encodeURIComponent(username)}`, { auth: true });
  }

  /** GET /v1/healthz: true while the server is serving. */
  async healthy(): Promise<boolean> {
    try {
      const res = await this.raw("GET", "/v1/healthz");
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** GET /v1/readyz: `{ready: true}`, or `{ready: false, reasons}` (a 503 is not an error here). */
  async readiness(): Promise<Readiness> {
    const res = await this.raw("GET", "/v1/readyz");
    if (res.status !== 200 && res.status !== 503) throw errorOf(res.status, res.body, "GET /v1/readyz");
    return res.body as Readiness;
  }

  /** GET /v1/version. */
  async version(): Promise<VersionInfo> {
    return this.call("GET", "/v1/version");
  }

  /** GET /v1/connect: the least loaded live server; `unavailable` when none is registered. */
  async pickServer(): Promise<ServerInfo> {
    return this.call("GET", "/v1/connect");
  }

  /** GET /v1/servers: every live server. */
  async servers(): Promise<ServerInfo[]> {
    return (await this.call<{ servers: ServerInfo[] }>("GET", "/v1/servers")).servers;
  }

  private async call<T>(
    method: string,
    path: string,
    opts: { body?: unknown; auth?: boolean; expect?: number } = {},
  ): Promise<T> {
    const res = await this.raw(method, path, opts.body, opts.auth);
    if (res.status !== (opts.expect ?? 200)) throw errorOf(res.status, res.body, `${method} ${path}`);
    return res.body as T;
  }

  private async raw(
    method: string,
    path: string,
    body?: unknown,
    auth = false,
  ): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth) {
      if (this.token === undefined) throw new ParleyError("unauthorized", "not logged in: no session token");
      headers["Authorization"] = `Bearer ${this.token}`;
    }
    const signal = AbortSignal.timeout(this.timeoutMs);
    const init = { method, headers, signal, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) };
    const res = await this.fetchFn(this.baseUrl + path, init);
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.status, body: parsed };
  }
}

function errorOf(status: number, body: unknown, what: string): ParleyError {
  if (typeof body === "object" && body !== null && "code" in body) return ParleyError.from(body, { status });
  const code = status === 401 ? "unauthorized" : status === 404 ? "not_found" : status >= 500 ? "unavailable" : "bad_request";
  return new ParleyError(code, `${what}: HTTP ${status} ${typeof body === "string" ? body : ""}`.trim(), { status });
}
