// The WebSocket the client runs on: the global one where there is one
// (browsers, Node 22+), else the `ws` package (Node 18 and 20).

/** What the client needs of a WebSocket; the browser's and `ws`'s both fit. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** Opens a socket to `url` authenticated by `token`. */
export type SocketFactory = (url: string, token: string) => SocketLike | Promise<SocketLike>;

type WebSocketCtor = new (url: string, protocols?: string | string[]) => SocketLike;

/**
 * The default factory. A browser cannot set headers on a WebSocket, so there
 * the token goes in `?token=`; with `ws` it goes in the Authorization header,
 * which keeps it out of URLs (and access logs).
 */
export const defaultSocketFactory: SocketFactory = async (url, token) => {
  const Global = (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  if (Global !== undefined) {
    const sep = url.includes("?") ? "&" : "?";
    return new Global(`${url}${sep}token=${encodeURIComponent(token)}`);
  }
  const ws = await import("ws");
  const socket = new ws.WebSocket(url, {
    headers: { Authorization: `Bearer ${token}` },
    perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024,
  });
  return socket as unknown as SocketLike;
};

/** The HTTP status of a refused upgrade, when the socket's error tells it (`ws` does). */
export function refusedStatus(ev: unknown): number | undefined {
  const message = (ev as { message?: unknown; error?: { message?: unknown } } | null)?.message ??
    (ev as { error?: { message?: unknown } } | null)?.error?.message;
  if (typeof message !== "string") return undefined;
  const m = /Unexpected server response: (\d{3})/.exec(message);
  return m ? Number(m[1]) : undefined;
}
