// The wire types of the Parley protocol (docs/PROTOCOL.md; its JSON Schema
// is protocol/parley.schema.json). Field names are the
// wire's own, so a frame can be read and written without translation.

import type { ProtocolError } from "./errors.js";

/** Ids (users, devices, messages, groups, channels) are strings on the wire. */
export type UserId = string;
export type MessageId = string;
export type GroupId = string;
export type ChannelId = string;
/** An opaque name of a 1:1 pair, a group or a channel. */
export type ConversationId = string;
/** A request id, echoed as sent in its reply's `re`. */
export type RequestId = string | number;

export type Recipient = { user: UserId } | { group: GroupId } | { channel: ChannelId };

export interface Message {
  message_id: MessageId;
  conversation: ConversationId;
  from: UserId;
  to: Recipient;
  /** Absent on a tombstone (`deleted`); present on every other message. */
  body?: string;
  /** Milliseconds since the Unix epoch. */
  sent_at: number;
  client_msg_id: string;
  /**
   * Present, and true, only on a tombstone: an administrator deleted the
   * sender's account and the body is erased; the message keeps its place
   * (docs/PROTOCOL.md, "Objects").
   */
  deleted?: true;
}

export interface InboxEntry {
  seq: number;
  message: Message;
}

export type ConversationKind = "direct" | "group" | "channel";

export interface ConversationSummary {
  conversation: ConversationId;
  kind: ConversationKind;
  /** null for a room with no message yet. */
  last_message: Message | null;
  unread: number;
}

export type PresenceStatus = "online" | "away" | "offline";
export type Role = "owner" | "admin" | "member";
export type PushPlatform = "apns" | "fcm";

export interface Friend {
  user_id: UserId;
  username: string;
  status: PresenceStatus;
  /** 0 for a user never seen online. */
  last_seen: number;
}

export interface PendingFriendRequest {
  user_id: UserId;
  username: string;
}

type Empty = Record<never, never>;

/** Every WebSocket op: its request fields and its successful reply's fields. */
export interface Ops {
  send: {
    request: { to: Recipient; client_msg_id: string; body: string; from?: UserId };
    reply: { message_id: MessageId; conversation: ConversationId; sent_at: number };
  };
  sync: {
    /** `after` absent: from this device's stored cursor; 0: from the start. */
    request: { after?: number; limit?: number };
    reply: { entries: InboxEntry[]; more: boolean };
  };
  ack: { request: { seq: number }; reply: { cursor: number } };
  history: {
    request: { conversation: ConversationId; before?: MessageId; limit?: number };
    /** Newest first. */
    reply: { messages: Message[] };
  };
  conversations: { request: { limit?: number }; reply: { conversations: ConversationSummary[] } };
  ping: { request: Empty; reply: Empty };
  presence: {
    request: { status: "online" | "away" };
    reply: { heartbeat_ms: number; ttl_ms: number };
  };
  friend_request: { request: { user: UserId }; reply: { state: "pending" | "friends" } };
  friend_accept: { request: { user: UserId }; reply: Empty };
  friend_remove: { request: { user: UserId }; reply: Empty };
  block: { request: { user: UserId }; reply: Empty };
  unblock: { request: { user: UserId }; reply: Empty };
  friends: { request: Empty; reply: { friends: Friend[]; requests: PendingFriendRequest[] } };
  group_create: {
    request: { name: string; members: UserId[] };
    reply: { group_id: GroupId; conversation: ConversationId };
  };
  group_add: { request: { group: GroupId; user: UserId }; reply: Empty };
  /** Without `user`: leave the group. */
  group_remove: { request: { group: GroupId; user?: UserId }; reply: Empty };
  group_role: { request: { group: GroupId; user: UserId; role: Role }; reply: Empty };
  channel_create: {
    request: { name: string; post?: "everyone" | "admins"; private?: boolean };
    reply: { channel_id: ChannelId; conversation: ConversationId };
  };
  channel_join: { request: { channel: ChannelId; user?: UserId }; reply: Empty };
  channel_leave: { request: { channel: ChannelId; user?: UserId }; reply: Empty };
  channel_role: { request: { channel: ChannelId; user: UserId; role: Role }; reply: Empty };
  read: { request: { conversation: ConversationId; message_id: MessageId }; reply: Empty };
  typing: { request: { conversation: ConversationId }; reply: Empty };
  push_register: { request: { platform: PushPlatform; token: string }; reply: Empty };
  search: {
    request: { q: string; conversation?: ConversationId; limit?: number };
    /** Newest first. */
    reply: { messages: Message[] };
  };
}

export type Op = keyof Ops;
export type RequestFields<K extends Op> = Ops[K]["request"];
export type ReplyFields<K extends Op> = Ops[K]["reply"];

/** A request frame, discriminated by `op`. */
export type RequestFrame = { [K in Op]: { op: K; id: RequestId } & RequestFields<K> }[Op];

/** A reply frame to a request of op K. */
export type ReplyFrame<K extends Op = Op> =
  | ({ re: RequestId; ok: true } & ReplyFields<K>)
  | { re: RequestId; ok: false; error: ProtocolError };

/** A new inbox entry (`seq` present) or a channel message (no `seq`). */
export interface MessageEvent {
  ev: "message";
  seq?: number;
  message: Message;
}

export interface PresenceEvent {
  ev: "presence";
  user: UserId;
  status: PresenceStatus;
  last_seen: number;
}

export interface ReceiptEvent {
  ev: "receipt";
  conversation: ConversationId;
  user: UserId;
  message_id: MessageId;
}

export interface TypingEvent {
  ev: "typing";
  conversation: ConversationId;
  user: UserId;
}

/** A frame the server could not read as a request. */
export interface ErrorEvent {
  ev: "error";
  error: ProtocolError;
}

/** Every server-initiated event, discriminated by `ev`. */
export type ServerEvent = MessageEvent | PresenceEvent | ReceiptEvent | TypingEvent | ErrorEvent;
export type EventName = ServerEvent["ev"];
export type EventOf<E extends EventName> = Extract<ServerEvent, { ev: E }>;

/** Any frame the server sends on the WebSocket. */
export type ServerFrame = ReplyFrame | ServerEvent;

// ---- HTTP ------------------------------------------------------------------

export interface Session {
  token: string;
  user_id: UserId;
  device_id: string;
}

/** One logged-in device of the user (GET /v1/sessions). */
export interface DeviceSession {
  device_id: string;
  /** When its earliest live session logged in, ms since the epoch. */
  created_at: number;
  /** When it was last used, as the server wrote it (at most hourly). */
  last_used_at: number;
  /** The device of the token that asked. */
  current: boolean;
}

export interface UserInfo {
  user_id: UserId;
  username: string;
}

export interface ServerInfo {
  server_id: string;
  /** HOST:PORT */
  endpoint: string;
  /** ws://HOST:PORT/v1/ws */
  url: string;
  load: number;
}

export interface Readiness {
  ready: boolean;
  reasons?: string[];
}

export interface VersionInfo {
  version: string;
  commit: string;
  build_type: string;
}
