// Helpers for the protocol's ids. Ids are decimal strings of 64-bit numbers
// (Snowflakes for messages, so they sort by time): compare them as numbers,
// not as text ("9" < "10").

import type { ConversationId, Message, UserId } from "@parley/client";

export function compareIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The 1:1 conversation of two users: `d:<lower id>:<higher id>`. */
export function directConversation(a: UserId, b: UserId): ConversationId {
  return compareIds(a, b) <= 0 ? `d:${a}:${b}` : `d:${b}:${a}`;
}

export type Parsed =
  | { kind: "direct"; users: [UserId, UserId] }
  | { kind: "group"; id: string }
  | { kind: "channel"; id: string };

export function parseConversation(id: ConversationId): Parsed | null {
  const parts = id.split(":");
  if (parts[0] === "d" && parts.length === 3) return { kind: "direct", users: [parts[1], parts[2]] };
  if (parts[0] === "g" && parts.length === 2) return { kind: "group", id: parts[1] };
  if (parts[0] === "c" && parts.length === 2) return { kind: "channel", id: parts[1] };
  return null;
}

/** The other user of a 1:1 conversation. */
export function peerOf(id: ConversationId, me: UserId): UserId | null {
  const p = parseConversation(id);
  if (p?.kind !== "direct") return null;
  return p.users[0] === me ? p.users[1] : p.users[0];
}

/** Whether `m` is the same message as `n`: the same id, or the same send. */
export function sameMessage(m: Message, n: Message): boolean {
  return m.message_id === n.message_id || (m.client_msg_id !== "" && m.client_msg_id === n.client_msg_id);
}
