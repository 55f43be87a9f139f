import { useEffect, useState } from "preact/hooks";

import type { Chat } from "./chat";

/** Re-renders the component whenever the chat's state changes. */
export function useChat(chat: Chat): void {
  const [, setVersion] = useState(0);
  useEffect(() => chat.subscribe(() => setVersion((n) => n + 1)), [chat]);
}

/** Runs `fn`, showing its error in the chat's error bar; whether it worked. */
export async function attempt(chat: Chat, fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (e) {
    chat.fail(e);
    return false;
  }
}
