import type { Chat, Conversation } from "../chat";
import { peerOf } from "../ids";
import { Avatar } from "./Avatar";

interface Props {
  chat: Chat;
  selected: string | null;
  onOpen(id: string): void;
}

export function ConversationList({ chat, selected, onOpen }: Props) {
  const list = chat.sortedConversations();
  if (list.length === 0) {
    return <p class="list-empty muted">No conversations yet.</p>;
  }
  return (
    <ul class="conversations" data-testid="conversations">
      {list.map((c) => (
        <li key={c.id}>
          <button
            class={c.id === selected ? "conv active" : "conv"}
            onClick={() => onOpen(c.id)}
            data-testid="conversation"
            data-conversation={c.id}
            aria-current={c.id === selected ? "true" : undefined}
          >
            <Avatar chat={chat} id={c.id} />
            <span class="conv-text">
              <span class="conv-title">{chat.titleOf(c.id)}</span>
              {chat.typingIn(c.id).length > 0 ? (
                <span class="conv-last typing-now">typing…</span>
              ) : (
                <span class="conv-last">{preview(chat, c)}</span>
              )}
            </span>
            {c.unread > 0 && (
              <span class="badge" data-testid="unread" aria-label={`${c.unread} unread`}>
                {c.unread >= 1000 ? "999+" : c.unread}
              </span>
            )}
          </button>
        </li>
      ))}
    </ul>
  );
}

function preview(chat: Chat, c: Conversation): string {
  if (!c.last) return c.kind === "channel" ? "Channel: no messages yet" : c.kind === "group" ? "Group: no messages yet" : "";
  const who = c.last.from === chat.me.id ? "You: " : c.kind !== "direct" || !peerOf(c.id, chat.me.id) ? `${chat.nameOf(c.last.from)}: ` : "";
  // A tombstone: its sender's account was deleted.
  return who + (c.last.deleted ? "Message deleted" : (c.last.body ?? ""));
}
