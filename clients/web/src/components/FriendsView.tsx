import { useState } from "preact/hooks";

import type { Chat } from "../chat";
import { attempt } from "../hooks";
import { directConversation } from "../ids";

interface Props {
  chat: Chat;
  onBack(): void;
  onOpen(id: string): void;
}

/** Friends with their presence, requests to answer, and a form to ask someone. */
export function FriendsView({ chat, onBack, onOpen }: Props) {
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [info, setInfo] = useState<string | null>(null);

  const add = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setInfo(null);
    const who = name.trim();
    await attempt(chat, async () => {
      const state = await chat.addFriend(who);
      setInfo(state === "friends" ? `You and ${who} are now friends.` : `Request sent to ${who}.`);
      setName("");
    });
    setBusy(false);
  };

  return (
    <section class="panel" data-testid="friends">
      <header class="chat-head">
        <button class="ghost back" onClick={onBack} aria-label="Back to conversations">
          ‹
        </button>
        <h2>Friends</h2>
      </header>
      <div class="panel-body">
        <form class="inline-form" onSubmit={add}>
          <input
            placeholder="Add a friend by username"
            aria-label="Username"
            autoCapitalize="none"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            data-testid="friend-name"
          />
          <button class="primary" disabled={busy || !name.trim()} data-testid="friend-add">
            Add
          </button>
        </form>
        {info && <p class="notice">{info}</p>}

        {chat.requests.length > 0 && (
          <>
            <h3>Requests</h3>
            <ul class="people">
              {chat.requests.map((r) => (
                <li key={r.user_id} data-testid="request">
                  <span class="person">{r.username}</span>
                  <button class="primary" onClick={() => attempt(chat, () => chat.accept(r.user_id))} data-testid="accept">
                    Accept
                  </button>
                  <button class="ghost" onClick={() => attempt(chat, () => chat.decline(r.user_id))}>
                    Decline
                  </button>
                </li>
              ))}
            </ul>
          </>
        )}

        <h3>Friends</h3>
        {chat.friends.length === 0 ? (
          <p class="muted">No friends yet. Add someone by their username.</p>
        ) : (
          <ul class="people">
            {chat.friends.map((f) => {
              const status = chat.statusOf(f.user_id) ?? f.status;
              return (
                <li key={f.user_id} data-testid="friend" data-username={f.username}>
                  <span class={`presence presence--${status}`} aria-hidden="true" />
                  <span class="person">
                    {f.username}
                    <span class="muted small" data-testid="friend-status">
                      {" "}
                      {status}
                    </span>
                  </span>
                  <button class="ghost" onClick={() => onOpen(directConversation(chat.me.id, f.user_id))}>
                    Message
                  </button>
                </li>
              );
            })}
          </ul>
        )}
      </div>
    </section>
  );
}
