import { useState } from "preact/hooks";

import type { Chat } from "../chat";
import { attempt, useChat } from "../hooks";
import { ChatView } from "./ChatView";
import { ConnectionBadge } from "./ConnectionBadge";
import { ConversationList } from "./ConversationList";
import { DevicesView } from "./DevicesView";
import { FriendsView } from "./FriendsView";
import { NewConversation } from "./NewConversation";
import { SearchPanel } from "./SearchPanel";

type Pane = "chat" | "friends" | "new" | "devices";

/** The logged-in app: the list on the left, the open pane on the right; on a phone, one at a time. */
export function Shell({ chat, onLogOut }: { chat: Chat; onLogOut(): void }) {
  useChat(chat);
  const [pane, setPane] = useState<Pane>("chat");
  const [query, setQuery] = useState("");
  const requests = chat.requests.length;

  const open = (id: string) => {
    setPane("chat");
    setQuery("");
    void chat.openConversation(id);
  };
  const back = () => {
    setPane("chat");
    void chat.openConversation(null);
  };
  // On a phone, the main pane covers the list while something is open.
  const mainShown = pane !== "chat" || chat.open !== null;

  return (
    <div class={`shell ${mainShown ? "shell--main" : "shell--list"}`}>
      <aside class="sidebar" aria-label="Conversations">
        <header class="sidebar-head">
          <div class="me">
            <span class="avatar" aria-hidden="true">
              {chat.me.username.slice(0, 1).toUpperCase()}
            </span>
            <div>
              <div class="me-name" data-testid="me">
                {chat.me.username}
              </div>
              <ConnectionBadge connection={chat.connection} />
            </div>
          </div>
          <button class="ghost" onClick={onLogOut} title="Log out of this device" data-testid="logout">
            Log out
          </button>
        </header>
        <nav class="sidebar-actions">
          <button class={pane === "new" ? "tab active" : "tab"} onClick={() => setPane("new")} data-testid="new-chat">
            + New
          </button>
          <button
            class={pane === "friends" ? "tab active" : "tab"}
            onClick={() => {
              setPane("friends");
              // Requests come with no event: look again on every visit.
              void attempt(chat, () => chat.loadFriends());
            }}
            data-testid="friends-tab"
          >
            Friends{requests > 0 && <span class="badge">{requests}</span>}
          </button>
          <button
            class={pane === "devices" ? "tab active" : "tab"}
            onClick={() => setPane("devices")}
            data-testid="devices-tab"
          >
            Devices
          </button>
        </nav>
        <div class="search">
          <input
            type="search"
            placeholder="Search messages"
            aria-label="Search messages"
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
          />
        </div>
        {query.trim() ? (
          <SearchPanel chat={chat} query={query} onOpen={open} />
        ) : (
          <ConversationList chat={chat} selected={pane === "chat" ? chat.open : null} onOpen={open} />
        )}
      </aside>
      <main class="main">
        {chat.error && (
          <div class="error-bar" role="alert" data-testid="error">
            <span>{chat.error}</span>
            <button class="ghost" onClick={() => chat.dismissError()} aria-label="Dismiss">
              ✕
            </button>
          </div>
        )}
        {pane === "friends" ? (
          <FriendsView chat={chat} onBack={back} onOpen={open} />
        ) : pane === "devices" ? (
          <DevicesView chat={chat} onBack={back} onLogOut={onLogOut} />
        ) : pane === "new" ? (
          <NewConversation chat={chat} onBack={back} onOpen={open} />
        ) : chat.open ? (
          <ChatView key={chat.open} chat={chat} id={chat.open} onBack={back} />
        ) : (
          <div class="empty">
            <p>Pick a conversation, or start one with “+ New”.</p>
          </div>
        )}
      </main>
    </div>
  );
}
