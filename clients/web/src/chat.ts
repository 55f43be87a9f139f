// The app's state and everything it does over the SDK. One Chat per logged-in
// session: it owns the ParleyClient (connection, catch-up, retries), keeps
// what the screens show (conversations, messages, friends, presence, typing,
// receipts) and tells the views when any of it changed.

import {
  ParleyClient,
  ParleyError,
  ParleyHttp,
  newClientMsgId,
  type ConversationId,
  type ConversationKind,
  type Friend,
  type Message,
  type MessageId,
  type PendingFriendRequest,
  type PresenceStatus,
  type UserId,
} from "@parley/client";

import { describeError } from "./errors";
import { compareIds, directConversation, parseConversation, peerOf, sameMessage } from "./ids";
import type { StoredSession } from "./session";

export type Connection =
  | { state: "connecting" }
  | { state: "online" }
  | { state: "reconnecting"; retryAt: number }
  | { state: "closed"; reason?: string };

export interface Conversation {
  id: ConversationId;
  kind: ConversationKind;
  last: Message | null;
  unread: number;
}

/** A message on screen: stored (`pending` false) or still being sent. */
export interface ShownMessage extends Message {
  pending?: boolean;
  failed?: string;
}

export interface Thread {
  messages: ShownMessage[]; // oldest first
  /** History older than the first message may exist. */
  more: boolean;
  loading: boolean;
}

const HISTORY_PAGE = 30;
const TYPING_SHOWN_MS = 4000;
const TYPING_SENT_EVERY_MS = 2000;
const NAMES_KEY = "parley.names";

export class Chat {
  readonly me: { id: UserId; username: string };
  readonly http: ParleyHttp;
  readonly client: ParleyClient;

  connection: Connection = { state: "connecting" };
  conversations = new Map<ConversationId, Conversation>();
  threads = new Map<ConversationId, Thread>();
  friends: Friend[] = [];
  requests: PendingFriendRequest[] = [];
  presence = new Map<UserId, PresenceStatus>();
  /** Who is typing where, until when (ms). */
  typing = new Map<ConversationId, Map<UserId, number>>();
  /** How far each other member has read, per conversation. */
  receipts = new Map<ConversationId, Map<UserId, MessageId>>();
  /** The conversation on screen, if any. */
  open: ConversationId | null = null;
  error: string | null = null;

  private names: Record<string, string>;
  private roomNames: Record<string, string>;
  private listeners = new Set<() => void>();
  private lastTypingSent = new Map<ConversationId, number>();
  private readSent = new Map<ConversationId, MessageId>();
  private typingTimer: ReturnType<typeof setInterval>;

  constructor(server: string, session: StoredSession, onSessionEnd: (reason: string) => void) {
    this.me = { id: session.user_id, username: session.username };
    this.http = new ParleyHttp(server, { token: session.token });
    this.names = readJson(`${NAMES_KEY}.users`);
    this.roomNames = readJson(`${NAMES_KEY}.rooms.${session.user_id}`);
    this.names[this.me.id] = this.me.username;
    this.client = new ParleyClient({ server, token: session.token, deviceId: session.device_id, userId: session.user_id });

    const c = this.client;
    c.on("message", (ev) => {
      this.addMessage(ev.message, true);
      if (ev.seq !== undefined) c.ack(ev.seq); // shown: this device has it
    });
    c.on("presence", (ev) => {
      this.presence.set(ev.user, ev.status);
      const f = this.friends.find((x) => x.user_id === ev.user);
      if (f) f.status = ev.status;
      else void this.loadFriends().catch(() => {}); // a new friend: they accepted
      this.changed();
    });
    c.on("typing", (ev) => {
      if (ev.user === this.me.id) return;
      let who = this.typing.get(ev.conversation);
      if (!who) this.typing.set(ev.conversation, (who = new Map()));
      who.set(ev.user, Date.now() + TYPING_SHOWN_MS);
      this.changed();
    });
    c.on("receipt", (ev) => {
      if (ev.user === this.me.id) {
        // Read on this or another of my devices.
        const conv = this.conversations.get(ev.conversation);
        if (conv) conv.unread = 0;
      } else {
        let read = this.receipts.get(ev.conversation);
        if (!read) this.receipts.set(ev.conversation, (read = new Map()));
        const before = read.get(ev.user);
        if (!before || compareIds(before, ev.message_id) < 0) read.set(ev.user, ev.message_id);
      }
      this.changed();
    });
    c.on("open", () => {
      this.connection = { state: "connecting" };
      this.changed();
    });
    c.on("synced", () => {
      this.connection = { state: "online" };
      this.error = null;
      this.changed();
      // What happened while away: the list (unread counts, new rooms) and
      // the open thread's newest page. Channel messages are not in the
      // inbox, so sync does not bring them: other channels' threads are
      // dropped, to be loaded again when opened.
      for (const id of [...this.threads.keys()]) {
        if (id !== this.open && parseConversation(id)?.kind === "channel") this.threads.delete(id);
      }
      void this.refresh();
    });
    c.on("disconnected", (d) => {
      this.connection = d.willReconnect
        ? { state: "reconnecting", retryAt: Date.now() + (d.delayMs ?? 0) }
        : { state: "closed", reason: d.reason };
      this.changed();
    });
    c.on("closed", (ev) => {
      this.connection = { state: "closed", reason: ev.error?.message };
      this.changed();
      if (ev.error instanceof ParleyError && ev.error.code === "unauthorized") onSessionEnd("Your session has ended. Please log in again.");
    });

    this.typingTimer = setInterval(() => this.expireTyping(), 1000);
    document.addEventListener("visibilitychange", this.onVisibility);
  }

  // Messages that came while the tab was hidden were left unread: coming
  // back to the open conversation reads them.
  private onVisibility = () => {
    if (isVisible() && this.open) this.markRead(this.open);
  };

  // ---- lifecycle and change notification ------------------------------

  start(): void {
    this.client.connect().catch((e) => this.fail(e));
  }

  stop(): void {
    clearInterval(this.typingTimer);
    document.removeEventListener("visibilitychange", this.onVisibility);
    this.client.close();
    this.listeners.clear();
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  fail(e: unknown): void {
    this.error = describeError(e);
    this.changed();
  }

  dismissError(): void {
    this.error = null;
    this.changed();
  }

  // ---- names -----------------------------------------------------------

  nameOf(user: UserId): string {
    return this.names[user] ?? `user ${user}`;
  }

  private learnName(user: UserId, username: string): void {
    if (this.names[user] === username) return;
    this.names[user] = username;
    writeJson(`${NAMES_KEY}.users`, this.names);
  }

  /** A conversation's title: the other user, or the room's name where known. */
  titleOf(id: ConversationId): string {
    const peer = peerOf(id, this.me.id);
    if (peer) return this.nameOf(peer);
    const p = parseConversation(id);
    if (this.roomNames[id]) return this.roomNames[id];
    if (p?.kind === "group") return `Group ${p.id}`;
    if (p?.kind === "channel") return `Channel ${p.id}`;
    return id;
  }

  private nameRoom(id: ConversationId, name: string): void {
    this.roomNames[id] = name;
    writeJson(`${NAMES_KEY}.rooms.${this.me.id}`, this.roomNames);
  }

  async lookUp(username: string): Promise<UserId> {
    const name = username.trim().replace(/^@/, "").toLowerCase();
    try {
      const { user_id } = await this.http.userByName(name);
      this.learnName(user_id, name);
      return user_id;
    } catch (e) {
      if (e instanceof ParleyError && e.code === "not_found") throw new Error(`There is no user called “${name}”.`);
      throw e;
    }
  }

  // ---- conversations and messages ---------------------------------------

  /** Conversations, most recent first. */
  sortedConversations(): Conversation[] {
    return [...this.conversations.values()].sort((a, b) => {
      if (!a.last || !b.last) return a.last ? -1 : b.last ? 1 : 0;
      return compareIds(b.last.message_id, a.last.message_id);
    });
  }

  async refresh(): Promise<void> {
    try {
      const [{ conversations }] = await Promise.all([this.client.conversations(200), this.loadFriends()]);
      const seen = new Set<ConversationId>();
      for (const s of conversations) {
        seen.add(s.conversation);
        const conv = this.conversation(s.conversation, s.kind);
        if (s.last_message && (!conv.last || compareIds(conv.last.message_id, s.last_message.message_id) <= 0)) {
          conv.last = s.last_message;
        }
        conv.unread = s.conversation === this.open && isVisible() ? 0 : s.unread;
      }
      // Rooms left (here or on another device) go; a 1:1 opened but not yet
      // written to stays.
      for (const id of [...this.conversations.keys()]) {
        if (!seen.has(id) && parseConversation(id)?.kind !== "direct") this.conversations.delete(id);
      }
      this.changed();
      if (this.open) await this.loadNewest(this.open);
    } catch (e) {
      this.fail(e);
    }
  }

  private conversation(id: ConversationId, kind?: ConversationKind): Conversation {
    let conv = this.conversations.get(id);
    if (!conv) {
      conv = { id, kind: kind ?? parseConversation(id)?.kind ?? "direct", last: null, unread: 0 };
      this.conversations.set(id, conv);
    }
    return conv;
  }

  thread(id: ConversationId): Thread {
    let t = this.threads.get(id);
    if (!t) this.threads.set(id, (t = { messages: [], more: true, loading: false }));
    return t;
  }

  /** Puts a message in its thread (once) and the list; `live`: it just arrived. */
  private addMessage(m: Message, live: boolean): void {
    const conv = this.conversation(m.conversation, m.to && "channel" in m.to ? "channel" : undefined);
    // Only threads that were opened keep messages (the rest load their
    // newest page when opened): a new device's catch-up may be the whole
    // inbox.
    const t = this.threads.get(m.conversation);
    const known = t ? this.merge(t, m) : false;
    if (!known) {
      if (live && m.from !== this.me.id) {
        if (m.conversation === this.open && isVisible()) this.markRead(m.conversation);
        else conv.unread += 1;
      }
    }
    if (!conv.last || compareIds(conv.last.message_id, m.message_id) <= 0) conv.last = m;
    // A message ends its sender's typing.
    this.typing.get(m.conversation)?.delete(m.from);
    this.changed();
  }

  /** Opens a conversation: shows it, loads its newest page, marks it read. */
  async openConversation(id: ConversationId | null): Promise<void> {
    this.open = id;
    this.changed();
    if (!id) return;
    this.conversation(id);
    await this.loadNewest(id);
  }

  /** The newest page of a thread, merged with what is held. */
  private async loadNewest(id: ConversationId): Promise<void> {
    const t = this.thread(id);
    try {
      const { messages } = await this.client.history(id, { limit: HISTORY_PAGE });
      const hadNone = t.messages.filter((m) => !m.pending).length === 0;
      for (const m of messages) this.merge(t, m);
      if (hadNone) t.more = messages.length === HISTORY_PAGE;
      const newest = messages[0];
      if (newest) {
        const conv = this.conversation(id);
        if (!conv.last || compareIds(conv.last.message_id, newest.message_id) < 0) conv.last = newest;
      }
      this.changed();
      if (id === this.open) this.markRead(id);
    } catch (e) {
      if (e instanceof ParleyError && e.code === "forbidden") {
        this.conversations.delete(id); // no longer a member
        if (this.open === id) this.open = null;
      }
      this.fail(e);
    }
  }

  /** The page before the oldest message held; false when there is no more. */
  async loadOlder(id: ConversationId): Promise<boolean> {
    const t = this.thread(id);
    if (t.loading || !t.more) return false;
    const oldest = t.messages.find((m) => !m.pending);
    t.loading = true;
    this.changed();
    try {
      const { messages } = await this.client.history(id, { limit: HISTORY_PAGE, ...(oldest ? { before: oldest.message_id } : {}) });
      for (const m of messages) this.merge(t, m);
      t.more = messages.length === HISTORY_PAGE;
      return messages.length > 0;
    } catch (e) {
      this.fail(e);
      return false;
    } finally {
      t.loading = false;
      this.changed();
    }
  }

  /** Puts `m` in its place in `t`, replacing its pending send or an older copy; whether it was there. */
  private merge(t: Thread, m: Message): boolean {
    const i = t.messages.findIndex((x) => sameMessage(x, m));
    if (i >= 0) t.messages.splice(i, 1);
    insertSorted(t.messages, m);
    return i >= 0;
  }

  /** Tells the server (and so the sender) that the newest message is read. */
  markRead(id: ConversationId): void {
    const conv = this.conversations.get(id);
    const newest = [...this.thread(id).messages].reverse().find((m) => !m.pending);
    if (conv) conv.unread = 0;
    this.changed();
    if (!newest || this.readSent.get(id) === newest.message_id) return;
    this.readSent.set(id, newest.message_id);
    this.client.markRead(id, newest.message_id).catch((e) => {
      this.readSent.delete(id);
      if (!(e instanceof ParleyError && e.code === "forbidden")) this.fail(e);
    });
  }

  /** Sends `body`; it shows at once, marked as sending until the server has it. */
  async send(id: ConversationId, body: string): Promise<void> {
    const text = body.trim();
    if (!text) return;
    const to = this.recipientOf(id);
    if (!to) return this.fail(new Error("This conversation cannot be written to."));
    const clientMsgId = newClientMsgId();
    const pending: ShownMessage = {
      message_id: `~${clientMsgId}`,
      conversation: id,
      from: this.me.id,
      to,
      body: text,
      sent_at: Date.now(),
      client_msg_id: clientMsgId,
      pending: true,
    };
    const t = this.thread(id);
    t.messages.push(pending);
    this.lastTypingSent.delete(id);
    this.changed();
    try {
      const sent = await this.client.send(to, text, { clientMsgId });
      const { pending: _, ...fields } = pending;
      const stored: Message = { ...fields, message_id: sent.message_id, sent_at: sent.sent_at };
      const held = t.messages.find((m) => m.client_msg_id === clientMsgId);
      if (held?.pending) this.merge(t, stored); // else its event came first
      const conv = this.conversation(id);
      if (!conv.last || compareIds(conv.last.message_id, sent.message_id) < 0) conv.last = stored;
      this.changed();
    } catch (e) {
      const m = t.messages.find((x) => x.client_msg_id === clientMsgId);
      if (m) m.failed = describeError(e);
      this.fail(e);
    }
  }

  private recipientOf(id: ConversationId): Message["to"] | null {
    const p = parseConversation(id);
    if (!p) return null;
    if (p.kind === "direct") return { user: p.users[0] === this.me.id ? p.users[1] : p.users[0] };
    if (p.kind === "group") return { group: p.id };
    return { channel: p.id };
  }

  /** Lets the others know this user is typing, at most once per interval. */
  typed(id: ConversationId): void {
    const now = Date.now();
    if (now - (this.lastTypingSent.get(id) ?? 0) < TYPING_SENT_EVERY_MS) return;
    this.lastTypingSent.set(id, now);
    this.client.typing(id).catch(() => {}); // best effort: nothing to tell the user
  }

  typingIn(id: ConversationId): UserId[] {
    const now = Date.now();
    return [...(this.typing.get(id)?.entries() ?? [])].filter(([, until]) => until > now).map(([u]) => u);
  }

  private expireTyping(): void {
    const now = Date.now();
    let any = false;
    for (const who of this.typing.values()) {
      for (const [u, until] of who) {
        if (until <= now) {
          who.delete(u);
          any = true;
        }
      }
    }
    if (any) this.changed();
  }

  /** Who (other than me) has read up to my message `m` or later. */
  readBy(id: ConversationId, m: Message): UserId[] {
    const read = this.receipts.get(id);
    if (!read) return [];
    return [...read.entries()].filter(([, upTo]) => compareIds(upTo, m.message_id) >= 0).map(([u]) => u);
  }

  // ---- starting conversations, groups, channels --------------------------

  async startDirect(username: string): Promise<ConversationId> {
    const user = await this.lookUp(username);
    if (user === this.me.id) throw new Error("That is you: pick someone else.");
    const id = directConversation(this.me.id, user);
    this.conversation(id, "direct");
    return id;
  }

  async createGroup(name: string, usernames: string[]): Promise<ConversationId> {
    const members = await Promise.all(usernames.map((u) => this.lookUp(u)));
    const { conversation } = await this.client.createGroup(name.trim(), members.filter((m) => m !== this.me.id));
    this.nameRoom(conversation, name.trim());
    this.conversation(conversation, "group");
    this.thread(conversation).more = false;
    this.changed();
    return conversation;
  }

  async createChannel(name: string): Promise<ConversationId> {
    const { conversation } = await this.client.createChannel(name.trim());
    this.nameRoom(conversation, name.trim());
    this.conversation(conversation, "channel");
    this.thread(conversation).more = false;
    this.changed();
    return conversation;
  }

  async joinChannel(channelId: string): Promise<ConversationId> {
    const id = channelId.trim().replace(/^c:/, "");
    if (!/^\d+$/.test(id)) throw new Error("A channel id is a number, such as 42.");
    await this.client.channelJoin(id);
    const conversation = `c:${id}`;
    this.conversation(conversation, "channel");
    this.changed();
    return conversation;
  }

  async addMember(id: ConversationId, username: string): Promise<void> {
    const user = await this.lookUp(username);
    const p = parseConversation(id);
    if (p?.kind === "group") await this.client.groupAdd(p.id, user);
    else if (p?.kind === "channel") await this.client.channelJoin(p.id, user);
  }

  async leave(id: ConversationId): Promise<void> {
    const p = parseConversation(id);
    if (p?.kind === "group") await this.client.groupRemove(p.id);
    else if (p?.kind === "channel") await this.client.channelLeave(p.id);
    else return;
    this.conversations.delete(id);
    this.threads.delete(id);
    if (this.open === id) this.open = null;
    this.changed();
  }

  // ---- friends -----------------------------------------------------------

  async loadFriends(): Promise<void> {
    const { friends, requests } = await this.client.friends();
    this.friends = friends.sort((a, b) => a.username.localeCompare(b.username));
    this.requests = requests;
    for (const f of friends) {
      this.learnName(f.user_id, f.username);
      this.presence.set(f.user_id, f.status);
    }
    for (const r of requests) this.learnName(r.user_id, r.username);
    this.changed();
  }

  async addFriend(username: string): Promise<"pending" | "friends"> {
    const user = await this.lookUp(username);
    const { state } = await this.client.friendRequest(user);
    await this.loadFriends();
    return state;
  }

  async accept(user: UserId): Promise<void> {
    await this.client.friendAccept(user);
    await this.loadFriends();
  }

  async decline(user: UserId): Promise<void> {
    await this.client.friendRemove(user);
    await this.loadFriends();
  }

  statusOf(user: UserId): PresenceStatus | undefined {
    return this.presence.get(user);
  }

  async search(q: string): Promise<Message[]> {
    const { messages } = await this.client.search(q.trim(), { limit: 50 });
    return messages;
  }
}

function insertSorted(list: ShownMessage[], m: ShownMessage): void {
  // Pending sends stay at the end, in the order they were written.
  let i = list.length;
  while (i > 0 && (list[i - 1].pending || compareIds(list[i - 1].message_id, m.message_id) > 0)) i--;
  list.splice(i, 0, m);
}

function isVisible(): boolean {
  return typeof document === "undefined" || document.visibilityState !== "hidden";
}

function readJson(key: string): Record<string, string> {
  try {
    const v = JSON.parse(localStorage.getItem(key) ?? "{}");
    return v && typeof v === "object" ? v : {};
  } catch {
    return {};
  }
}

function writeJson(key: string, value: Record<string, string>): void {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Full or refused storage: names are a convenience.
  }
}
