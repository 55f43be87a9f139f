import { useState } from "preact/hooks";

import type { Chat } from "../chat";
import { describeError } from "../errors";

interface Props {
  chat: Chat;
  onBack(): void;
  onOpen(id: string): void;
}

type Kind = "direct" | "group" | "channel" | "join";

/** Start a 1:1, create a group or a channel, or join a channel by its id. */
export function NewConversation({ chat, onBack, onOpen }: Props) {
  const [kind, setKind] = useState<Kind>("direct");
  const [name, setName] = useState("");
  const [members, setMembers] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      let id: string;
      if (kind === "direct") id = await chat.startDirect(name);
      else if (kind === "group") id = await chat.createGroup(name, splitNames(members));
      else if (kind === "channel") id = await chat.createChannel(name);
      else id = await chat.joinChannel(name);
      setName("");
      setMembers("");
      onOpen(id);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  const labels: Record<Kind, [string, string, string]> = {
    direct: ["Message someone", "Username", "Open chat"],
    group: ["New group", "Group name", "Create group"],
    channel: ["New channel", "Channel name", "Create channel"],
    join: ["Join a channel", "Channel id", "Join"],
  };
  const [, fieldLabel, action] = labels[kind];

  return (
    <section class="panel" data-testid="new">
      <header class="chat-head">
        <button class="ghost back" onClick={onBack} aria-label="Back to conversations">
          ‹
        </button>
        <h2>New conversation</h2>
      </header>
      <div class="panel-body">
        <div class="segmented" role="tablist">
          {(Object.keys(labels) as Kind[]).map((k) => (
            <button
              key={k}
              role="tab"
              aria-selected={k === kind}
              class={k === kind ? "active" : ""}
              onClick={() => {
                setKind(k);
                setError(null);
              }}
              data-testid={`new-${k}`}
            >
              {labels[k][0]}
            </button>
          ))}
        </div>
        <form class="stack" onSubmit={submit}>
          <label>
            {fieldLabel}
            <input
              value={name}
              required
              autoCapitalize={kind === "direct" ? "none" : "sentences"}
              inputMode={kind === "join" ? "numeric" : undefined}
              onInput={(e) => setName(e.currentTarget.value)}
              data-testid="new-name"
            />
          </label>
          {kind === "group" && (
            <label>
              Members (usernames, separated by commas or spaces)
              <input
                value={members}
                autoCapitalize="none"
                onInput={(e) => setMembers(e.currentTarget.value)}
                data-testid="new-members"
              />
            </label>
          )}
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <button class="primary" disabled={busy} data-testid="new-submit">
            {busy ? "One moment…" : action}
          </button>
        </form>
      </div>
    </section>
  );
}

function splitNames(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}
