import { useLayoutEffect, useRef, useState } from "preact/hooks";

import type { Chat, ShownMessage } from "../chat";
import { attempt } from "../hooks";
import { parseConversation, peerOf } from "../ids";
import { Avatar } from "./Avatar";

interface Props {
  chat: Chat;
  id: string;
  onBack(): void;
}

/** One conversation: header, messages (older ones load on scrolling up), who is typing, the composer. */
export function ChatView({ chat, id, onBack }: Props) {
  const thread = chat.thread(id);
  const kind = parseConversation(id)?.kind ?? "direct";
  const peer = peerOf(id, chat.me.id);
  const typing = chat.typingIn(id);

  return (
    <section class="chat" aria-label={chat.titleOf(id)} data-testid="chat" data-conversation={id}>
      <header class="chat-head">
        <button class="ghost back" onClick={onBack} aria-label="Back to conversations">
          ‹
        </button>
        <Avatar chat={chat} id={id} />
        <div class="chat-title">
          <h2 data-testid="chat-title">{chat.titleOf(id)}</h2>
          <span class="muted small" data-testid="chat-subtitle">
            {peer ? describePresence(chat.statusOf(peer)) : roomLine(id)}
          </span>
        </div>
        {kind !== "direct" && <RoomActions chat={chat} id={id} />}
      </header>
      <MessageList chat={chat} id={id} messages={thread.messages} more={thread.more} loading={thread.loading} />
      <div class="typing" data-testid="typing" aria-live="polite">
        {typing.length > 0 && `${typing.map((u) => chat.nameOf(u)).join(", ")} ${typing.length > 1 ? "are" : "is"} typing…`}
      </div>
      <Composer chat={chat} id={id} />
    </section>
  );
}

function describePresence(status: string | undefined): string {
  if (status === "online") return "online";
  if (status === "away") return "away";
  if (status === "offline") return "offline";
  return "add them as a friend to see when they are online";
}

function roomLine(id: string): string {
  const p = parseConversation(id);
  if (p?.kind === "group") return `Group · id ${p.id}`;
  if (p?.kind === "channel") return `Channel · id ${p.id} (others join with this id)`;
  return "";
}

function MessageList({ chat, id, messages, more, loading }: { chat: Chat; id: string; messages: ShownMessage[]; more: boolean; loading: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  // Where the view was before a render: at the bottom (follow new
  // messages), or some way up (keep the same messages in view when older
  // ones are put above).
  const before = useRef({ atBottom: true, height: 0, top: 0, first: "" });
  const group = id.startsWith("g:") || id.startsWith("c:");

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const b = before.current;
    const first = messages[0]?.message_id ?? "";
    if (b.first && first !== b.first && !b.atBottom) {
      el.scrollTop = b.top + (el.scrollHeight - b.height); // older messages came in above
    } else if (b.atBottom) {
      el.scrollTop = el.scrollHeight;
    }
    before.current = { atBottom: nearBottom(el), height: el.scrollHeight, top: el.scrollTop, first };
    // A page that does not fill the view cannot be scrolled up: load more now.
    if (more && !loading && el.scrollHeight <= el.clientHeight && messages.length > 0) void chat.loadOlder(id);
  }, [messages.length, messages[0]?.message_id, messages[messages.length - 1]?.message_id]);

  const onScroll = () => {
    const el = box.current!;
    before.current = { ...before.current, atBottom: nearBottom(el), height: el.scrollHeight, top: el.scrollTop };
    if (el.scrollTop < 80 && more && !loading) void chat.loadOlder(id);
  };

  // My newest message that someone has read carries "Seen by …".
  const mine = messages.filter((m) => m.from === chat.me.id && !m.pending);
  let seen: { id: string; by: string[] } | null = null;
  for (let i = mine.length - 1; i >= 0; i--) {
    const by = chat.readBy(id, mine[i]);
    if (by.length > 0) {
      seen = { id: mine[i].message_id, by };
      break;
    }
  }

  return (
    <div class="messages" ref={box} onScroll={onScroll} data-testid="messages">
      {loading && <div class="muted center small">Loading earlier messages…</div>}
      {!more && messages.length > 0 && <div class="muted center small">This is the beginning.</div>}
      {messages.length === 0 && !more && <div class="muted center">No messages yet. Say hello!</div>}
      {messages.map((m, i) => {
        const own = m.from === chat.me.id;
        const showName = group && !own && messages[i - 1]?.from !== m.from;
        return (
          <div key={m.client_msg_id || m.message_id} class={own ? "msg own" : "msg"} data-testid="message" data-message-id={m.message_id}>
            {showName && <div class="msg-from">{chat.nameOf(m.from)}</div>}
            <div class="bubble">
              <span class="msg-body" data-testid="message-body">
                {m.deleted ? <em class="muted">Message deleted</em> : m.body}
              </span>
              <span class="msg-meta">
                {time(m.sent_at)}
                {own && m.pending && !m.failed && " · sending…"}
                {own && m.failed && <span class="failed"> · not sent</span>}
              </span>
            </div>
            {seen?.id === m.message_id && (
              <div class="seen" data-testid="seen">
                Seen{group ? ` by ${seen.by.map((u) => chat.nameOf(u)).join(", ")}` : ""}
              </div>
            )}
          </div>
        );
      })}
    </div>
  );
}

function nearBottom(el: HTMLElement): boolean {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 60;
}

function time(ms: number): string {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function Composer({ chat, id }: { chat: Chat; id: string }) {
  const [text, setText] = useState("");
  const submit = (e: Event) => {
    e.preventDefault();
    if (!text.trim()) return;
    void chat.send(id, text);
    setText("");
  };
  return (
    <form class="composer" onSubmit={submit}>
      <textarea
        rows={1}
        placeholder="Write a message"
        aria-label="Message"
        data-testid="composer"
        value={text}
        maxLength={16000}
        onInput={(e) => {
          setText(e.currentTarget.value);
          if (e.currentTarget.value) chat.typed(id);
        }}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) submit(e);
        }}
      />
      <button type="submit" class="primary" data-testid="send" disabled={!text.trim()}>
        Send
      </button>
    </form>
  );
}

function RoomActions({ chat, id }: { chat: Chat; id: string }) {
  const [adding, setAdding] = useState(false);
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);

  const add = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const ok = await attempt(chat, () => chat.addMember(id, name));
    setBusy(false);
    if (ok) {
      setName("");
      setAdding(false);
    }
  };
  const leave = async () => {
    if (!confirm(`Leave ${chat.titleOf(id)}?`)) return;
    await attempt(chat, () => chat.leave(id));
  };

  return (
    <div class="room-actions">
      {adding ? (
        <form onSubmit={add} class="inline-form">
          <input
            placeholder="username"
            aria-label="Username to add"
            value={name}
            autoFocus
            autoCapitalize="none"
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <button class="primary" disabled={busy || !name.trim()}>
            Add
          </button>
          <button type="button" class="ghost" onClick={() => setAdding(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <>
          <button class="ghost" onClick={() => setAdding(true)} data-testid="add-member">
            Add
          </button>
          <button class="ghost danger" onClick={leave} data-testid="leave">
            Leave
          </button>
        </>
      )}
    </div>
  );
}
