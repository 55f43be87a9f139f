import { useEffect, useState } from "preact/hooks";
import type { Message } from "@parley/client";

import type { Chat } from "../chat";
import { describeError } from "../errors";

interface Props {
  chat: Chat;
  query: string;
  onOpen(id: string): void;
}

/** Messages matching the search box, newest first; a click opens the conversation. */
export function SearchPanel({ chat, query, onOpen }: Props) {
  const [results, setResults] = useState<Message[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    setError(null);
    // Wait for a pause in typing before asking.
    const t = setTimeout(async () => {
      try {
        const found = await chat.search(query);
        if (current) setResults(found);
      } catch (e) {
        if (current) setError(describeError(e));
      }
    }, 250);
    return () => {
      current = false;
      clearTimeout(t);
    };
  }, [query]);

  if (error) return <p class="list-empty error">{error}</p>;
  if (!results) return <p class="list-empty muted">Searching…</p>;
  if (results.length === 0) return <p class="list-empty muted">Nothing found.</p>;
  return (
    <ul class="conversations" data-testid="search-results">
      {results.map((m) => (
        <li key={m.message_id}>
          <button class="conv" onClick={() => onOpen(m.conversation)}>
            <span class="conv-text">
              <span class="conv-title">
                {chat.titleOf(m.conversation)} · {chat.nameOf(m.from)}
              </span>
              <span class="conv-last">{m.body}</span>
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}
